//! Link options of the `nslab` binary, for its start-up time (BENCHMARKS.md, "Live
//! commands"): the live commands run a program in a few milliseconds, and what a process does
//! before `main` is a visible part of that.
//!
//! - Without PIE and lazily bound: no run-time relocation of the binary's own pointers and
//!   no resolution of every imported symbol at start-up.
//! - The unwinder from the static `libgcc_eh.a` instead of the shared `libgcc_s.so.1`:
//!   loading the latter runs its CPU-feature probe (`__cpu_indicator_init`, a dozen `cpuid`
//!   instructions, each a trap to the hypervisor on a virtual machine), about 0.15 ms here.
//!   Panics unwind as before. Used only where the C compiler has the archive.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    println!("cargo:rustc-link-arg-bin=nslab=-no-pie");
    println!("cargo:rustc-link-arg-bin=nslab=-Wl,-z,lazy");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let found = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| p.starts_with('/') && std::path::Path::new(p).exists());
    if let Some(path) = found {
        let dir = std::path::Path::new(&path)
            .parent()
            .expect("an absolute path has a parent");
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static=gcc_eh");
    }
}
