//! Builds each C test in `c_tests/c/` against `include/sqlpool.h` and the
//! cdylib cargo built for this test run, runs it in a fresh temporary
//! directory, and requires exit status 0.
//!
//! The C tests are plain C99 programs (`-std=c99 -Wall -Wextra -Werror`), so
//! this also proves the header compiles cleanly for a C consumer. Set `CC` to
//! use another compiler than `cc`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The C tests this file runs, one `#[test]` each.
const C_TESTS: &[&str] = &[
    "test_api",
    "test_functions",
    "test_interrupt",
    "test_misuse",
    "test_observe",
    "test_threads",
];

/// A C test that runs longer than this is killed and fails (a deadlock must
/// not hang `cargo test`).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `<target>/<profile>`: this test binary is `<target>/<profile>/deps/c_api-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary has a parent directory");
    assert_eq!(
        deps.file_name().and_then(|n| n.to_str()),
        Some("deps"),
        "expected the test binary in <target>/<profile>/deps, found {}",
        exe.display()
    );
    deps.parent().expect("deps has a parent directory").to_path_buf()
}

/// The `libsqlpool` shared library cargo built for this run.
///
/// `<profile>/deps/` first: cargo writes the cdylib there whenever it builds
/// the library, but copies it up to `<profile>/` only for `cargo build`, not
/// when it builds the library as a dependency of this test; after
/// `cargo test` alone, `<profile>/libsqlpool.so` can be an older build.
fn built_library() -> PathBuf {
    let profile = profile_dir();
    let name = shared_library_name();
    for dir in [profile.join("deps"), profile.clone()] {
        let lib = dir.join(&name);
        if lib.is_file() {
            return lib;
        }
    }
    panic!(
        "{name} not found in {} or its deps/ directory: is crate-type \"cdylib\" still in Cargo.toml?",
        profile.display()
    );
}

/// A private library directory for one C test: `libsqlpool.so` and its
/// soname (`libsqlpool.so.<major>`, set by build.rs) both point at the
/// library cargo just built. The C test links against it and finds it at run
/// time through its rpath, so no other copy (an older `libsqlpool.so.0` in
/// the target directory, found through the `LD_LIBRARY_PATH` cargo sets, or
/// an installed one) can stand in for it.
fn private_library_dir(work: &Path) -> PathBuf {
    let built = built_library();
    let built = built.canonicalize().unwrap_or(built);
    let dir = work.join("lib");
    fs::create_dir_all(&dir).expect("create private lib dir");
    let name = shared_library_name();
    let mut names = vec![name.clone()];
    if cfg!(target_os = "linux") {
        names.push(format!("{name}.{}", env!("CARGO_PKG_VERSION_MAJOR")));
    }
    for n in names {
        link_or_copy(&built, &dir.join(n));
    }
    dir
}

#[cfg(unix)]
fn link_or_copy(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to)
        .unwrap_or_else(|e| panic!("cannot link {} -> {}: {e}", to.display(), from.display()));
}

#[cfg(not(unix))]
fn link_or_copy(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
}

fn shared_library_name() -> String {
    format!(
        "{}sqlpool{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// A new, empty directory of its own for one C test.
fn fresh_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("sqlpool-c-{name}-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn compile(name: &str, work: &Path) -> PathBuf {
    let root = manifest_dir();
    let source = root.join("c_tests").join("c").join(format!("{name}.c"));
    assert!(source.is_file(), "missing C test {}", source.display());
    let include = root.join("include");
    assert!(
        include.join("sqlpool.h").is_file(),
        "missing {}: the C tests build against the committed header",
        include.join("sqlpool.h").display()
    );
    let lib_dir = private_library_dir(work);
    let binary = work.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());

    let mut cmd = Command::new(&cc);
    cmd.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pthread", "-g"])
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lsqlpool")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()));
    if cfg!(target_os = "linux") {
        // DT_RPATH, searched before LD_LIBRARY_PATH (DT_RUNPATH is after it).
        cmd.arg("-Wl,--disable-new-dtags");
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        output.status.success(),
        "compiling {} failed ({}):\n{:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        source.display(),
        output.status,
        cmd,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

/// Compiles `c_tests/c/<name>.c`, runs it in a fresh directory (also its
/// TMPDIR) and asserts that it exits with status 0.
fn run_c_test(name: &str) {
    let work = fresh_dir(name);
    let binary = compile(name, &work);
    let run_dir = work.join("run");
    fs::create_dir(&run_dir).expect("create run dir");
    let stdout_path = work.join("stdout.txt");
    let stderr_path = work.join("stderr.txt");

    // Output goes to files, not pipes, so that a chatty test cannot block
    // on a full pipe while we wait for it.
    let mut child = Command::new(&binary)
        .current_dir(&run_dir)
        .env("TMPDIR", &run_dir)
        // cargo puts the target directory on the library path; the C test
        // must load the library its rpath names, nothing else.
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("create stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for C test") {
            break Some(status);
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };

    let stdout = read_lossy(&stdout_path);
    let stderr = read_lossy(&stderr_path);
    match status {
        Some(status) if status.success() => {
            let closing = format!("{name}: ");
            assert!(
                stdout.lines().any(|l| l.starts_with(&closing) && l.ends_with(" passed, 0 failed")),
                "{name} exited 0 without its closing line `{name}: N passed, 0 failed`:\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
            );
            print!("{stdout}");
            eprint!("{stderr}");
            let _ = fs::remove_dir_all(&work);
        }
        Some(status) => panic!(
            "{name} failed ({status}); files kept in {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            work.display()
        ),
        None => panic!(
            "{name} did not finish within {RUN_TIMEOUT:?} and was killed; files kept in {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            work.display()
        ),
    }
}

#[test]
fn c_test_api() {
    run_c_test("test_api");
}

#[test]
fn c_test_functions() {
    run_c_test("test_functions");
}

#[test]
fn c_test_misuse() {
    run_c_test("test_misuse");
}

#[test]
fn c_test_interrupt() {
    run_c_test("test_interrupt");
}

#[test]
fn c_test_observe() {
    run_c_test("test_observe");
}

#[test]
fn c_test_threads() {
    run_c_test("test_threads");
}

/// A new `c_tests/c/*.c` must get its `#[test]` above, or it would never run.
#[test]
fn every_c_test_file_is_run() {
    let dir = manifest_dir().join("c_tests").join("c");
    let mut found: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("c"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .collect();
    found.sort();
    let mut listed: Vec<String> = C_TESTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "c_tests/c/*.c and C_TESTS in tests/c_api.rs differ");
}
