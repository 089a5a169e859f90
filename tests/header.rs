//! The committed header is what cbindgen generates, and it compiles alone as
//! C99 and as C++17 with every warning an error.

use std::path::Path;
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn committed_header_matches_cbindgen_output() {
    let committed = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("include/sqlpool.h"))
        .expect("include/sqlpool.h is committed");
    assert!(
        committed == sqlpool::GENERATED_HEADER,
        "include/sqlpool.h differs from what cbindgen generates from src/ffi.\n\
         Regenerate it with: SQLPOOL_UPDATE_HEADER=1 cargo build"
    );
}

fn compile_alone(compiler: &str, std: &str, ext: &str) {
    let dir = std::env::temp_dir().join(format!("sqlpool-header-{}-{ext}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("alone.{ext}"));
    std::fs::write(&src, "#include \"sqlpool.h\"\nint main(void) { return SQLPOOL_OK; }\n").unwrap();
    let out = Command::new(compiler)
        .args([
            &format!("-std={std}"),
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            "-I",
        ])
        .arg(Path::new(MANIFEST_DIR).join("include"))
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{compiler} -std={std} rejects the header:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_compiles_alone_as_c99() {
    compile_alone("cc", "c99", "c");
}

#[test]
fn header_compiles_alone_as_cxx17() {
    compile_alone("c++", "c++17", "cpp");
}

#[test]
fn header_version_macros_match_the_library() {
    let number = sqlpool::ffi::error::sqlpool_version_number();
    assert!(sqlpool::GENERATED_HEADER.contains(&format!("#define SQLPOOL_VERSION_NUMBER {number}\n")));
    assert!(sqlpool::GENERATED_HEADER.contains(&format!("#define SQLPOOL_VERSION \"{}\"", env!("CARGO_PKG_VERSION"))));
}
