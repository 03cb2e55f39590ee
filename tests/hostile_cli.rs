//! The `nslab` binary against hostile and careless input (issue 13): special files, escape
//! sequences, a reader that goes away, bad flags and capabilities, `--json` errors, and the
//! limits in `nslab run --help`. Everything runs on the model: the host is not touched.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn nslab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the nslab binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A directory of its own under the temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("nslab-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, content: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits for a child at most `limit` (generous: the point is that it ends at all), killing
/// it if it has not ended, and says whether it ended by itself.
fn ends_within(child: &mut std::process::Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[test]
fn special_files_are_refused_at_once() {
    let dir = TempDir::new("special");
    let fifo = dir.0.join("pipe.scn");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let fifo = fifo.display().to_string();
    for (file, kind) in [
        ("/dev/zero", "a character device"),
        (fifo.as_str(), "a FIFO"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nslab"))
            .args(["run", file])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(
            ends_within(&mut child, Duration::from_secs(60)),
            "nslab run {file} did not end"
        );
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "nslab: {file}: cannot read: {kind}, not a regular file (a scenario is a file)\n"
            )
        );
    }
}

#[test]
fn escape_sequences_from_a_file_do_not_reach_the_terminal() {
    let dir = TempDir::new("escapes");
    // An OSC sequence (set the terminal's title) and a bell in a hostname, a clear-screen
    // in an error, a right-to-left override in a file name.
    let scn = dir.file(
        "esc.scn",
        b"# esc\nA = init: clone NEWUTS\nA: sethostname \"\x1b]0;pwned\x07\"\nexpect A.hostname == \"\x1b[2J\"\n",
    );
    let out = nslab(&["run", &scn]);
    let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
    assert!(
        !all.contains(&0x1b) && !all.contains(&0x07),
        "{}",
        text(&all)
    );
    assert!(
        text(&out.stdout).contains("\\x1b]0;pwned\\x07"),
        "{}",
        text(&out.stdout)
    );
    let bad = dir.file("bad\u{202e}gnp.scn", b"# bad\nA: clone \"\x1b[2J\"\n");
    let out = nslab(&["run", &bad]);
    let err = text(&out.stderr);
    assert!(
        !err.contains('\x1b') && !err.contains('\u{202e}'),
        "{err:?}"
    );
    assert!(err.contains("bad\\u{202e}gnp.scn:2:"), "{err}");
    // JSON escapes them by itself.
    let out = nslab(&["run", "--json", &scn]);
    assert!(!out.stdout.contains(&0x1b));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("--json prints JSON");
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    // `nslab run ... | head -1`: the reader goes after the first line.
    let files: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".scn"))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .arg("run")
        .args(&files)
        .args(&files)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("== "), "{first}");
    // The reader is dropped here: the next writes fail with EPIPE.
    assert!(ends_within(&mut child, Duration::from_secs(120)));
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err, "");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn empty_flags_are_errors_and_zero_is_no_flags() {
    for flags in ["", "|||", "newpid|"] {
        let out = nslab(&["trace", "clone", flags]);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert!(
            text(&out.stderr).starts_with(
                "nslab: an empty clone flag (write 0 for no flags); valid flags: CLONE_NEWTIME"
            ),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    let out = nslab(&["trace", "clone", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn an_unknown_capability_lists_the_valid_ones() {
    let out = nslab(&["trace", "--drop-cap", "CAP_FOO", "clone", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "nslab: unknown capability 'CAP_FOO'; valid capabilities: CAP_SETGID, CAP_SETUID, \
         CAP_NET_ADMIN, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_RESOURCE (with \
         or without CAP_, in any case), a number from 0 to 40, or all\n"
    );
}

#[test]
fn trace_json_prints_an_error_object() {
    for (args, kind, code) in [
        (
            &["trace", "--json", "--drop-cap", "CAP_FOO", "clone", "0"][..],
            "usage",
            2,
        ),
        (&["trace", "--json", "clone", "newfoo"][..], "usage", 2),
        // A set-up step the model refuses: the child to join cannot be made.
        (
            &["trace", "--json", "--uid", "1000", "setns", "net"][..],
            "setup",
            1,
        ),
    ] {
        let out = nslab(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {:?}", text(&out.stdout)));
        assert_eq!(v["kind"], kind, "{v}");
        let msg = v["error"].as_str().unwrap();
        assert_eq!(text(&out.stderr), format!("nslab: {msg}\n"));
    }
}

#[test]
fn run_help_names_the_limits() {
    let out = nslab(&["run", "--help"]);
    let help = text(&out.stdout);
    for want in [
        "4 MiB",
        "4096 bytes",
        "10000",
        "32 deep",
        "200000 statements",
        "512 clones",
    ] {
        assert!(help.contains(want), "{want} missing from:\n{help}");
    }
}

#[test]
fn limits_are_refused_with_file_line_and_column_before_anything_runs() {
    let dir = TempDir::new("limits");
    let deep = dir.file(
        "deep.scn",
        format!(
            "# deep\n{}A = init\n{}",
            "repeat 1\n".repeat(10_000),
            "end\n".repeat(10_000)
        )
        .as_bytes(),
    );
    let many = dir.file(
        "many.scn",
        b"# many\nrepeat 10000\nrepeat 10000\nrepeat 10000\nA = init: clone 0\nend\nend\nend\n",
    );
    let start = Instant::now();
    let out = nslab(&["run", "--backend", "real", &deep, &many]);
    // Refused while reading: no backend was started (as an unprivileged user where the real
    // backend cannot start, the message would say so instead).
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{deep}:34:1: expected 'repeat' blocks nested at most 32 deep"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{many}:4:1: expected at most 512 clones once 'repeat' blocks are expanded (the task limit)")),
        "{err}"
    );
    assert_eq!(
        text(&out.stdout),
        "0 passed, 0 failed, 2 could not be loaded\n"
    );
    assert!(start.elapsed() < Duration::from_secs(60));
}
