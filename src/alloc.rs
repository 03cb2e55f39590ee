//! The binary's allocator, chosen once before `main` by the subcommand.
//!
//! mimalloc for the commands that run the model and the judge (`trace`, `run`, `check`),
//! where it makes the scenario set about a fifth faster (BENCHMARKS.md); the C library's
//! malloc for the live commands (`unshare`, `nsenter`, `clone`), which allocate a few
//! kilobytes and then execute a program: there mimalloc's first allocation, which reserves
//! and zeroes a fresh arena (a transparent huge page here), cost about 0.5 ms of a 3 ms run
//! (BENCHMARKS.md, "Live commands"). Neither starts a thread.
//!
//! The choice is made from `argv[1]` by a function in `.init_array`, which the C library
//! runs with `(argc, argv, envp)` before `main` and before the Rust runtime allocates
//! anything; it never changes afterwards, so every block is freed by the allocator that
//! made it. Where the C library does not pass the arguments (not glibc), it stays mimalloc.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set before `main` for the live commands; never changed afterwards.
static SYSTEM: AtomicBool = AtomicBool::new(false);

/// The live commands, which use the C library's allocator.
const LIVE: [&[u8]; 3] = [b"unshare", b"nsenter", b"clone"];

/// The allocator of the `nslab` binary.
pub struct Chosen;

fn system() -> bool {
    SYSTEM.load(Ordering::Relaxed)
}

// SAFETY: every call goes to one of two sound allocators, and always the same one for the
// whole process (the flag is fixed before the first allocation), so a block is always
// freed or grown by the allocator that made it.
unsafe impl GlobalAlloc for Chosen {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe {
            if system() {
                System.alloc(layout)
            } else {
                mimalloc::MiMalloc.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe {
            if system() {
                System.alloc_zeroed(layout)
            } else {
                mimalloc::MiMalloc.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees, to the allocator that made `ptr`.
        unsafe {
            if system() {
                System.dealloc(ptr, layout)
            } else {
                mimalloc::MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees, to the allocator that made `ptr`.
        unsafe {
            if system() {
                System.realloc(ptr, layout, new_size)
            } else {
                mimalloc::MiMalloc.realloc(ptr, layout, new_size)
            }
        }
    }
}

/// Run by the C library before `main` with the program's arguments.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn choose(
    argc: CInt,
    argv: *const *const std::ffi::c_char,
    _envp: *const *const std::ffi::c_char,
) {
    if argc < 2 || argv.is_null() {
        return;
    }
    // SAFETY: glibc passes the process's argv, argc entries long, each a NUL-terminated
    // string, to every `.init_array` function.
    let first = unsafe {
        let p = *argv.add(1);
        if p.is_null() {
            return;
        }
        std::ffi::CStr::from_ptr(p)
    };
    if LIVE.contains(&first.to_bytes()) {
        SYSTEM.store(true, Ordering::Relaxed);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type CInt = std::ffi::c_int;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".init_array"]
static CHOOSE: extern "C" fn(CInt, *const *const std::ffi::c_char, *const *const std::ffi::c_char) =
    choose;
