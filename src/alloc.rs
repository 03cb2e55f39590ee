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
    let live = argc >= 2 && !argv.is_null() && {
        // SAFETY: glibc passes the process's argv, argc entries long, each a NUL-terminated
        // string, to every `.init_array` function.
        let first = unsafe { *argv.add(1) };
        // SAFETY: as above; `first` is checked non-null.
        !first.is_null() && LIVE.contains(&unsafe { std::ffi::CStr::from_ptr(first) }.to_bytes())
    };
    if live {
        SYSTEM.store(true, Ordering::Relaxed);
    } else {
        mimalloc_start();
    }
}

// mimalloc's process start-up (its `init.c`), and its test for it having run.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn _mi_preloading() -> bool;
    fn _mi_auto_process_init();
    fn _mi_auto_process_done();
    fn atexit(f: unsafe extern "C" fn()) -> CInt;
}

/// Starts mimalloc as its own constructor would have, for the commands that use it.
///
/// mimalloc starts the process's allocator from a constructor (it probes the CPU with
/// `cpuid`, reads its options from the environment, maps its page map, sets up the main
/// thread's heap). The build leaves that constructor out (`MI_PRIM_HAS_PROCESS_ATTACH`,
/// set in `.cargo/config.toml`), so the live commands, which never call mimalloc, do not pay
/// for it (BENCHMARKS.md, "Live commands"); the other commands start it here, before `main`
/// as before, and stop it at exit as its destructor would. Where the build did keep the
/// constructor (a build without that setting), mimalloc has already started, says so, and
/// nothing is done.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn mimalloc_start() {
    // SAFETY: mimalloc's own functions, called once, before `main`, on the only thread,
    // which is where its constructor calls them; `_mi_preloading` only reads a flag, true
    // until `_mi_auto_process_init` has run. The exit handler is the function mimalloc's
    // destructor calls.
    unsafe {
        if _mi_preloading() {
            _mi_auto_process_init();
            atexit(_mi_auto_process_done);
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type CInt = std::ffi::c_int;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".init_array"]
static CHOOSE: extern "C" fn(CInt, *const *const std::ffi::c_char, *const *const std::ffi::c_char) =
    choose;
