//! The parser's fuzz target (issue 13), as a proptest generator of adversarial files run
//! within `cargo test` on the stable toolchain CI has (cargo-fuzz needs a nightly compiler):
//! deep nesting, huge and multiplying counts, long lines, invalid UTF-8, stray NULs and
//! control characters, random bytes, and mutations of the committed corpus
//! (`tests/fuzz-corpus/`, hostile files found or written by hand; a failing case proptest
//! finds is saved in `tests/fuzz.proptest-regressions`, committed as well).
//!
//! Whatever the bytes: no panic, an error names a line and column inside the file and is
//! short and printable, and a file that parses stays within the limits and runs on the model.
//! `NSLAB_FUZZ_CASES` runs more cases than the default (a few seconds).

use nslab_scenario::limits::*;
use nslab_scenario::{check, parse_bytes, Count, Scenario, Stmt};
use nslab_sim::Kernel;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// The committed corpus, every file's bytes.
fn corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the corpus is committed")
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("a corpus file"))
        .collect()
}

/// Statements once `repeat` blocks are expanded, an iteration of an empty body counting as
/// one: the steps of the run.
fn expanded(stmts: &[Stmt]) -> u64 {
    stmts
        .iter()
        .map(|s| match s {
            Stmt::Repeat { count, body, .. } => {
                let n = match count {
                    Count::Fixed(n) => u64::from(*n),
                    _ => u64::from(MAX_LEVELS_LEFT),
                };
                n.saturating_mul(expanded(body).max(1))
            }
            _ => 1,
        })
        .fold(0u64, u64::saturating_add)
}

/// What must hold for any input.
fn holds(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse_bytes(bytes) {
        Err(e) => {
            let lines = bytes.split(|b| *b == b'\n').count() as u32;
            prop_assert!(
                e.line >= 1 && e.line <= lines + 1,
                "line {} of {lines}: {e}",
                e.line
            );
            prop_assert!(e.column >= 1, "{e}");
            let msg = e.to_string();
            prop_assert!(msg.len() < 1024, "{} bytes: {msg:.200}", msg.len());
            prop_assert!(
                msg.chars().all(|c| !c.is_control()),
                "a control character in {msg:?}"
            );
        }
        Ok(s) => {
            let n = expanded(&s.body);
            prop_assert!(n <= MAX_STEPS, "{n} statements parsed");
            // Running is linear in n (tests/hostile.rs); run the smaller ones here.
            if n <= 2_000 {
                run(&s);
            }
        }
    }
    Ok(())
}

fn run(s: &Scenario) {
    let r = check(s, &mut Kernel::boot());
    // Whatever it expects, the run ends with a report; a fault of the model would be a bug.
    assert!(r.aborted.is_none(), "{:?}", r.aborted);
}

const PIECES: &[&str] = &[
    "repeat 1\n",
    "repeat 10000\n",
    "repeat pid_levels_left\n",
    "repeat 4294967296\n",
    "end\n",
    "A = init\n",
    "A = init: clone NEWPID|NEWNET\n",
    "A: exit 0\n",
    "A: sethostname \"\u{1b}[2J\"\n",
    "expect A.uid == 0\n",
    "expect init.hostname == \"\\0\"\n",
    "# comment\n",
    "\u{feff}",
    "\0",
    "\u{202e}",
    "\"",
    "\n",
];

/// A file of pieces of the grammar, with nesting and counts drawn to cross the limits.
fn grammar_file() -> impl Strategy<Value = Vec<u8>> {
    (
        0usize..80,
        proptest::collection::vec(proptest::sample::select(PIECES.to_vec()), 0..60),
        0usize..80,
    )
        .prop_map(|(open, pieces, close)| {
            let mut s = String::from("# fuzz\n");
            s.push_str(&"repeat 9\n".repeat(open));
            for p in pieces {
                s.push_str(p);
            }
            s.push_str(&"end\n".repeat(close));
            s.into_bytes()
        })
}

/// A corpus file with a few bytes changed, inserted or cut.
fn mutated_corpus() -> impl Strategy<Value = Vec<u8>> {
    let files = corpus();
    (
        0..files.len(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..8),
    )
        .prop_map(move |(i, edits)| {
            let mut b = files[i].clone();
            for (at, byte, how) in edits {
                let at = at.index(b.len() + 1);
                match how {
                    0 if at < b.len() => b[at] = byte,
                    1 => b.insert(at, byte),
                    _ => b.truncate(at),
                }
            }
            b
        })
}

/// A long line, of a word or of random characters.
fn long_line() -> impl Strategy<Value = Vec<u8>> {
    (MAX_LINE_BYTES - 8..MAX_LINE_BYTES * 4, any::<bool>()).prop_map(|(n, word)| {
        let mut s = b"# long\nA: clone ".to_vec();
        s.extend(std::iter::repeat_n(if word { b'N' } else { 0xc3 }, n));
        s.push(b'\n');
        s
    })
}

fn adversarial() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => grammar_file(),
        3 => mutated_corpus(),
        1 => long_line(),
        1 => proptest::collection::vec(any::<u8>(), 0..2048),
    ]
}

#[test]
fn the_corpus_holds() {
    for (i, bytes) in corpus().iter().enumerate() {
        holds(bytes).unwrap_or_else(|e| panic!("corpus file {i}: {e}"));
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("NSLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    ProptestConfig {
        cases,
        // Saved next to this file: tests/fuzz.proptest-regressions, replayed first.
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn adversarial_files_hold(bytes in adversarial()) {
        holds(&bytes)?;
    }
}
