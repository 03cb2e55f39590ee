//! Hostile and careless scenario files (issue 13): each is generated here, refused with the
//! error it must print (file, line, column, the limit's name) or run, within a generous bound
//! on memory (the peak of this test binary's allocations, counted by its allocator) and on
//! time (as a ratio between two sizes, never a fixed timer). The model is the only machine
//! here: nothing touches the host.

use nslab_scenario::limits::*;
use nslab_scenario::{check, parse, parse_bytes, parse_file, LoadError, Scenario};
use nslab_sim::Kernel;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

/// The system allocator, counting the bytes this thread has live now and their peak since the
/// last reset. Per thread: the test harness runs other tests on other threads at the same
/// time, and their allocations must not count against the one being measured (they did once,
/// when the counters were the process's).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the thread's counters may be gone while it is being torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(p, l) };
        count(-(l.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            count(new as isize - l.size() as isize);
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Runs `f` on this thread, returning what it gave, the peak of bytes this thread allocated
/// above what it had live before, and the seconds it took.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, f64) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let t = Instant::now();
    let out = f();
    let secs = t.elapsed().as_secs_f64();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak.max(0) as usize, secs)
}

const MIB: usize = 1 << 20;

fn error_text(text: &str) -> String {
    parse(text).map(|_| ()).unwrap_err().to_string()
}

/// Parses and runs on a fresh model; the report must pass.
fn run_on_model(s: &Scenario) {
    let r = check(s, &mut Kernel::boot());
    assert!(r.passed(), "{:?}", r.failures().next());
}

fn nested(depth: usize, inner: &str) -> String {
    format!(
        "# deep\n{}{inner}\n{}",
        "repeat 1\n".repeat(depth),
        "end\n".repeat(depth)
    )
}

#[test]
fn deep_nesting_is_refused_at_the_limit_without_recursion() {
    // 100,000 levels overflowed the stack; 10,000 ran past 60 s.
    for depth in [10_000, 100_000] {
        let text = nested(depth, "A = init");
        let (e, peak, _) = measure(|| error_text(&text));
        assert_eq!(
            e,
            format!(
                "<input>:{}:1: expected 'repeat' blocks nested at most {MAX_DEPTH} deep (the \
                 nesting limit), found a 'repeat' nested {} deep",
                MAX_DEPTH + 2,
                MAX_DEPTH + 1
            )
        );
        assert!(peak < MIB, "{depth} levels: {peak} bytes");
    }
    // At the limit the file runs.
    let s = parse(&nested(MAX_DEPTH, "A = init")).unwrap();
    run_on_model(&s);
}

#[test]
fn nested_counts_multiply_into_the_statement_limit() {
    // Three nested `repeat 10000` reached 8 GB before an allocation abort.
    let text = "# three\nrepeat 10000\nrepeat 10000\nrepeat 10000\nexpect init.uid == 0\n\
                end\nend\nend\n";
    let (e, peak, _) = measure(|| error_text(text));
    assert_eq!(
        e,
        format!(
            "<input>:3:1: expected at most {MAX_STEPS} statements once 'repeat' blocks are \
             expanded (the statement limit), found this 'repeat' block, which makes 100000000 \
             statements"
        )
    );
    assert!(peak < MIB, "{peak} bytes");
    // The total counts, not each block: two blocks side by side that fit alone.
    let half = MAX_STEPS / 2 + 1;
    let text = format!(
        "# two\nrepeat {a}\nrepeat {b}\nexpect init.uid == 0\nend\nend\nrepeat {a}\nrepeat {b}\n\
         expect init.uid == 0\nend\nend\n",
        a = 100,
        b = half.div_ceil(100)
    );
    assert!(error_text(&text).starts_with("<input>:7:1: expected at most"));
    // Empty bodies are looped over too: nested empty blocks count an iteration as a
    // statement (found by the fuzz target: 9^80 iterations of nothing).
    let e = error_text("# empty\nrepeat 10000\nrepeat 10000\nrepeat 10000\nend\nend\nend\n");
    assert!(e.starts_with("<input>:3:1: expected at most"), "{e}");
    // A count far past the largest is refused as a count.
    let e = error_text("# big\nrepeat 4294967296\nend\n");
    assert!(e.contains(":2:8: expected a count"), "{e}");
}

#[test]
fn clones_are_bounded_for_the_real_backend() {
    let body = |n: u64| format!("# many\nrepeat {n}\nA = init: clone 0\nA: exit 0\nend\n");
    let s = parse(&body(MAX_TASKS)).unwrap();
    assert!(matches!(&s.body[0], nslab_scenario::Stmt::Repeat { .. }));
    assert_eq!(
        error_text(&body(MAX_TASKS + 1)),
        format!(
            "<input>:2:1: expected at most {MAX_TASKS} clones once 'repeat' blocks are \
             expanded (the task limit), found this 'repeat' block, which makes {} clones",
            MAX_TASKS + 1
        )
    );
    // pid_levels_left counts as its largest value.
    let e =
        error_text("# levels\nrepeat 16\nrepeat pid_levels_left\nA = init: clone 0\nend\nend\n");
    assert!(e.contains("(the task limit)"), "{e}");
}

#[test]
fn long_files_run_in_linear_time_and_memory() {
    // 80,000 expect lines took 8 s (10,000: 0.19 s): quadratic. Linear now: eight times the
    // lines may take at most 24 times as long (quadratic would be 64), and memory grows
    // likewise.
    let file = |n: usize, line: &str| format!("# long\n{}", line.repeat(n));
    for (what, line) in [
        ("expect lines", "expect init.uid == 0\n"),
        ("distinct labels", ""),
        ("clones and lookups", ""),
    ] {
        let make = |n: usize| match what {
            "distinct labels" => {
                let mut s = String::from("# labels\n");
                for i in 0..n {
                    s.push_str(&format!("L{i} = init\nexpect L{i}.uid == 0\n"));
                }
                s
            }
            "clones and lookups" => {
                // At most MAX_TASKS clones: the rest of the lines look at them.
                let mut s = String::from("# tasks\n");
                let clones = (n / 16).min(MAX_TASKS as usize);
                for i in 0..clones {
                    s.push_str(&format!("C{i} = init: clone NEWUTS\n"));
                }
                for i in 0..n {
                    s.push_str(&format!("expect C{}.uid == 0\n", i % clones));
                }
                s
            }
            _ => file(n, line),
        };
        let small = make(4_000);
        let large = make(32_000);
        let time = |text: &str| {
            let mut best = (f64::MAX, 0);
            for _ in 0..3 {
                let ((), peak, secs) = measure(|| {
                    let s = parse(text).unwrap();
                    run_on_model(&s);
                });
                best = (best.0.min(secs), best.1.max(peak));
            }
            best
        };
        let (ts, ms) = time(&small);
        let (tl, ml) = time(&large);
        let ratio = tl / ts.max(1e-3);
        eprintln!("{what}: 4k {ts:.3}s {ms} B, 32k {tl:.3}s {ml} B, ratio {ratio:.1}");
        assert!(
            ratio < 24.0,
            "{what}: 8x the lines took {ratio:.1}x as long"
        );
        assert!(ml < 24 * ms.max(MIB), "{what}: memory {ms} -> {ml}");
        // A generous absolute bound too: far below what the host has.
        assert!(ml < 256 * MIB, "{what}: {ml} bytes");
    }
}

#[test]
fn lines_and_files_are_bounded() {
    let long = format!(
        "# long\nA = init\nexpect A.hostname == {}\n",
        "x".repeat(100_000)
    );
    let e = error_text(&long);
    assert_eq!(
        e,
        format!(
            "<input>:3:{}: expected a line of at most {MAX_LINE_BYTES} bytes (the line length \
             limit), found a line of 100021 bytes",
            MAX_LINE_BYTES + 1
        )
    );
    // A file past the size limit: refused from its bytes, at the line where it crosses.
    let big = format!(
        "# big\n{}",
        "expect init.uid == 0\n".repeat(MAX_FILE_BYTES / 21 + 1)
    );
    let (e, peak, _) = measure(|| parse_bytes(big.as_bytes()).unwrap_err().to_string());
    assert!(
        e.starts_with(&format!("<input>:{}:", MAX_FILE_BYTES / 21 + 2))
            && e.contains(&format!(
                "a file of at most {MAX_FILE_BYTES} bytes (the file size limit)"
            )),
        "{e}"
    );
    assert!(peak < MIB, "{peak}");
}

/// A directory of its own under the temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("nslab-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn only_regular_files_are_read_and_at_most_the_limit_of_them() {
    // /dev/zero was read until 10 GB; a FIFO blocked forever.
    let (e, peak, _) = measure(|| parse_file("/dev/zero".as_ref()).unwrap_err());
    assert!(matches!(e, LoadError::NotRegular { .. }));
    assert_eq!(
        e.to_string(),
        "/dev/zero: cannot read: a character device, not a regular file (a scenario is a file)"
    );
    assert!(peak < MIB);
    let dir = TempDir::new("files");
    let fifo = dir.0.join("fifo.scn");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // No writer: opening it for reading without O_NONBLOCK would wait forever.
    let e = parse_file(&fifo).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("cannot read: a FIFO, not a regular file (a scenario is a file)"),
        "{e}"
    );
    let e = parse_file(&dir.0).unwrap_err();
    assert!(e.to_string().contains("a directory"), "{e}");
    // A regular file past the limit: refused, having read at most one byte past it.
    let big = dir.0.join("big.scn");
    std::fs::write(
        &big,
        format!("# big\n{}", "A = init\n".repeat(MAX_FILE_BYTES / 9 * 4)),
    )
    .unwrap();
    let (e, peak, _) = measure(|| parse_file(&big).unwrap_err().to_string());
    assert!(e.contains("(the file size limit)"), "{e}");
    assert!(peak < 2 * MAX_FILE_BYTES, "{peak}");
}

#[test]
fn invalid_utf8_says_where() {
    let e = parse_bytes(b"# x\nA = init\nB = in\xffit\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "<input>:3:7: expected UTF-8 text, found the bytes '\\xff' (not UTF-8)"
    );
    let e = parse_bytes("# x\nA = \u{e9}\u{e9}".as_bytes().split_last().unwrap().1).unwrap_err();
    assert_eq!((e.line, e.column), (2, 6));
}

#[test]
fn a_byte_order_mark_is_skipped_at_the_start_and_shown_elsewhere() {
    let s = parse("\u{feff}# bom\nA = init\n").unwrap();
    assert_eq!(s.name, "bom");
    let e = error_text("# bom\nA = init\u{feff}\n");
    assert_eq!(
        e,
        "<input>:2:9: expected a word, a number, a string or one of = == != -> : . | ,, found '\\u{feff}'"
    );
}

#[test]
fn errors_quote_a_bounded_escaped_excerpt() {
    // A 1 MB token was echoed whole.
    let word = "W".repeat(1 << 20);
    let e = parse_bytes(format!("# x\nA: clone {word}\n").as_bytes()).unwrap_err();
    let e = e.to_string();
    // The line is past the line limit; a shorter one shows the excerpt.
    assert!(e.len() < 200, "{} bytes", e.len());
    let e = error_text(&format!("# x\nA: clone {}\n", "W".repeat(4000)));
    assert!(e.len() < 300 && e.contains("...' (4000 bytes)"), "{e}");
    // Control characters in a token or a string are escaped: no escape sequence reaches
    // the terminal through an error.
    let e = error_text("# x\nexpect A.hostname ?= \"\x1b[2J\x07\"\n");
    assert!(!e.contains('\x1b') && !e.contains('\x07'), "{e:?}");
    let e = error_text("# x\nA: clone \"\x1b]0;pwned\x07\"\n");
    assert!(
        !e.contains('\x1b') && e.contains("\\x1b]0;pwned\\x07"),
        "{e:?}"
    );
}
