//! Generates the C header with cbindgen into OUT_DIR (a test compares it with
//! the committed include/sqlpool.h), and sets the Linux soname.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=SQLPOOL_UPDATE_HEADER");

    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsqlpool.so.{major}");
    }

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).unwrap();
    let (major, minor, patch) = (version("MAJOR"), version("MINOR"), version("PATCH"));
    let number = major.parse::<u32>().unwrap() * 1_000_000
        + minor.parse::<u32>().unwrap() * 1_000
        + patch.parse::<u32>().unwrap();
    config.after_includes = Some(format!(
        "\n#define SQLPOOL_VERSION_MAJOR {major}\n#define SQLPOOL_VERSION_MINOR {minor}\n#define SQLPOOL_VERSION_PATCH {patch}\n\
         #define SQLPOOL_VERSION \"{major}.{minor}.{patch}\"\n#define SQLPOOL_VERSION_NUMBER {number}\n"
    ));
    // Only the ffi module is the C API; cbindgen follows its `mod` lines.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen could not generate the header");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("sqlpool.h");
    bindings.write_to_file(&out);
    // An explicit request (never a normal build) refreshes the committed copy.
    if env::var_os("SQLPOOL_UPDATE_HEADER").is_some() {
        std::fs::create_dir_all(crate_dir.join("include")).unwrap();
        std::fs::copy(&out, crate_dir.join("include/sqlpool.h")).unwrap();
    }
}
