//! The book's transcript of the wrong rule's counterexample
//! (`book/src/transcripts/model/wrong-rule.md`, shown in chapter 14), checked here until the
//! book's own harness runs every transcript: each `$ nslab ...` line of its console block is
//! run and its output must be the lines that follow, exactly. The scenario file it runs is
//! kept equal to what `examples/wrong_rule.rs` prints by that example itself.

use std::process::Command;

#[test]
fn wrong_rule_transcript_is_what_nslab_prints() {
    let md = std::fs::read_to_string("book/src/transcripts/model/wrong-rule.md")
        .expect("the transcript exists");
    let block = md
        .split("```console\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a console block");
    let mut commands = 0;
    for case in block.split("$ ").filter(|c| !c.trim().is_empty()) {
        let (command, expected) = case.split_once('\n').expect("a command line");
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "nslab", "only nslab commands: {command}");
        let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
            .args(&words[1..])
            .output()
            .expect("nslab runs");
        let mut got = String::from_utf8_lossy(&out.stdout).into_owned();
        got.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{command}: {got}");
        assert_eq!(got, expected, "{command}");
        commands += 1;
    }
    assert_eq!(commands, 1);
}
