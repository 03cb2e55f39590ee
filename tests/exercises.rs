//! The book's exercises (`book/src/ch13-exercises.md`) keep their answers as scenario files in
//! `book/exercises/`. These tests run every answer through the built `nslab` binary, on the
//! model always and on both backends where the real one can start, and check that the chapter
//! and the folder list the same exercises.
//!
//! A `harness = false` binary run by libtest-mimic, like the other top-level tests: the
//! real-backend run is a trial of its own, and where it cannot run it says
//! `SKIPPED: <test>: <reason>` and is counted as ignored, never as passed.

use libtest_mimic::{Arguments, Completion, Trial};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Mutex;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    // A test body that panics is a failed trial (libtest-mimic catches the panic).
    let plain = |name: &str, f: fn()| {
        Trial::test(name, move || {
            f();
            Ok(())
        })
    };
    let trials = vec![
        plain(
            "every_exercise_passes_on_the_model",
            every_exercise_passes_on_the_model,
        ),
        Trial::ignorable_test(
            "every_exercise_passes_on_both_backends_and_they_agree",
            || Ok(every_exercise_passes_on_both_backends_and_they_agree()),
        ),
        plain(
            "chapter_13_and_the_exercise_files_list_the_same_exercises",
            chapter_13_and_the_exercise_files_list_the_same_exercises,
        ),
        plain(
            "each_exercise_file_is_named_by_its_header",
            each_exercise_file_is_named_by_its_header,
        ),
        plain(
            "the_include_finder_finds_what_it_should",
            the_include_finder_finds_what_it_should,
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

/// The model run and the real run each start a child `nslab`; the real run compares the host
/// (including this process's children and fds) before and after, so the two never overlap.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `book/exercises/*.scn`, sorted.
fn exercise_files() -> Vec<PathBuf> {
    let dir = root().join("book/exercises");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// Runs `nslab run --backend BACKEND` on every exercise and requires each file judged `ok`,
/// the closing count to be all of them, and exit status 0.
fn run_all(backend: &str) {
    let files = exercise_files();
    assert!(
        files.len() >= 11,
        "the book promises the lesson's exercise and at least ten more; found {}",
        files.len()
    );
    let rel: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            f.strip_prefix(root())
                .expect("under the root")
                .to_path_buf()
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .current_dir(root())
        .args(["run", "--backend", backend, "--quiet"])
        .args(&rel)
        .output()
        .expect("nslab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let show = format!(
        "nslab run --backend {backend}: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for f in &rel {
        let judged = format!("== {} ({}): ok", stem(f), f.display());
        assert!(
            stdout.contains(&judged),
            "{} was not judged ok\n{show}",
            f.display()
        );
    }
    let summary = format!("{} passed, 0 failed", rel.len());
    assert!(
        stdout.lines().any(|l| l == summary),
        "no line `{summary}`\n{show}"
    );
    assert!(out.status.success(), "{show}");
}

fn every_exercise_passes_on_the_model() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run_all("sim");
}

/// Why the real backend cannot run here, if it cannot: the exercises are meant for root (the
/// unprivileged mode of the real backend cannot write maps for an outside uid 1000, or act as
/// root of the initial user namespace), and the backend must be able to start.
fn real_backend_unavailable() -> Option<String> {
    if std::env::var_os("NSLAB_SKIP_REAL").is_some() {
        return Some("NSLAB_SKIP_REAL is set".into());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .map(str::to_owned);
    if euid.as_deref() != Some("0") {
        return Some(format!(
            "the exercises run on the kernel as root; effective uid is {}",
            euid.unwrap_or_else(|| "unknown".into())
        ));
    }
    match nslab_real::RealMachine::start(Path::new(env!("CARGO_BIN_EXE_nslab"))) {
        Ok(machine) => {
            drop(machine);
            None
        }
        Err(e) => Some(format!("the real backend cannot start here: {e}")),
    }
}

fn every_exercise_passes_on_both_backends_and_they_agree() -> Completion {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = real_backend_unavailable() {
        let line = format!("SKIPPED: every_exercise_passes_on_both_backends_and_they_agree: {why}");
        eprintln!("\n{line}");
        return Completion::ignored_with(line);
    }
    let before = nslab_real::host::HostSnapshot::take();
    run_all("both");
    let after = nslab_real::host::HostSnapshot::take();
    assert_eq!(before, after, "the exercises changed the host");
    Completion::Completed
}

/// One `## Exercise N: ...` section of chapter 13.
struct Section {
    heading: String,
    body: String,
}

fn chapter_sections() -> Vec<Section> {
    let path = root().join("book/src/ch13-exercises.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut sections: Vec<Section> = Vec::new();
    for line in text.lines() {
        if line.starts_with("## ") {
            sections.push(Section {
                heading: line.to_owned(),
                body: String::new(),
            });
        } else if let Some(s) = sections.last_mut() {
            s.body.push_str(line);
            s.body.push('\n');
        }
    }
    sections
        .into_iter()
        .filter(|s| s.heading.starts_with("## Exercise "))
        .collect()
}

/// The scenario files a text includes: `{{#include ../exercises/NAME.scn}}`.
fn included_exercises(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("{{#include ../exercises/") {
        let after = &rest[at + "{{#include ../exercises/".len()..];
        let end = after.find("}}").expect("an include ends with }}");
        let name = &after[..end];
        names.push(name.strip_suffix(".scn").unwrap_or(name).to_owned());
        rest = &after[end..];
    }
    names
}

fn chapter_13_and_the_exercise_files_list_the_same_exercises() {
    let sections = chapter_sections();
    assert!(!sections.is_empty(), "no `## Exercise` section in ch13");
    let mut in_chapter = BTreeSet::new();
    for s in &sections {
        for part in ["**Question.**", "**Hint.**", "<summary>Answer</summary>"] {
            assert!(
                s.body.contains(part),
                "{}: has no {part}",
                s.heading.trim_start_matches("## ")
            );
        }
        let included = included_exercises(&s.body);
        assert_eq!(
            included.len(),
            1,
            "{}: includes {included:?}, not exactly one answer file",
            s.heading.trim_start_matches("## ")
        );
        assert!(
            in_chapter.insert(included[0].clone()),
            "{} is the answer of two exercises",
            included[0]
        );
    }
    let on_disk: BTreeSet<String> = exercise_files().iter().map(|f| stem(f)).collect();
    let missing_file: Vec<_> = in_chapter.difference(&on_disk).collect();
    let missing_exercise: Vec<_> = on_disk.difference(&in_chapter).collect();
    assert!(
        missing_file.is_empty(),
        "exercises in ch13 without a file in book/exercises: {missing_file:?}"
    );
    assert!(
        missing_exercise.is_empty(),
        "files in book/exercises without an exercise in ch13: {missing_exercise:?}"
    );
}

fn each_exercise_file_is_named_by_its_header() {
    for f in exercise_files() {
        let text = std::fs::read_to_string(&f).expect("readable");
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("# {}", stem(&f)),
            "{}: the first line names the scenario after its file",
            f.display()
        );
    }
}

fn the_include_finder_finds_what_it_should() {
    let text = "a\n{{#include ../exercises/ex01-a.scn}}\nb {{#include ../exercises/ex02-b.scn}}";
    assert_eq!(included_exercises(text), ["ex01-a", "ex02-b"]);
    assert!(included_exercises("{{#include ../listings/x.c}}").is_empty());
}
