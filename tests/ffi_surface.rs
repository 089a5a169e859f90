//! The exported surface: every exported function runs inside the panic
//! boundary, and the shared library exports nothing but `sqlpool_*` (the
//! bundled SQLite stays hidden).

use std::path::{Path, PathBuf};
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Helpers in src/ffi that run their closure inside `error::call` or
/// `error::value`; an exported body must start with one of them.
const BOUNDARY_CALLS: [&str; 5] = ["call(", "value(", "set(", "bind(", "column("];

struct Exported {
    file: String,
    name: String,
    first_statement: String,
}

fn exported_functions() -> Vec<Exported> {
    let mut found = Vec::new();
    let dir = Path::new(MANIFEST_DIR).join("src/ffi");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let body_start = after.find('{').expect("a body");
            let first_statement = after[body_start + 1..]
                .trim_start()
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            let exported = rest[..at].trim_end().ends_with("pub") || rest[..at].trim_end().ends_with("pub unsafe");
            if exported {
                found.push(Exported {
                    file: path.file_name().unwrap().to_string_lossy().into_owned(),
                    name,
                    first_statement,
                });
            }
            rest = after;
        }
    }
    found
}

#[test]
fn every_exported_function_runs_inside_the_panic_boundary() {
    let functions = exported_functions();
    assert!(
        functions.len() >= 45,
        "found only {} exported functions",
        functions.len()
    );
    let missing: Vec<_> = functions
        .iter()
        .filter(|f| !BOUNDARY_CALLS.iter().any(|b| f.first_statement.starts_with(b)))
        .map(|f| format!("{}: {} starts with `{}`", f.file, f.name, f.first_statement))
        .collect();
    assert!(
        missing.is_empty(),
        "exported functions without the panic boundary:\n{}",
        missing.join("\n")
    );
    // The helpers themselves must enter the boundary.
    let text = |f: &str| std::fs::read_to_string(Path::new(MANIFEST_DIR).join("src/ffi").join(f)).unwrap();
    for (file, helper) in [
        ("options.rs", "fn set("),
        ("stmt.rs", "fn bind("),
        ("stmt.rs", "fn column<"),
    ] {
        let src = text(file);
        let body = &src[src.find(helper).unwrap_or_else(|| panic!("{helper} in {file}"))..];
        let body = &body[body.find('{').unwrap() + 1..];
        let first = body.trim_start();
        assert!(
            first.starts_with("call(") || first.starts_with("value("),
            "{file}: {helper} does not enter the boundary first"
        );
    }
    for f in &functions {
        assert!(
            f.name.starts_with("sqlpool_"),
            "{} in {} is exported without the prefix",
            f.name,
            f.file
        );
    }
}

fn built_library() -> PathBuf {
    // <target>/<profile>/deps/<this test>: the cdylib is in deps/ too.
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("libsqlpool.so")
}

#[test]
fn the_shared_library_exports_only_sqlpool_symbols() {
    let lib = built_library();
    assert!(lib.exists(), "{} was not built", lib.display());
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm runs");
    assert!(out.status.success());
    let symbols: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    let foreign: Vec<_> = symbols.iter().filter(|s| !s.starts_with("sqlpool_")).collect();
    assert!(foreign.is_empty(), "exported symbols outside the API: {foreign:?}");
    let exported = exported_functions().len();
    assert_eq!(
        symbols.len(),
        exported,
        "every exported function, and only those, is in the library"
    );
}
