//! `nslab quiz`: the same seed gives the same problem; `-c`'s answers, filled in, pass
//! `nslab run` on the model and (as root) on the kernel; `--check` grades right and wrong
//! answers. A real-kernel trial that cannot run is ignored and says `SKIPPED: <test>: <reason>`.

mod common;

use libtest_mimic::{Arguments, Trial};
use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn nslab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(args)
        .output()
        .expect("nslab runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

/// (seed, level) pairs the tests draw.
fn cases() -> Vec<(u64, u8)> {
    (0..8).flat_map(|s| (1..=3).map(move |l| (s, l))).collect()
}

/// The problem of (seed, level) and the answers `-c` prints, as (line, answer).
fn problem(seed: u64, level: u8) -> (String, Vec<(u32, String)>) {
    let (seed, level) = (seed.to_string(), level.to_string());
    let (code, text, err) = nslab(&["quiz", "--seed", &seed, "--level", &level]);
    assert_eq!(code, 0, "{err}");
    let (code, with, err) = nslab(&["quiz", "--seed", &seed, "--level", &level, "-c"]);
    assert_eq!(code, 0, "{err}");
    assert!(with.starts_with(&text), "-c prints the same problem first");
    let answers = with[text.len()..]
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("# line ")?;
            let (n, qa) = rest.split_once(": ")?;
            let (_, a) = qa.rsplit_once(" = ")?;
            Some((n.parse().ok()?, a.to_string()))
        })
        .collect::<Vec<_>>();
    let holes = nslab_scenario::holes::strip(&text).1;
    assert_eq!(answers.len(), holes.len(), "one answer a hole:\n{with}");
    assert!(!holes.is_empty(), "a problem asks something:\n{text}");
    (text, answers)
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nslab-quiz-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn same_seed_same_problem() -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for (seed, level) in cases() {
        let a = nslab(&[
            "quiz",
            "--seed",
            &seed.to_string(),
            "--level",
            &level.to_string(),
            "-c",
        ]);
        let b = nslab(&[
            "quiz",
            "--seed",
            &seed.to_string(),
            "--level",
            &level.to_string(),
            "-c",
        ]);
        if a != b {
            return Err(format!("seed {seed} level {level} differs between runs"));
        }
        if !a
            .1
            .contains(&format!("# ARG seed {seed}\n# ARG level {level}\n"))
        {
            return Err(format!("no ARG lines: {}", a.1));
        }
        seen.insert(a.1);
    }
    // Different seeds make different problems (not one problem for every seed).
    if seen.len() < cases().len() / 2 {
        return Err(format!("only {} different problems", seen.len()));
    }
    Ok(())
}

/// Fills the problem with `answers` and runs `nslab run --backend BACKEND` on it.
fn answers_pass_run(backend: &str) -> Result<(), String> {
    for (seed, level) in cases() {
        let (text, answers) = problem(seed, level);
        let filled = nslab_scenario::holes::fill(&text, &answers);
        let f = temp_file(&format!("s{seed}-l{level}.scn"), &filled);
        let (code, out, err) = nslab(&["run", f.to_str().unwrap(), "--backend", backend]);
        if code != 0 || !out.contains("1 passed, 0 failed") || out.contains("unanswered") {
            return Err(format!(
                "seed {seed} level {level} on {backend}: the -c answers do not pass:\n{filled}\n{out}{err}"
            ));
        }
    }
    Ok(())
}

fn check_grades_right_and_wrong() -> Result<(), String> {
    for (seed, level) in cases() {
        let (text, answers) = problem(seed, level);
        let right = temp_file("right.scn", &nslab_scenario::holes::fill(&text, &answers));
        let (code, out, err) = nslab(&["quiz", "--check", right.to_str().unwrap()]);
        let n = answers.len();
        if code != 0 || !out.contains(&format!("{n} right, 0 wrong, 0 unanswered")) {
            return Err(format!("all right graded as:\n{out}{err}"));
        }
        // One wrong answer: the first, changed to something else of its kind.
        let mut wrong_answers = answers.clone();
        let first = &mut wrong_answers[0].1;
        *first = match first.as_str() {
            "ok" => "EPERM".to_string(),
            "new" => "init.ns.net".to_string(),
            a if a.parse::<i64>().is_ok() => (a.parse::<i64>().unwrap() + 1).to_string(),
            a if a.ends_with(".ns.net") || a.contains(".ns.") => "new".to_string(),
            _ => "ok".to_string(),
        };
        let wrong = temp_file(
            "wrong.scn",
            &nslab_scenario::holes::fill(&text, &wrong_answers),
        );
        let (code, out, _) = nslab(&["quiz", "--check", wrong.to_str().unwrap()]);
        if code != 1 || !out.contains(&format!("{} right, 1 wrong, 0 unanswered", n - 1)) {
            return Err(format!("one wrong graded as:\n{out}"));
        }
        // Unfilled: every hole unanswered.
        let blank = temp_file("blank.scn", &text);
        let (code, out, _) = nslab(&["quiz", "--check", blank.to_str().unwrap()]);
        if code != 1 || !out.contains(&format!("0 right, 0 wrong, {n} unanswered")) {
            return Err(format!("blank graded as:\n{out}"));
        }
    }
    Ok(())
}

fn check_grades_the_reverse_question() -> Result<(), String> {
    let (_, text, _) = nslab(&["quiz", "--seed", "3", "--level", "2", "-t"]);
    let (_, with, _) = nslab(&["quiz", "--seed", "3", "--level", "2", "-t", "-c"]);
    let answer = with
        .lines()
        .find_map(|l| l.strip_prefix("# line "))
        .and_then(|l| l.split_once(": "))
        .map(|(n, f)| (n.parse::<usize>().unwrap_or(0), f.to_string()))
        .ok_or(format!("no answer in:\n{with}"))?;
    let fill = |flags: &str| -> String {
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                if i + 1 == answer.0 {
                    l.replacen(" ? ", &format!(" {flags} "), 1)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // The flags in another spelling are right; other flags are wrong; `?` is unanswered.
    let other_spelling = answer.1.to_lowercase().replace("clone_", "");
    for (flags, want, code) in [
        (other_spelling.as_str(), "1 right, 0 wrong, 0 unanswered", 0),
        ("CLONE_NEWUTS", "0 right, 1 wrong, 0 unanswered", 1),
        ("?", "0 right, 0 wrong, 1 unanswered", 1),
    ] {
        let f = temp_file("reverse.scn", &fill(flags));
        let (c, out, err) = nslab(&["quiz", "--check", f.to_str().unwrap()]);
        if c != code || !out.contains(want) {
            return Err(format!("{flags}: {out}{err}"));
        }
    }
    Ok(())
}

fn check_on_the_kernel() -> Result<(), String> {
    let (text, answers) = problem(7, 1);
    let f = temp_file("real.scn", &nslab_scenario::holes::fill(&text, &answers));
    let (code, out, err) = nslab(&["quiz", "--check", f.to_str().unwrap(), "--backend", "real"]);
    if code != 0 || !out.contains("the kernel agrees with the model on every answer") {
        return Err(format!("{out}{err}"));
    }
    Ok(())
}

fn bad_input() -> Result<(), String> {
    let (code, _, err) = nslab(&["quiz", "--topic", "bogus"]);
    if code != 2 || !err.contains("unknown topic 'bogus'") {
        return Err(format!("{code} {err}"));
    }
    let f = temp_file("noarg.scn", "# x\ninit: unshare NEWNET -> ?\n");
    let (code, _, err) = nslab(&["quiz", "--check", f.to_str().unwrap()]);
    if code != 2 || !err.contains("not a problem of nslab quiz") {
        return Err(format!("{code} {err}"));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let real = common::real_available();
    let before = common::host_before();
    let mut trials = vec![
        Trial::test("same_seed_same_problem", || Ok(same_seed_same_problem()?)),
        Trial::test("c_answers_pass_nslab_run_on_the_model", || {
            Ok(answers_pass_run("sim")?)
        }),
        Trial::test("check_grades_right_wrong_and_unanswered", || {
            Ok(check_grades_right_and_wrong()?)
        }),
        Trial::test("bad_input", || Ok(bad_input()?)),
        Trial::test("check_grades_the_reverse_question", || {
            Ok(check_grades_the_reverse_question()?)
        }),
    ];
    for (name, f) in [
        (
            "c_answers_pass_nslab_run_on_the_kernel",
            (|| answers_pass_run("real")) as fn() -> Result<(), String>,
        ),
        ("check_backend_real_agrees", check_on_the_kernel),
    ] {
        trials.push(match &real {
            Ok(()) => Trial::test(name, move || Ok(f()?)),
            Err(why) => {
                eprintln!("SKIPPED: {name}: {why}");
                Trial::test(name, || Ok(())).with_ignored_flag(true)
            }
        });
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("nslab-quiz-test-{}", std::process::id())),
    );
    if let Err(e) = common::host_unchanged(&before) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    conclusion.exit_code()
}
