//! Text that reaches a terminal: what a scenario file, a hostname or an error message holds
//! is printed through these, so that a file cannot send control sequences to the terminal of
//! whoever runs it, and an error quotes a bounded piece of a token, never all of it.
//!
//! Mirrors no kernel file.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character is printed as it is: not a C0 or C1 control character (ESC, BEL, CR,
/// ...), not DEL, and not one of the invisible formatting characters that reorder or hide
/// text (bidirectional overrides and isolates, zero-width characters, the byte order mark).
/// Newline and tab are left to the caller: [`printable`] keeps them, [`quoted`] does not.
pub(crate) fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}'))
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// The text with every non-printable character but newline and tab written as an escape
/// (`\x1b`, `\u{202e}`): what is printed of a report, a trace or an error. Borrowed when there
/// is nothing to escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| c == '\n' || c == '\t' || is_printable(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\n' || c == '\t' || is_printable(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// How many characters of a token an error message quotes.
pub const EXCERPT_CHARS: usize = 40;

/// A token as an error message quotes it, in single quotes: on one line, every
/// non-printable character escaped (newline and tab too), at most [`EXCERPT_CHARS`]
/// characters of it and then how long it was: `'abc'`, `'aaaa...' (1048576 bytes)`.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4 * EXCERPT_CHARS) + 2);
    out.push('\'');
    for (n, c) in s.chars().enumerate() {
        if n == EXCERPT_CHARS {
            let _ = write!(out, "...' ({} bytes)", s.len());
            return out;
        }
        if is_printable(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_do_not_survive() {
        let s = "a\x1b]0;pwned\x07b\u{202e}c\nd";
        assert_eq!(printable(s), "a\\x1b]0;pwned\\x07b\\u{202e}c\nd");
        assert!(matches!(printable("plain\ttext\n"), Cow::Borrowed(_)));
        assert_eq!(quoted("a\nb\0"), "'a\\nb\\0'");
    }

    #[test]
    fn a_long_token_is_cut() {
        let long = "x".repeat(1 << 20);
        let q = quoted(&long);
        assert!(q.len() < 80, "{q}");
        assert!(q.ends_with("...' (1048576 bytes)"), "{q}");
        assert_eq!(quoted(&"y".repeat(EXCERPT_CHARS)).len(), EXCERPT_CHARS + 2);
    }
}
