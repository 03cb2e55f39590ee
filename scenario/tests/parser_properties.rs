//! The parser never panics, whatever it is fed, and printing a parsed scenario gives text that
//! parses back to the same scenario.

use nslab_scenario::parse;
use proptest::prelude::*;

/// Fragments that reach deep into the grammar, so that random lines are not all rejected by
/// the lexer at the first character.
const PIECES: &[&str] = &[
    "A",
    "B",
    "init",
    "=",
    "==",
    "!=",
    ":",
    ".",
    "->",
    "|",
    ",",
    "clone",
    "clone3",
    "unshare",
    "setns",
    "pidfd",
    "exit",
    "setresuid",
    "drop_caps",
    "uid_map",
    "gid_map",
    "sethostname",
    "link_up",
    "set_max_namespaces",
    "expect",
    "repeat",
    "end",
    "ns",
    "pid",
    "pid_for_children",
    "net",
    "caps",
    "has",
    "lacks",
    "hostname",
    "link",
    "lo",
    "up",
    "state",
    "exited",
    "level",
    "CLONE_NEWPID",
    "NEWNET",
    "0",
    "1",
    "33",
    "-1",
    "99999999999999999999",
    "EINVAL",
    "ok",
    "any",
    "\"",
    "\"x\"",
    "#",
    "\\",
    "é",
    "pid_levels_left",
    "\t",
    " ",
];

fn line() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES.to_vec()), 0..10)
        .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = parse(&text);
    }

    #[test]
    fn arbitrary_statements_never_panic(lines in proptest::collection::vec(line(), 0..12)) {
        let text = format!("# fuzz\n{}", lines.join("\n"));
        if let Ok(s) = parse(&text) {
            let printed = s.to_string();
            let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{e}\n{printed}")))?;
            prop_assert_eq!(again.to_string(), printed);
        }
    }
}
