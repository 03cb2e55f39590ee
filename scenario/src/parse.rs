//! The scenario parser: text in, a [`Scenario`] or a [`ParseError`] out, never a panic.
//!
//! The format is line based. A file starts with `# NAME` and the comment lines under it (the
//! explanation); every other line is a statement, and `#` starts a comment anywhere outside a
//! quoted string. The grammar is in `scenarios/README.md`.

use crate::ast::*;
use crate::limits::*;
use nslab_machine::capability::{parse_cap, CAP_FULL_SET};
use nslab_machine::machine::{CloneArgs, CloneVia, IdMapExtent, IdMapKind, NsEntry, NsType};
use nslab_machine::sched::parse_flags;
use nslab_machine::text::{printable, quoted};
use nslab_machine::Errno;
use std::fmt;
use std::path::Path;

/// Why a scenario could not be parsed: where, what was expected and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The file, when the text came from one.
    pub(crate) file: Option<String>,
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1.
    pub column: u32,
    /// What the grammar wanted there.
    pub(crate) expected: String,
    /// What the file has.
    pub(crate) found: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = printable(self.file.as_deref().unwrap_or("<input>"));
        write!(
            f,
            "{file}:{}:{}: expected {}, found {}",
            self.line, self.column, self.expected, self.found
        )
    }
}

impl std::error::Error for ParseError {}

/// Why a scenario file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// The file.
        file: String,
        /// The error.
        error: std::io::Error,
    },
    /// A FIFO, a device, a directory, a socket: never read (a FIFO would block, `/dev/zero`
    /// never ends).
    NotRegular {
        /// The file.
        file: String,
        /// What it is (`a FIFO`).
        kind: &'static str,
    },
    /// The file is not a valid scenario.
    Parse(ParseError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { file, error } => {
                write!(f, "{}: cannot read: {error}", printable(file))
            }
            LoadError::NotRegular { file, kind } => write!(
                f,
                "{}: cannot read: {kind}, not a regular file (a scenario is a file)",
                printable(file)
            ),
            LoadError::Parse(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// What kind of file this is, for the refusal of one that is not regular.
fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// Reads and parses one scenario file; errors name the file. The file is opened without
/// blocking (`O_NONBLOCK`: opening a FIFO for reading would wait for a writer) and its type
/// read from the open file (`fstat`), so only a regular file is ever read, and at most one
/// byte more than [`MAX_FILE_BYTES`] of it.
pub fn parse_file(path: &Path) -> Result<Scenario, LoadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = path.display().to_string();
    let io = |error| LoadError::Io {
        file: file.clone(),
        error,
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(LoadError::NotRegular {
            file,
            kind: file_kind(meta.file_type()),
        });
    }
    let mut bytes = Vec::with_capacity((meta.len() as usize).min(MAX_FILE_BYTES) + 1);
    f.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    parse_bytes(&bytes).map_err(|mut e| {
        e.file = Some(file);
        LoadError::Parse(e)
    })
}

/// Parses the bytes of one scenario: refused, with a line and column, when they are more
/// than [`MAX_FILE_BYTES`] or not UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Result<Scenario, ParseError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large(bytes));
    }
    match std::str::from_utf8(bytes) {
        // Prediction holes (`-> ?`, `expect A.pid == ?`) are allowed in a file
        // (`crate::holes`): the parsed scenario leaves them out.
        Ok(text) => crate::holes::parse_with_holes(text).map(|(s, _)| s),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count();
            let start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            // The part of the line before the bad byte is valid UTF-8: count its characters.
            let column = std::str::from_utf8(&good[start..]).map_or(0, |s| s.chars().count());
            let bad = &bytes[e.valid_up_to()..];
            let n = e.error_len().unwrap_or(bad.len()).min(4);
            let shown: Vec<String> = bad[..n].iter().map(|b| format!("\\x{b:02x}")).collect();
            Err(err(
                line,
                column as u32 + 1,
                "UTF-8 text",
                format!("the bytes '{}' (not UTF-8)", shown.join("")),
            ))
        }
    }
}

/// The refusal of a text longer than [`MAX_FILE_BYTES`], at the line and column where the
/// limit is crossed.
fn too_large(bytes: &[u8]) -> ParseError {
    let head = &bytes[..MAX_FILE_BYTES];
    let line = head.iter().filter(|b| **b == b'\n').count();
    let start = head.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&head[start..]).chars().count();
    err(
        line,
        column as u32 + 1,
        &format!(
            "a file of at most {} bytes (the file size limit)",
            MAX_FILE_BYTES
        ),
        "more".into(),
    )
}

/// Parses the text of one scenario, within the [limits](crate::limits). A UTF-8 byte order
/// mark at the start is skipped (some editors write one); anywhere else it is an error that
/// shows it escaped.
pub fn parse(text: &str) -> Result<Scenario, ParseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(too_large(text.as_bytes()));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().peekable();
    let mut name = None;
    let mut explanation: Vec<String> = Vec::new();

    // The header: blank lines, then `# NAME`, then the comment lines under it.
    while let Some((i, raw)) = lines.peek().copied() {
        check_line_length(raw, i)?;
        let t = raw.trim();
        if t.is_empty() && name.is_none() {
            lines.next();
            continue;
        }
        let Some(rest) = t.strip_prefix('#') else {
            break;
        };
        let rest = rest.trim();
        if name.is_none() {
            let column = col_of(raw, raw.len() - raw.trim_start().len()) + 1;
            if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(err(
                    i,
                    column,
                    "a scenario name of letters, digits and '-' after '#'",
                    quote(rest),
                ));
            }
            name = Some(rest.to_string());
        } else {
            explanation.push(rest.to_string());
        }
        lines.next();
    }
    let Some(name) = name else {
        let (i, found) = lines
            .peek()
            .map(|(i, l)| (*i, quote(l.trim())))
            .unwrap_or((0, "end of input".to_string()));
        return Err(err(i, 1, "a '# scenario-name' header line", found));
    };

    // A stack of open `repeat` blocks; the bottom is the scenario body. Each counts the
    // statements and clones of its body once expanded, for the limits.
    let mut stack: Vec<Block> = vec![Block {
        span: Span::default(),
        count: Count::Fixed(1),
        body: Vec::new(),
        size: Size::default(),
    }];
    let mut last_line = 0;
    for (i, raw) in lines {
        last_line = i;
        check_line_length(raw, i)?;
        let toks = lex(raw, i)?;
        if toks.is_empty() {
            continue;
        }
        let mut p = LineParser {
            toks: &toks,
            pos: 0,
            line: i,
            end_col: col_of(raw, raw.len()) + 1,
        };
        match p.statement()? {
            Parsed::Stmt(s) => {
                let size = Size {
                    steps: 1,
                    clones: u64::from(
                        matches!(&s, Stmt::Call(c) if matches!(c.call, Call::Clone(_))),
                    ),
                };
                push(&mut stack, s, size)?;
            }
            Parsed::RepeatStart(span, count) => {
                if stack.len() > MAX_DEPTH {
                    return Err(err(
                        i,
                        span.column,
                        &format!(
                            "'repeat' blocks nested at most {MAX_DEPTH} deep (the nesting limit)"
                        ),
                        format!("a 'repeat' nested {} deep", stack.len()),
                    ));
                }
                stack.push(Block {
                    span,
                    count,
                    body: Vec::new(),
                    size: Size::default(),
                })
            }
            Parsed::End(span) => {
                if stack.len() < 2 {
                    return Err(err(
                        i,
                        span.column,
                        "a statement ('end' closes nothing here)",
                        "'end'".into(),
                    ));
                }
                if let Some(b) = stack.pop() {
                    let n = u64::from(match b.count {
                        Count::Fixed(n) => n,
                        Count::PidLevelsLeft | Count::UserLevelsLeft => MAX_LEVELS_LEFT,
                    })
                    .max(1);
                    // An iteration counts as a statement at least: the run loops over an
                    // empty body too (found by the fuzz target: nested empty blocks).
                    let size = Size {
                        steps: b.size.steps.max(1).saturating_mul(n),
                        clones: b.size.clones.saturating_mul(n),
                    };
                    let stmt = Stmt::Repeat {
                        span: b.span,
                        count: b.count,
                        body: b.body,
                    };
                    push(&mut stack, stmt, size)?;
                }
            }
        }
    }
    if stack.len() > 1 {
        let open = stack.last().map(|s| s.span).unwrap_or_default();
        return Err(ParseError {
            file: None,
            line: last_line as u32 + 2,
            column: 1,
            expected: format!("'end' for the 'repeat' on line {}", open.line),
            found: "end of input".into(),
        });
    }
    let body = stack.pop().map(|s| s.body).unwrap_or_default();
    Ok(Scenario {
        name,
        explanation: explanation.join("\n"),
        body,
    })
}

/// An open `repeat` block (or the file's body, at the bottom of the stack).
struct Block {
    span: Span,
    count: Count,
    body: Vec<Stmt>,
    /// The body's size once expanded.
    size: Size,
}

/// How many statements and clones a statement makes once `repeat` blocks are expanded.
#[derive(Clone, Copy, Default)]
struct Size {
    steps: u64,
    clones: u64,
}

/// Adds a statement to the innermost open block, refusing it if that block then crosses
/// [`MAX_STEPS`] or [`MAX_TASKS`]: every enclosing block repeats its body at least once,
/// so the whole file would too.
fn push(stack: &mut [Block], s: Stmt, size: Size) -> Result<(), ParseError> {
    let span = s.span();
    let what = match &s {
        Stmt::Repeat { .. } => "this 'repeat' block",
        _ => "this statement",
    };
    let Some(top) = stack.last_mut() else {
        return Ok(());
    };
    top.size.steps = top.size.steps.saturating_add(size.steps);
    top.size.clones = top.size.clones.saturating_add(size.clones);
    let (total, limit, name, unit) = if top.size.steps > MAX_STEPS {
        (
            top.size.steps,
            MAX_STEPS,
            "the statement limit",
            "statements",
        )
    } else if top.size.clones > MAX_TASKS {
        (top.size.clones, MAX_TASKS, "the task limit", "clones")
    } else {
        top.body.push(s);
        return Ok(());
    };
    Err(ParseError {
        file: None,
        line: span.line,
        column: span.column,
        expected: format!("at most {limit} {unit} once 'repeat' blocks are expanded ({name})"),
        found: format!("{what}, which makes {}", count_text(total, unit)),
    })
}

fn count_text(n: u64, unit: &str) -> String {
    if n == u64::MAX {
        format!("more than {} {unit}", u64::MAX)
    } else {
        format!("{n} {unit}")
    }
}

/// Refuses a line longer than [`MAX_LINE_BYTES`], at the column where it crosses the limit.
fn check_line_length(raw: &str, i: usize) -> Result<(), ParseError> {
    if raw.len() <= MAX_LINE_BYTES {
        return Ok(());
    }
    let mut cut = MAX_LINE_BYTES;
    while !raw.is_char_boundary(cut) {
        cut -= 1;
    }
    Err(err(
        i,
        col_of(raw, cut) + 1,
        &format!("a line of at most {MAX_LINE_BYTES} bytes (the line length limit)"),
        format!("a line of {} bytes", raw.len()),
    ))
}

fn err(line_index: usize, column: u32, expected: &str, found: String) -> ParseError {
    ParseError {
        file: None,
        line: line_index as u32 + 1,
        column,
        expected: expected.to_string(),
        found,
    }
}

fn quote(s: &str) -> String {
    if s.is_empty() {
        "end of line".to_string()
    } else {
        quoted(s)
    }
}

/// The 0-based column, in characters, of a byte offset.
fn col_of(raw: &str, byte: usize) -> u32 {
    raw.get(..byte).map(|s| s.chars().count()).unwrap_or(0) as u32
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Arrow,
    EqEq,
    NotEq,
    Eq,
    Colon,
    Dot,
    Pipe,
    Comma,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => quoted(w),
            Tok::Str(s) => format!("the string {}", quoted(s)),
            Tok::Arrow => "'->'".into(),
            Tok::EqEq => "'=='".into(),
            Tok::NotEq => "'!='".into(),
            Tok::Eq => "'='".into(),
            Tok::Colon => "':'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Pipe => "'|'".into(),
            Tok::Comma => "','".into(),
        }
    }
}

/// A token and its 1-based column.
type Spanned = (Tok, u32);

fn lex(raw: &str, line: usize) -> Result<Vec<Spanned>, ParseError> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i as u32 + 1;
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(err(line, col, "a closing '\"'", "end of line".into()));
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some(&e @ ('"' | '\\')) => s.push(e),
                            Some('0') => s.push('\0'),
                            other => {
                                return Err(err(
                                    line,
                                    i as u32 + 1,
                                    "'\\\"', '\\\\' or '\\0' inside a string",
                                    other.map_or("end of line".into(), |c| {
                                        quoted(&format!("\\{c}"))
                                    }),
                                ));
                            }
                        }
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(s), col));
        } else if c == '-' && next == Some('>') {
            out.push((Tok::Arrow, col));
            i += 2;
        } else if c == '=' && next == Some('=') {
            out.push((Tok::EqEq, col));
            i += 2;
        } else if c == '!' && next == Some('=') {
            out.push((Tok::NotEq, col));
            i += 2;
        } else if c == '=' {
            out.push((Tok::Eq, col));
            i += 1;
        } else if c == ':' {
            out.push((Tok::Colon, col));
            i += 1;
        } else if c == '.' {
            out.push((Tok::Dot, col));
            i += 1;
        } else if c == '|' {
            out.push((Tok::Pipe, col));
            i += 1;
        } else if c == ',' {
            out.push((Tok::Comma, col));
            i += 1;
        } else if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                // A '-' followed by '>' ends the word: it starts an arrow.
                if chars[i] == '-' && chars.get(i + 1) == Some(&'>') {
                    break;
                }
                i += 1;
            }
            out.push((Tok::Word(chars[start..i].iter().collect()), col));
        } else {
            return Err(err(
                line,
                col,
                "a word, a number, a string or one of = == != -> : . | ,",
                quoted(c.encode_utf8(&mut [0; 4])),
            ));
        }
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

enum Parsed {
    Stmt(Stmt),
    RepeatStart(Span, Count),
    End(Span),
}

struct LineParser<'a> {
    toks: &'a [Spanned],
    pos: usize,
    line: usize,
    /// The column just past the line, for "found end of line" errors.
    end_col: u32,
}

const KEYWORDS: [&str; 5] = ["expect", "repeat", "end", "pidfd", "init"];

impl LineParser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn col(&self) -> u32 {
        self.toks.get(self.pos).map_or(self.end_col, |t| t.1)
    }

    fn found(&self) -> String {
        self.toks
            .get(self.pos)
            .map_or("end of line".into(), |t| t.0.describe())
    }

    fn fail<T>(&self, expected: &str) -> Result<T, ParseError> {
        Err(err(self.line, self.col(), expected, self.found()))
    }

    fn span(&self) -> Span {
        Span {
            line: self.line as u32 + 1,
            column: self.toks.first().map_or(1, |t| t.1),
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_tok(&mut self, t: &Tok, what: &str) -> Result<(), ParseError> {
        if self.eat(t) {
            Ok(())
        } else {
            self.fail(what)
        }
    }

    fn word(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => self.fail(what),
        }
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn end(&self) -> Result<(), ParseError> {
        if self.pos == self.toks.len() {
            Ok(())
        } else {
            self.fail("end of line")
        }
    }

    /// A task label: `init`, or a letter or '_' then letters, digits and '_'.
    fn label(&mut self) -> Result<String, ParseError> {
        let what = "a task label such as 'A' or 'init'";
        match self.peek_word() {
            Some(w) if is_label(w) => self.word(what),
            _ => self.fail(what),
        }
    }

    fn statement(&mut self) -> Result<Parsed, ParseError> {
        let span = self.span();
        match self.peek_word() {
            Some("expect") => {
                self.pos += 1;
                let fact = self.fact()?;
                self.end()?;
                Ok(Parsed::Stmt(Stmt::Expect { span, fact }))
            }
            Some("repeat") => {
                self.pos += 1;
                let what = "a count: a number, 'pid_levels_left' or 'user_levels_left'";
                let count = match self.peek_word() {
                    Some("pid_levels_left") => Count::PidLevelsLeft,
                    Some("user_levels_left") => Count::UserLevelsLeft,
                    Some(w) => match w.parse::<u32>() {
                        Ok(n) if n <= MAX_REPEAT => Count::Fixed(n),
                        _ => return self.fail(what),
                    },
                    None => return self.fail(what),
                };
                self.pos += 1;
                self.end()?;
                Ok(Parsed::RepeatStart(span, count))
            }
            Some("end") => {
                self.pos += 1;
                self.end()?;
                Ok(Parsed::End(span))
            }
            _ => {
                let first = self.label()?;
                if self.eat(&Tok::Eq) {
                    let second = self.label()?;
                    if self.peek().is_none() {
                        return Ok(Parsed::Stmt(Stmt::Alias {
                            span,
                            label: first,
                            target: second,
                        }));
                    }
                    if first == "init" {
                        return Err(err(
                            self.line,
                            span.column,
                            "a new label ('init' always names the root task)",
                            "'init'".into(),
                        ));
                    }
                    self.expect_tok(&Tok::Colon, "':' after the task label, or end of line")?;
                    self.call_stmt(span, Some(first), second)
                } else {
                    self.expect_tok(&Tok::Colon, "':' or '=' after the task label")?;
                    self.call_stmt(span, None, first)
                }
            }
        }
    }

    fn call_stmt(
        &mut self,
        span: Span,
        bind: Option<String>,
        task: String,
    ) -> Result<Parsed, ParseError> {
        let call_col = self.col();
        let call = self.call()?;
        if bind.is_some() && !matches!(call, Call::Clone(_)) {
            return Err(err(
                self.line,
                call_col,
                "'clone' or 'clone3' (only a clone gives a new task to name)",
                format!("'{}'", call.name()),
            ));
        }
        let expect = if self.eat(&Tok::Arrow) {
            let what = "'ok', 'any' or an errno name such as 'EINVAL'";
            let w = self.word(what)?;
            match w.as_str() {
                "ok" => ExpectOutcome::Ok,
                "any" => ExpectOutcome::Any,
                _ => match Errno::from_name(&w) {
                    Some(e) if w.starts_with('E') => ExpectOutcome::Errno(e),
                    _ => {
                        self.pos -= 1;
                        return self.fail(what);
                    }
                },
            }
        } else {
            ExpectOutcome::Ok
        };
        self.end()?;
        Ok(Parsed::Stmt(Stmt::Call(CallStmt {
            span,
            bind,
            task,
            call,
            expect,
        })))
    }

    /// Words joined by `|` or `,`, up to `->` or the end, read as clone flags.
    fn flags(&mut self) -> Result<u64, ParseError> {
        let col = self.col();
        let mut text = String::new();
        loop {
            let w = self.word("clone flags such as 'CLONE_NEWPID|CLONE_NEWNET' or '0'")?;
            text.push_str(&w);
            if self.eat(&Tok::Pipe) || self.eat(&Tok::Comma) {
                text.push('|');
            } else {
                break;
            }
        }
        parse_flags(&text).map_err(|e| {
            err(
                self.line,
                col,
                "clone flags such as 'CLONE_NEWPID|CLONE_NEWNET' or '0'",
                quoted(&e.word),
            )
        })
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, ParseError> {
        match self.peek_word().and_then(|w| w.parse::<T>().ok()) {
            Some(n) => {
                self.pos += 1;
                Ok(n)
            }
            None => self.fail(what),
        }
    }

    /// One operation and its arguments (`clone NEWPID`, `setns B.ns.net`): the one place an
    /// operation's text is read (`push_call` in print.rs is where it is written).
    fn call(&mut self) -> Result<Call, ParseError> {
        let what = "a call: clone, clone3, unshare, setns, exit, setresuid, setresgid, \
                    drop_caps, uid_map, gid_map, sethostname, link_up or set_max_namespaces";
        let Some(name) = self.peek_word().map(str::to_string) else {
            return self.fail(what);
        };
        self.pos += 1;
        Ok(match name.as_str() {
            "clone" | "clone3" => {
                let flags = self.flags()?;
                let via = if name == "clone3" {
                    CloneVia::Clone3
                } else {
                    CloneVia::Clone
                };
                Call::Clone(CloneArgs { flags, via })
            }
            "unshare" => Call::Unshare(self.flags()?),
            "setns" => {
                if self.peek_word() == Some("pidfd") {
                    self.pos += 1;
                    let task = self.label()?;
                    let nstype = self.flags()?;
                    Call::Setns {
                        fd: FdRef::Pidfd { task },
                        nstype,
                    }
                } else {
                    let task = self.label()?;
                    self.expect_tok(&Tok::Dot, "'.' as in 'B.ns.net', or 'pidfd B FLAGS'")?;
                    self.ns_keyword()?;
                    let entry = self.entry()?;
                    let nstype = match self.peek() {
                        Some(Tok::Word(_)) => self.flags()?,
                        _ => 0,
                    };
                    Call::Setns {
                        fd: FdRef::File { task, entry },
                        nstype,
                    }
                }
            }
            "exit" => Call::Exit(self.number("an exit code")?),
            "setresuid" => Call::Setresuid(self.number("a uid")?),
            "setresgid" => Call::Setresgid(self.number("a gid")?),
            "drop_caps" => {
                let mut caps = 0;
                loop {
                    let col = self.col();
                    let w = self.word("a capability such as 'CAP_SYS_ADMIN' or 'all'")?;
                    match parse_cap(&w) {
                        Some(c) => caps |= c,
                        None => {
                            return Err(err(
                                self.line,
                                col,
                                "a capability such as 'CAP_SYS_ADMIN' or 'all'",
                                quoted(&w),
                            ))
                        }
                    }
                    if !(self.eat(&Tok::Pipe) || self.eat(&Tok::Comma)) {
                        break;
                    }
                }
                Call::DropCaps(caps)
            }
            "uid_map" | "gid_map" => {
                let target = self.label()?;
                let mut extents = Vec::new();
                loop {
                    let first = self.number("the first id inside")?;
                    let lower_first = self.number("the first id outside")?;
                    let count = self.number("a count of ids")?;
                    extents.push(IdMapExtent {
                        first,
                        lower_first,
                        count,
                    });
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                let kind = if name == "uid_map" {
                    IdMapKind::Uid
                } else {
                    IdMapKind::Gid
                };
                Call::WriteIdMap {
                    target,
                    kind,
                    extents,
                }
            }
            "sethostname" => {
                let what = "a hostname, bare or in double quotes";
                match self.peek() {
                    Some(Tok::Str(s)) | Some(Tok::Word(s)) => {
                        let s = s.clone();
                        self.pos += 1;
                        Call::Sethostname(s)
                    }
                    _ => return self.fail(what),
                }
            }
            "link_up" => Call::LinkUp(self.word("an interface name such as 'lo'")?),
            "set_max_namespaces" => {
                let what = "a namespace type: mnt, uts, ipc, pid, net, user, cgroup or time";
                let ty = match self.peek_word().and_then(NsType::from_name) {
                    Some(t) => t,
                    None => return self.fail(what),
                };
                self.pos += 1;
                Call::SetMaxNamespaces(ty, self.number("a limit")?)
            }
            _ => {
                self.pos -= 1;
                return self.fail(what);
            }
        })
    }

    fn ns_keyword(&mut self) -> Result<(), ParseError> {
        if self.peek_word() == Some("ns") {
            self.pos += 1;
            self.expect_tok(&Tok::Dot, "'.' after 'ns'")
        } else {
            self.fail("'ns'")
        }
    }

    fn entry(&mut self) -> Result<NsEntry, ParseError> {
        let what = "a /proc/<pid>/ns entry: net, uts, ipc, pid, pid_for_children, user, mnt, \
                    cgroup, time or time_for_children";
        match self.peek_word().and_then(NsEntry::from_file_name) {
            Some(e) => {
                self.pos += 1;
                Ok(e)
            }
            None => self.fail(what),
        }
    }

    fn fact(&mut self) -> Result<Fact, ParseError> {
        let task = self.label()?;
        self.expect_tok(&Tok::Dot, "'.' and a field, as in 'A.pid'")?;
        let field_what = "a field: ns.ENTRY, pid, level, ppid, uid, gid, caps, hostname, \
                          link.IFNAME, interfaces or state";
        let field = match self.peek_word() {
            Some(w) => w.to_string(),
            None => return self.fail(field_what),
        };
        self.pos += 1;
        let check = match field.as_str() {
            "ns" => {
                self.expect_tok(&Tok::Dot, "'.' after 'ns'")?;
                let entry = self.entry()?;
                if self.eat(&Tok::Arrow) {
                    let col = self.col();
                    let w = self.word("an errno name such as 'ENOENT'")?;
                    match Errno::from_name(&w) {
                        Some(errno) if w.starts_with('E') => FactCheck::NsErrno { entry, errno },
                        _ => {
                            return Err(err(
                                self.line,
                                col,
                                "an errno name such as 'ENOENT'",
                                quoted(&w),
                            ))
                        }
                    }
                } else {
                    let equal = self.eq_or_ne()?;
                    let other = self.label()?;
                    self.expect_tok(&Tok::Dot, "'.' as in 'B.ns.net'")?;
                    self.ns_keyword()?;
                    let other_entry = self.entry()?;
                    FactCheck::SameNs {
                        entry,
                        equal,
                        other,
                        other_entry,
                    }
                }
            }
            "caps" => match self.peek() {
                Some(Tok::Word(w)) if w == "has" || w == "lacks" => {
                    let has = w == "has";
                    self.pos += 1;
                    let col = self.col();
                    let w = self.word("a capability such as 'CAP_SYS_ADMIN'")?;
                    match parse_cap(&w) {
                        Some(caps) => FactCheck::CapsHas { caps, has },
                        None => {
                            return Err(err(
                                self.line,
                                col,
                                "a capability such as 'CAP_SYS_ADMIN'",
                                quoted(&w),
                            ))
                        }
                    }
                }
                Some(Tok::EqEq) => {
                    self.pos += 1;
                    let what = "'all', 'none' or a number";
                    let caps = match self.peek_word() {
                        Some("all") => CAP_FULL_SET,
                        Some("none") => 0,
                        Some(w) => match parse_number(w) {
                            Some(n) => n,
                            None => return self.fail(what),
                        },
                        None => return self.fail(what),
                    };
                    self.pos += 1;
                    FactCheck::CapsEq(caps)
                }
                _ => return self.fail("'has', 'lacks' or '=='"),
            },
            "hostname" => {
                let equal = self.eq_or_ne()?;
                let rhs = match self.peek() {
                    Some(Tok::Str(s)) => {
                        let s = s.clone();
                        self.pos += 1;
                        StrRhs::Lit(s)
                    }
                    Some(Tok::Word(w)) => {
                        let w = w.clone();
                        self.pos += 1;
                        if self.eat(&Tok::Dot) {
                            if self.peek_word() != Some("hostname") {
                                return self.fail("'hostname' as in 'B.hostname'");
                            }
                            self.pos += 1;
                            StrRhs::Task(w)
                        } else {
                            StrRhs::Lit(w)
                        }
                    }
                    _ => return self.fail("a hostname or 'B.hostname'"),
                };
                FactCheck::Hostname { equal, rhs }
            }
            "link" => {
                self.expect_tok(&Tok::Dot, "'.' and an interface name, as in 'A.link.lo'")?;
                let ifname = self.word("an interface name such as 'lo'")?;
                self.expect_tok(&Tok::EqEq, "'=='")?;
                let want = match self.peek_word() {
                    Some("up") => LinkState::Up,
                    Some("down") => LinkState::Down,
                    Some("absent") => LinkState::Absent,
                    _ => return self.fail("'up', 'down' or 'absent'"),
                };
                self.pos += 1;
                FactCheck::Link { ifname, want }
            }
            "interfaces" => {
                self.expect_tok(&Tok::EqEq, "'=='")?;
                let mut names = vec![self.word("an interface name such as 'lo'")?];
                while self.eat(&Tok::Comma) {
                    names.push(self.word("an interface name")?);
                }
                FactCheck::Interfaces(names)
            }
            "state" => {
                self.expect_tok(&Tok::EqEq, "'=='")?;
                let what = "'running', 'exited CODE' or 'killed SIGNAL'";
                let want = match self.peek_word() {
                    Some("running") => {
                        self.pos += 1;
                        StateWant::Running
                    }
                    Some("exited") => {
                        self.pos += 1;
                        StateWant::Exited(self.number("an exit code")?)
                    }
                    Some("killed") => {
                        self.pos += 1;
                        StateWant::Killed(self.number("a signal number")?)
                    }
                    _ => return self.fail(what),
                };
                FactCheck::State(want)
            }
            other => match IntField::from_name(other) {
                Some(field) => {
                    let equal = self.eq_or_ne()?;
                    let rhs = match self.peek_word() {
                        Some(w) if w.parse::<i64>().is_ok() => {
                            let n = w.parse::<i64>().unwrap_or(0);
                            self.pos += 1;
                            IntRhs::Lit(n)
                        }
                        Some(w) if is_label(w) => {
                            let t = self.label()?;
                            self.expect_tok(&Tok::Dot, "'.' and a field, as in 'B.pid'")?;
                            let col = self.col();
                            let f = self.word("pid, level, ppid, uid or gid")?;
                            match IntField::from_name(&f) {
                                Some(f2) => IntRhs::Field(t, f2),
                                None => {
                                    return Err(err(
                                        self.line,
                                        col,
                                        "pid, level, ppid, uid or gid",
                                        quoted(&f),
                                    ))
                                }
                            }
                        }
                        _ => return self.fail("a number or a field such as 'B.pid'"),
                    };
                    FactCheck::Int { field, equal, rhs }
                }
                None => {
                    self.pos -= 1;
                    return self.fail(field_what);
                }
            },
        };
        Ok(Fact { task, check })
    }

    fn eq_or_ne(&mut self) -> Result<bool, ParseError> {
        if self.eat(&Tok::EqEq) {
            Ok(true)
        } else if self.eat(&Tok::NotEq) {
            Ok(false)
        } else {
            self.fail("'==' or '!='")
        }
    }
}

/// Whether a word can name a task.
pub(crate) fn is_label(w: &str) -> bool {
    let mut chars = w.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && (w == "init" || !KEYWORDS.contains(&w))
}

fn parse_number(w: &str) -> Option<u64> {
    match w.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => w.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nslab_machine::sched::*;

    const EXAMPLE: &str = "\
# unshare-newpid-moves-only-children
# unshare(CLONE_NEWPID) changes nsproxy->pid_ns_for_children, not the caller's
# active pid namespace (kernel/nsproxy.c, kernel/pid_namespace.c).
A = init
A: unshare CLONE_NEWPID            -> ok
expect A.ns.pid == init.ns.pid
expect A.ns.pid_for_children       -> ENOENT
B = A: clone 0                     -> ok
expect B.pid == 1
A: clone 0                         -> ok     # the namespace has an init now
B: exit 0
A: clone 0                         -> ENOMEM # its init is gone
";

    #[test]
    fn parses_the_issue_example() {
        let s = parse(EXAMPLE).unwrap();
        assert_eq!(s.name, "unshare-newpid-moves-only-children");
        assert!(s.explanation.starts_with("unshare(CLONE_NEWPID)"));
        assert_eq!(s.body.len(), 9);
        match &s.body[1] {
            Stmt::Call(c) => {
                assert_eq!(c.call, Call::Unshare(CLONE_NEWPID));
                assert_eq!(c.expect, ExpectOutcome::Ok);
                assert_eq!(c.span, Span { line: 5, column: 1 });
            }
            other => panic!("{other:?}"),
        }
        match &s.body[8] {
            Stmt::Call(c) => assert_eq!(c.expect, ExpectOutcome::Errno(Errno::ENOMEM)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_repeat_blocks_and_every_call() {
        let s = parse(
            "# all-calls\n\
             T = init\n\
             repeat pid_levels_left\n  T = T: clone NEWPID\nend\n\
             T: clone3 CLONE_NEWTIME -> EINVAL\n\
             T: setns init.ns.net CLONE_NEWNET -> EPERM\n\
             T: setns pidfd init NEWNET|NEWUTS\n\
             T: drop_caps CAP_SYS_ADMIN|sys_chroot\n\
             T: uid_map T 0 0 1, 1 100 2\n\
             T: sethostname \"a b\"\n\
             T: link_up lo\n\
             T: set_max_namespaces net 3\n\
             expect T.caps lacks CAP_SYS_ADMIN\n\
             expect T.link.lo == up\n\
             expect T.hostname != init.hostname\n\
             expect T.level == 32\n\
             expect T.state == exited 3\n",
        )
        .unwrap();
        assert!(matches!(
            &s.body[1],
            Stmt::Repeat { count: Count::PidLevelsLeft, body, .. } if body.len() == 1
        ));
        assert_eq!(s.body.len(), 15);
    }

    fn error_of(text: &str) -> ParseError {
        parse(text).unwrap_err()
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        let e = error_of("# x\nA = init\nA: clone NEWFOO\n");
        assert_eq!((e.line, e.column), (3, 10));
        assert!(e.expected.contains("clone flags"), "{e}");
        assert_eq!(e.found, "'NEWFOO'");

        let e = error_of("# x\nA: unshare NEWPID -> EWHAT\n");
        assert_eq!((e.line, e.column), (2, 22));
        assert!(e.expected.contains("errno"), "{e}");

        let e = error_of("A: clone 0\n");
        assert_eq!(e.line, 1);
        assert!(e.expected.contains("header"), "{e}");

        let e = error_of("# x\nrepeat 3\nA: clone 0\n");
        assert!(e.expected.contains("'end'"), "{e}");

        let e = error_of("# x\nexpect A.pid = 1\n");
        assert_eq!((e.line, e.column), (2, 14));
        assert_eq!(
            e.to_string(),
            "<input>:2:14: expected '==' or '!=', found '='"
        );

        let e = error_of("# x\nB = A: exit 0\n");
        assert!(e.expected.contains("only a clone"), "{e}");

        let e = error_of("# x\nA: sethostname \"abc\n");
        assert!(e.expected.contains("closing"), "{e}");
    }
}
