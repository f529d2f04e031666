//! Gives libmesh.so its soname (libmesh.so.<major>), so hosts link against
//! the ABI major version rather than a file name.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmesh.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
