//! `nslab step` sessions as transcripts: commands on stdin (not a terminal), plain text out.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `nslab step ARGS...` with `session` on stdin; returns (exit code, stdout).
fn step(args: &[&str], session: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .arg("step")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the nslab binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(session.as_bytes())
        .expect("write the session");
    let out = child.wait_with_output().expect("nslab step ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "stderr: {stderr}");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("utf-8"),
    )
}

/// The answers of a session, split at each echoed command: (command, output).
fn answers(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        if let Some(cmd) = line.strip_prefix("(nslab) ") {
            v.push((cmd.to_string(), String::new()));
        } else if let Some(last) = v.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    v
}

const LESSON: &str = "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET";

#[test]
fn forward_then_back_gives_the_same_states() {
    let (code, out) = step(
        &["clone", LESSON],
        "step 40\nprint all\ngraph\nbt\nstep 25\nprint all\nback 25\nprint all\ngraph\nbt\nback 40\nprint all\nquit\n",
    );
    assert_eq!(code, 0);
    let a = answers(&out);
    assert_eq!(a.len(), 13, "{out}");
    // At 40 forwards and at 40 again after going to 65 and back: identical.
    assert_eq!(a[1].1, a[7].1, "print all at event 40");
    assert_eq!(a[2].1, a[8].1, "graph at event 40");
    assert_eq!(a[3].1, a[9].1, "bt at event 40");
    // And event 65 differs from 40 (the net namespace is made in between).
    assert_ne!(a[1].1, a[5].1);
    // Back to 0: the state before the call, as at the start.
    assert!(a[10].1.starts_with("[0/"), "{}", a[10].1);
    assert!(
        !a[11].1.contains("(new)"),
        "nothing is new before the call: {}",
        a[11].1
    );
}

#[test]
fn break_copy_net_ns_then_continue_stops_there_and_at_loopback_net_init() {
    let (_, out) = step(
        &["clone", LESSON],
        "break copy_net_ns\nbreak loopback_net_init\ncontinue\nbt\ncontinue\nlist\ncontinue\nquit\n",
    );
    let a = answers(&out);
    assert!(a[2].1.contains("breakpoint copy_net_ns"), "{}", a[2].1);
    assert!(a[2].1.contains("-> copy_net_ns()"), "{}", a[2].1);
    assert!(
        a[3].1.starts_with(
            "#0 copy_net_ns() at net/core/net_namespace.c\n#1 create_new_namespaces()"
        ),
        "{}",
        a[3].1
    );
    assert!(a[4].1.contains("-> loopback_net_init()"), "{}", a[4].1);
    assert!(
        a[5].1
            .contains("https://elixir.bootlin.com/linux/v6.18/source/drivers/net/loopback.c"),
        "{}",
        a[5].1
    );
    assert!(a[5].1.contains("sim/src/loopback.rs"), "{}", a[5].1);
    // No more breakpoints: the end.
    assert!(a[6].1.contains("[end] clone("), "{}", a[6].1);
}

#[test]
fn print_nsproxy_shows_the_count_the_recorder_recorded() {
    // The recorder's events, from `nslab trace --json`.
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(["trace", "--json", "unshare", "NEWNET"])
        .output()
        .expect("nslab trace runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let records = v["records"].as_array().expect("records");
    // Every event that states nsproxy#0's count: at each, `print nsproxy` must say it.
    let mut checked = 0;
    for (i, r) in records.iter().enumerate() {
        let object = r["object"].as_str().unwrap_or("");
        if !object.starts_with("nsproxy#0") || r["count"].is_null() {
            continue;
        }
        let count = r["count"].as_u64().expect("count");
        let (_, session) = step(
            &["unshare", "NEWNET"],
            &format!("step {}\nprint nsproxy\nquit\n", i + 1),
        );
        let a = answers(&session);
        assert!(
            a[1].1.contains(&format!("nsproxy#0 count {count}")),
            "event {}: {}",
            i + 1,
            a[1].1
        );
        checked += 1;
    }
    assert!(
        checked >= 1,
        "unshare(NEWNET) puts the old nsproxy: {records:?}"
    );
}

#[test]
fn why_on_einval_names_the_rule_file_and_function() {
    let (_, out) = step(&["-x", "why", "-x", "quit", "clone", "NEWNS|FS"], "");
    assert!(out.contains("-EINVAL"), "{out}");
    assert!(
        out.contains(
            "refused by copy_process() in kernel/fork.c: CLONE_NEWNS together with CLONE_FS"
        ),
        "{out}"
    );
    assert!(
        out.contains("https://elixir.bootlin.com/linux/v6.18/source/kernel/fork.c"),
        "{out}"
    );
}

#[test]
fn next_steps_over_calls_and_finish_leaves_the_function() {
    let (_, out) = step(
        &["clone", LESSON],
        "break copy_net_ns\ncontinue\nnext\nnext\nfinish\nquit\n",
    );
    let a = answers(&out);
    // `next` passes over inc_net_namespaces (and the inc_ucount inside it) in one go.
    assert!(a[2].1.contains("<- inc_net_namespaces() = 0"), "{}", a[2].1);
    assert!(a[3].1.contains("+ alloc net:["), "{}", a[3].1);
    assert!(a[4].1.contains("<- copy_net_ns() = 0"), "{}", a[4].1);
}

#[test]
fn a_scenario_statement_is_stepped_in_its_context() {
    let (code, out) = step(
        &["scenarios/pid-levels-nest.scn", "--at", "6"],
        "break create_pid_namespace\ncontinue\ncontinue\nprint pid\nquit\n",
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("scenarios/pid-levels-nest.scn:6: B = A: clone CLONE_NEWPID"),
        "{out}"
    );
    let a = answers(&out);
    assert!(a[1].1.contains("-> create_pid_namespace()"), "{out}");
    // A's pid namespace (made by line 5) exists before the step; B's is new, and so is B's
    // struct pid with a number at three levels.
    assert_eq!(a[3].1.matches("(new)").count(), 2, "{}", a[3].1);
    assert!(
        a[3].1
            .contains("struct pid [4@L0 2@L1 1@L2] count 1  (new)"),
        "{}",
        a[3].1
    );
}

#[test]
fn bad_commands_and_arguments_are_reported() {
    let (_, out) = step(
        &["clone", "newnet"],
        "frobnicate\nprint nothing\nbreak\nquit\n",
    );
    assert!(
        out.contains("unknown command 'frobnicate'; try help"),
        "{out}"
    );
    assert!(
        out.contains("print what? valid: task, cred, nsproxy"),
        "{out}"
    );
    assert!(out.contains("break needs a function"), "{out}");
    let bad = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(["step", "clone", "NEWBOGUS"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn trace_at_line_traces_one_statement_in_its_context() {
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(["trace", "scenarios/pid-levels-nest.scn", "--at", "6"])
        .output()
        .expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text.starts_with("scenarios/pid-levels-nest.scn:6: B = A: clone CLONE_NEWPID"),
        "{text}"
    );
    // The pid namespace of line 5 exists: the one made here is at level 2.
    assert!(
        text.contains("+ alloc pid:[4026531841] (level 2, PIDNS_ADDING)"),
        "{text}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(["trace", "scenarios/pid-levels-nest.scn", "--at", "2"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no statement on line 2"));
}

#[test]
fn run_reports_prediction_holes_as_unanswered() {
    let dir = std::env::temp_dir().join(format!("nslab-holes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join("holes.scn");
    std::fs::write(
        &f,
        "# holes\n# hint: CLONE_NEWPID\nA = init: clone NEWPID -> ?\nexpect A.pid == ?\nexpect A.pid == 1\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(["run", f.to_str().expect("utf-8 path")])
        .output()
        .expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!text.contains("hint:"), "hints only on request: {text}");
    let hinted = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(["run", "--hints", f.to_str().expect("utf-8 path")])
        .output()
        .expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(String::from_utf8_lossy(&hinted.stdout).contains("  hint: CLONE_NEWPID"));
    assert!(
        text.contains("unanswered: the outcome of `A = init: clone NEWPID -> ?`"),
        "{text}"
    );
    assert!(
        text.contains("unanswered: A.pid (a prediction hole)"),
        "{text}"
    );
    // The line that is answered is judged.
    assert!(text.contains("1 passed, 0 failed"), "{text}");
}

/// On a terminal (a pseudo-terminal from util-linux `script`), the session reads through
/// rustyline: each command is typed after the prompt appears, and Tab completes commands and
/// print targets.
#[test]
fn on_a_terminal_tab_completes_commands_and_targets() {
    use std::io::Read;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    let have_script = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    // util-linux is on every machine .ci/run prepares (it installs it when `lsns` is missing).
    assert!(
        have_script,
        "util-linux `script` is missing: the terminal session cannot be tested"
    );
    let cmd = format!("{} step clone newnet", env!("CARGO_BIN_EXE_nslab"));
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut stdin = child.stdin.take().expect("stdin");
    // Waits until the output shows `n` prompts.
    let wait_prompts = |n: usize, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.matches("(nslab) ").count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                Err(_) => panic!("no prompt {n}:\n{seen}"),
            }
        }
    };
    for (i, line) in ["st\t3\n", "pri\tnsp\t\n", "quit\n"].iter().enumerate() {
        wait_prompts(i + 1, &mut seen);
        stdin.write_all(line.as_bytes()).expect("type");
        stdin.flush().expect("flush");
    }
    drop(stdin);
    let _ = child.wait();
    while let Ok(b) = rx.recv_timeout(Duration::from_secs(2)) {
        seen.push_str(&String::from_utf8_lossy(&b));
    }
    // Without the terminal's escape sequences.
    let mut plain = String::new();
    let mut chars = seen.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            while let Some(&d) = chars.peek() {
                chars.next();
                if d.is_ascii_alphabetic() && d != '[' {
                    break;
                }
            }
        } else if c != '\r' {
            plain.push(c);
        }
    }
    assert!(plain.contains("[3/92]"), "step completed from st:\n{plain}");
    assert!(
        plain.contains("nsproxy#0 count"),
        "print nsproxy completed:\n{plain}"
    );
}
