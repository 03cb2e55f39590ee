//! `pow`, the one function the binary took from the C library's `libm.so.6`.
//!
//! indicatif (the progress bar of `nslab check`) computes its rate estimate with `f64::powf`,
//! which is a call to the C `pow`; that one call made every `nslab` process load and
//! relocate `libm.so.6` at start-up (its CPU-feature selectors included), about 0.05 ms of a
//! live command's 3 ms (BENCHMARKS.md, "Live commands"). Defined here, from the pure-Rust
//! port of musl's libm, the linker resolves the call to it and the binary no longer needs
//! `libm.so.6`. Only this binary has it: the libraries and tests use the C library's.

/// The C library's `double pow(double x, double y)`, for the calls made from this binary.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}
