//! Generates the C header from the `extern "C"` functions in `src/ffi/` with cbindgen.
//!
//! The header is written to `$OUT_DIR/res_prom_rs.h` on every build; `make header` copies it to
//! `include/res_prom_rs.h`, which is committed, and `make test` fails when the committed copy is stale.

fn main() {
    // A Rust cdylib has thread-local destructors and a panic hook registered with libc/libstd, so it must never be
    // unmapped while a host process lives; -z nodelete makes dlclose() keep it mapped (statics are reset by
    // prom_rs_core_start instead).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/selfmetrics.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            bindings.write_to_file(format!("{out_dir}/res_prom_rs.h"));
        }
        Err(e) => {
            // A syntax error in src/ is reported by rustc with a better message; don't mask it here.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
        }
    }
}
