//! The course book (`book/`), checked without the mdbook binary.
//!
//! One trial per check and per file, so the counts say what was checked:
//! - `summary`: every `SUMMARY.md` entry is a file, and every page under `book/src` (outside
//!   `transcripts/` and `listings/`) is an entry.
//! - `includes: <page>`: every `{{#include path[:anchor]}}` names a file that exists, and the
//!   anchor (or line range) exists in it; the page has no console block of its own (those
//!   live in `transcripts/`, where they are run); every transcript and listing is included by
//!   some page.
//! - `links: <page>`: every internal link names a file (and a heading of it, by the heading's
//!   explicit `{#id}`, which the Chinese edition keeps when it translates the words) that exists, and
//!   every kernel link is pinned to v6.18 or v4.19 and names a file that the model mirrors
//!   (see [`code_map`]) or, for a function, its identifier, which the model must name (see
//!   [`check_kernel_link`]).
//! - `transcript: model/<file>`: trycmd runs the page's commands and compares their output.
//! - `transcript: live/<file>`: the same, only as root on a machine where the real backend
//!   starts; elsewhere `SKIPPED: <file>: <reason>`, counted as ignored.
//! - `picture: <file>`: each picture in `book/src/pictures/` is what `nslab graph` draws today
//!   (see [`PICTURES`]); `pictures: every picture is listed and shown` checks the folder, the
//!   list and the pages agree.
//! - `host_safety`, run after all the others: the host is as it was before.
//!
//! `TRYCMD=overwrite cargo test --test book` rewrites the transcripts with the output of today's
//! commands (trycmd keeps the `[..]` and `...` redactions it can), and
//! `NSLAB_PICTURES=overwrite cargo test --test book` redraws the pictures.

mod common;

use libtest_mimic::{Completion, Failed, Trial};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::OnceLock;

/// The repository root (the root package's manifest directory).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `book/src`.
fn src() -> PathBuf {
    root().join("book/src")
}

fn main() -> ExitCode {
    // The copy of this binary that runs one live transcript in a private mount namespace
    // (see `run_in_private_mounts`): no harness, no counts, just the transcript.
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() == 3 && argv[1] == PRIVATE_MOUNTS_ARG {
        return match run_transcript(Path::new(&argv[2]), true) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}", e.message().unwrap_or("failed"));
                ExitCode::FAILURE
            }
        };
    }
    // trycmd runs commands without a cwd of their own in the test's cwd: the repository root,
    // so that a page can say `nslab run scenarios/<file>.scn`.
    std::env::set_current_dir(root()).expect("cannot enter the repository root");

    let host = common::host_before();
    let mut trials = vec![Trial::test("summary", check_summary)];
    for page in pages() {
        let name = rel(&page);
        let p = page.clone();
        trials.push(Trial::test(format!("includes: {name}"), move || {
            check_includes(&p)
        }));
        trials.push(Trial::test(format!("links: {name}"), move || {
            check_links(&page)
        }));
    }
    trials.push(Trial::test(
        "includes: every transcript and listing is shown",
        check_transcripts_included,
    ));
    trials.push(Trial::test(
        "pictures: every picture is listed and shown",
        check_pictures_listed,
    ));
    for &(file, args) in PICTURES {
        trials.push(Trial::test(format!("picture: {file}"), move || {
            check_picture(file, args)
        }));
    }
    for file in transcripts("model") {
        let name = format!("model/{}", file_name(&file));
        trials.push(Trial::test(format!("transcript: {name}"), move || {
            run_transcript(&file, false)
        }));
    }
    for file in transcripts("live") {
        let name = format!("live/{}", file_name(&file));
        // Decided here, before the run, so that the SKIPPED line stands on a line of its own.
        let uses_demo = programs(&read(&file).unwrap_or_default()).contains("./clone_demo");
        let gate = live_gate().and_then(|()| match uses_demo {
            true => clone_demo().map(drop),
            false => Ok(()),
        });
        if let Err(why) = &gate {
            println!("SKIPPED: {name}: {why}");
        }
        trials.push(Trial::ignorable_test(
            format!("transcript: {name}"),
            move || match gate {
                Ok(()) => run_in_private_mounts(&file).map(|()| Completion::Completed),
                Err(why) => Ok(Completion::ignored_with(why)),
            },
        ));
    }
    // Then `host_safety`, after every trial: the host must be as it was before.
    common::run_then_check_host(trials, host)
}

fn rel(path: &Path) -> String {
    path.strip_prefix(src())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn read(path: &Path) -> Result<String, Failed> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

/// The pages of the book: every `.md` under `book/src` but the transcripts, sorted.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(src())
        .expect("cannot read book/src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

/// The transcripts of one kind (`model` or `live`), sorted.
fn transcripts(kind: &str) -> Vec<PathBuf> {
    let dir = src().join("transcripts").join(kind);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

// ---- SUMMARY.md ----

fn check_summary() -> Result<(), Failed> {
    let text = read(&src().join("SUMMARY.md"))?;
    let summary = mdbook_summary::parse_summary(&text)
        .map_err(|e| format!("SUMMARY.md does not parse: {e:#}"))?;
    let mut listed = BTreeSet::new();
    let mut errors = Vec::new();
    // Depth first, in the order of the file, so that errors come in that order too.
    let mut stack: Vec<&mdbook_summary::SummaryItem> = summary
        .prefix_chapters
        .iter()
        .chain(&summary.numbered_chapters)
        .chain(&summary.suffix_chapters)
        .rev()
        .collect();
    while let Some(item) = stack.pop() {
        if let mdbook_summary::SummaryItem::Link(link) = item {
            match &link.location {
                Some(location) => {
                    let path = src().join(location);
                    if !path.is_file() {
                        errors.push(format!(
                            "SUMMARY.md: `{}` links {}, which does not exist",
                            link.name,
                            location.display()
                        ));
                    }
                    listed.insert(path);
                }
                None => errors.push(format!(
                    "SUMMARY.md: `{}` is a draft chapter (no file); every chapter must have one",
                    link.name
                )),
            }
            stack.extend(link.nested_items.iter().rev());
        }
    }
    for page in pages() {
        let name = file_name(&page);
        if name != "SUMMARY.md" && !listed.contains(&page) {
            errors.push(format!("{name} is not listed in SUMMARY.md"));
        }
    }
    fail_if_any(errors)
}

fn fail_if_any(errors: Vec<String>) -> Result<(), Failed> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n").into())
    }
}

// ---- {{#include}} ----

/// One `{{#include path[:rest]}}` of a page: the path and what follows it.
struct Include {
    line: usize,
    path: String,
    rest: Option<String>,
}

/// The includes of a page; an escaped `\{{#include}}` is text, not an include.
fn includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("{{#include ") {
            let escaped = rest[..at].ends_with('\\');
            let after = &rest[at + "{{#include ".len()..];
            let Some(end) = after.find("}}") else { break };
            if !escaped {
                let arg = after[..end].trim();
                let (path, tail) = match arg.split_once(':') {
                    Some((p, t)) => (p, Some(t.to_string())),
                    None => (arg, None),
                };
                found.push(Include {
                    line: n + 1,
                    path: path.to_string(),
                    rest: tail,
                });
            }
            rest = &after[end..];
        }
    }
    found
}

fn check_includes(page: &Path) -> Result<(), Failed> {
    let text = read(page)?;
    let name = rel(page);
    let mut errors = Vec::new();
    // A console block written in the page itself would be shown but never run.
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```").unwrap_or("");
        if fence.starts_with("console") || fence.starts_with("trycmd") {
            errors.push(format!(
                "{name}:{}: a console block in a page is not checked: put it in transcripts/ and include it",
                n + 1
            ));
        }
    }
    for inc in includes(&text) {
        let target = page.parent().unwrap().join(&inc.path);
        let Ok(body) = std::fs::read_to_string(&target) else {
            errors.push(format!(
                "{name}:{}: includes {}, which does not exist",
                inc.line, inc.path
            ));
            continue;
        };
        let Some(rest) = inc.rest else { continue };
        let first = rest.split(':').next().unwrap_or("");
        if first.is_empty() || first.chars().all(|c| c.is_ascii_digit()) {
            // A line range `a:b`, `a:`, `:b` or `a`: the lines must exist.
            let last = rest
                .split(':')
                .filter_map(|s| s.parse::<usize>().ok())
                .max()
                .unwrap_or(0);
            if last > body.lines().count() {
                errors.push(format!(
                    "{name}:{}: includes line {last} of {}, which has {} lines",
                    inc.line,
                    inc.path,
                    body.lines().count()
                ));
            }
        } else if !has_anchor(&body, first) {
            errors.push(format!(
                "{name}:{}: {} has no ANCHOR: {first} ... ANCHOR_END: {first}",
                inc.line, inc.path
            ));
        }
    }
    fail_if_any(errors)
}

/// Whether `body` has `ANCHOR: name` and, after it, `ANCHOR_END: name` (mdBook's markers).
fn has_anchor(body: &str, name: &str) -> bool {
    let marker = |line: &str, word: &str| {
        line.split_once(word).is_some_and(|(_, after)| {
            after
                .trim_start()
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .next()
                == Some(name)
        })
    };
    let start = body.lines().position(|l| marker(l, "ANCHOR:"));
    let end = body.lines().position(|l| marker(l, "ANCHOR_END:"));
    matches!((start, end), (Some(s), Some(e)) if s < e)
}

fn check_transcripts_included() -> Result<(), Failed> {
    let mut included = BTreeSet::new();
    for page in pages() {
        for inc in includes(&read(&page)?) {
            if let Ok(path) = page.parent().unwrap().join(&inc.path).canonicalize() {
                included.insert(path);
            }
        }
    }
    let mut errors = Vec::new();
    let listings: Vec<PathBuf> = std::fs::read_dir(src().join("listings"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    for file in transcripts("model")
        .into_iter()
        .chain(transcripts("live"))
        .chain(listings)
    {
        if !included.contains(&file.canonicalize().unwrap()) {
            errors.push(format!(
                "{} is checked but shown on no page: include it (or a part of it) or remove it",
                rel(&file)
            ));
        }
    }
    fail_if_any(errors)
}

// ---- pictures ----

/// The book's pictures, each drawn by `nslab graph` from the model: the file under
/// `book/src/pictures/` and the arguments that draw it. They are committed so that the book
/// builds without nslab, and redrawn by the test: a picture that is not what today's nslab
/// draws fails (as cargo's man pages fail CI when stale), and `NSLAB_PICTURES=overwrite`
/// writes the new one.
const PICTURES: &[(&str, &[&str])] = &[
    (
        "clone-no-flags.svg",
        &["graph", "clone", "0", "--format", "svg"],
    ),
    (
        "clone-newns-newpid-newnet.svg",
        &[
            "graph",
            "clone",
            "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET",
            "--format",
            "svg",
        ],
    ),
    (
        "unshare-newpid.svg",
        &["graph", "unshare", "CLONE_NEWPID", "--format", "svg"],
    ),
];

fn check_picture(file: &str, args: &[&str]) -> Result<(), Failed> {
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args(args)
        .output()
        .map_err(|e| format!("cannot run nslab: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nslab {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let path = src().join("pictures").join(file);
    if std::env::var_os("NSLAB_PICTURES").is_some_and(|v| v == "overwrite") {
        std::fs::write(&path, &out.stdout)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        return Ok(());
    }
    let committed =
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if committed != out.stdout {
        return Err(format!(
            "pictures/{file} is stale: `nslab {}` draws something else today; \
             `NSLAB_PICTURES=overwrite cargo test --test book` redraws it",
            args.join(" ")
        )
        .into());
    }
    Ok(())
}

/// Every file in `pictures/` is in [`PICTURES`], every entry has its file, and every picture
/// is shown on some page (an image link `pictures/<file>`).
fn check_pictures_listed() -> Result<(), Failed> {
    let mut errors = Vec::new();
    let listed: BTreeSet<&str> = PICTURES.iter().map(|(f, _)| *f).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(src().join("pictures"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    for f in &on_disk {
        if !listed.contains(f.as_str()) {
            errors.push(format!(
                "pictures/{f} is not in PICTURES: nothing redraws it"
            ));
        }
    }
    let mut shown = String::new();
    for page in pages() {
        shown.push_str(&read(&page)?);
    }
    for f in &listed {
        if !on_disk.contains(*f) {
            errors.push(format!("pictures/{f} is listed but missing"));
        }
        if !shown.contains(&format!("(pictures/{f})")) {
            errors.push(format!("pictures/{f} is shown on no page"));
        }
    }
    fail_if_any(errors)
}

// ---- links ----

/// Where the model's modules are.
const MODEL_DIRS: [&str; 2] = ["sim/src", "machine/src"];

/// The kernel files the model mirrors: every path named in the opening `//!` lines of
/// `sim/src/*.rs` (and `machine/src/*.rs`).
///
/// These lines are the source of truth rather than ARCHITECTURE.md's table because they sit in
/// the code beside the functions the book describes, every module must have one (the house
/// style), and they give whole paths where the table abbreviates (`fs_struct.h`, `errno*.h`).
fn code_map() -> &'static BTreeSet<String> {
    static MAP: OnceLock<BTreeSet<String>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut files = BTreeSet::new();
        for text in model_sources() {
            for line in text.lines().take_while(|l| l.starts_with("//!")) {
                for word in line.split_whitespace() {
                    let word = word.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                    let source = word.ends_with(".c") || word.ends_with(".h");
                    if source && word.contains('/') && !word.contains('`') {
                        files.insert(word.to_string());
                    }
                }
            }
        }
        files
    })
}

/// The text of every module of the model (`sim/src/*.rs`) and of the contract crate it shares
/// with the real backend (`machine/src/*.rs`, which mirrors the uapi headers: errno, clone
/// flags, capabilities).
fn model_sources() -> &'static [String] {
    static SOURCES: OnceLock<Vec<String>> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let mut texts = Vec::new();
        for dir in MODEL_DIRS.iter().map(|d| root().join(d)) {
            for entry in std::fs::read_dir(dir).expect("cannot read the model") {
                let path = entry.expect("cannot read the model").path();
                if path.extension().is_some_and(|e| e == "rs") {
                    texts.push(std::fs::read_to_string(&path).expect("cannot read a model module"));
                }
            }
        }
        texts
    })
}

const KERNEL_SITE: &str = "https://elixir.bootlin.com/linux/";

/// Whether `name` occurs in the model's source as a whole identifier.
fn model_names(name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    model_sources().iter().any(|text| {
        text.match_indices(name).any(|(at, _)| {
            let before = text[..at].chars().next_back().is_none_or(|c| !ident(c));
            let after = text[at + name.len()..]
                .chars()
                .next()
                .is_none_or(|c| !ident(c));
            before && after
        })
    })
}

/// Checks a kernel link. Two forms, both pinned to v6.18 (or v4.19 for the lesson's kernel):
/// a file, `.../<version>/source/<file>[#L<line>]`, which must be a file of the code map; and
/// a kernel identifier, `.../<version>/C/ident/<name>` (Elixir's cross-reference at that
/// version, which opens with the definition at its line), whose label must be the
/// identifier in code and which the model must mirror (name it in its source).
fn check_kernel_link(url: &str, label: &str) -> Result<(), String> {
    let rest = &url[KERNEL_SITE.len()..];
    let pinned = |version: &str| match version {
        "v6.18" | "v4.19" => Ok(()),
        _ => Err(format!(
            "{url}: pin the version to v6.18 (or v4.19 for the lesson's kernel), not {version}"
        )),
    };
    if let Some((version, name)) = rest.split_once("/C/ident/") {
        pinned(version)?;
        let ident = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(format!("{url}: {name} is not a C identifier"));
        }
        if label != format!("`{name}`") {
            return Err(format!(
                "{url}: a link to {name} is labelled `{name}` in code, not {label}"
            ));
        }
        if !model_names(name) {
            return Err(format!(
                "{url}: the model does not mirror {name} (no identifier {name} in {})",
                MODEL_DIRS.map(|d| format!("{d}/*.rs")).join(", ")
            ));
        }
        return Ok(());
    }
    let (version, path) = rest.split_once("/source/").ok_or_else(|| {
        format!("{url}: not a source link (/linux/<version>/source/<file>) or an identifier link (/linux/<version>/C/ident/<name>)")
    })?;
    pinned(version)?;
    let (file, line) = match path.split_once('#') {
        Some((f, l)) => (f, Some(l)),
        None => (path, None),
    };
    if let Some(line) = line {
        let digits = line.strip_prefix('L').unwrap_or("");
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{url}: a line anchor is #L<number>"));
        }
    }
    if !code_map().contains(file) {
        return Err(format!(
            "{url}: {file} is not a file the model mirrors (the `//!` lines of {} name: {})",
            MODEL_DIRS.map(|d| format!("{d}/*.rs")).join(", "),
            code_map().iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}

/// A link of a page, with the line it is on and its label as written (`` `copy_process` ``).
struct Link {
    line: usize,
    url: String,
    label: String,
}

/// The label of a link written `[label](target)` (or `![label](target)`).
fn label_of(source: &str) -> String {
    let inner = source
        .trim_start_matches('!')
        .strip_prefix('[')
        .unwrap_or(source);
    match inner.rfind("](") {
        Some(end) => inner[..end].to_string(),
        None => inner.to_string(),
    }
}

fn parser_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES
}

fn links(text: &str) -> Vec<Link> {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    Parser::new_ext(text, parser_options())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => Some(Link {
                line: line_of(range.start),
                url: dest_url.to_string(),
                label: label_of(&text[range]),
            }),
            _ => None,
        })
        .collect()
}

/// The ids mdBook gives the headings of a page: an explicit `{#id}`, or the heading's text in
/// lower case with spaces as `-` and other punctuation dropped, `-1`, `-2` ... on repeats;
/// each with whether it is explicit.
fn heading_ids(text: &str) -> BTreeMap<String, bool> {
    let mut ids = BTreeMap::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut current: Option<(String, Option<String>)> = None;
    for event in Parser::new_ext(text, parser_options()) {
        match event {
            Event::Start(Tag::Heading { id, .. }) => {
                current = Some((String::new(), id.map(|i| i.to_string())));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((buf, _)) = current.as_mut() {
                    buf.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((buf, explicit)) = current.take() {
                    let is_explicit = explicit.is_some();
                    let base = explicit.unwrap_or_else(|| normalize_id(&buf));
                    let n = seen.entry(base.clone()).or_insert(0);
                    let id = if *n == 0 {
                        base.clone()
                    } else {
                        format!("{base}-{n}")
                    };
                    ids.insert(id, is_explicit);
                    *n += 1;
                }
            }
            _ => {}
        }
    }
    ids
}

fn normalize_id(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

fn check_links(page: &Path) -> Result<(), Failed> {
    let text = read(page)?;
    let name = rel(page);
    let mut errors = Vec::new();
    for link in links(&text) {
        let url = link.url.as_str();
        let at = format!("{name}:{}", link.line);
        if url.starts_with(KERNEL_SITE) {
            if let Err(e) = check_kernel_link(url, &link.label) {
                errors.push(format!("{at}: {e}"));
            }
        } else if url.contains("elixir.bootlin.com") {
            errors.push(format!(
                "{at}: {url}: kernel links are {KERNEL_SITE}<version>/source/<file>"
            ));
        } else if url.contains("://") || url.starts_with("mailto:") {
            // Other sites are not fetched by the tests.
        } else if url == "zh-CN/index.html" {
            // The Chinese edition, built beside this one from book/po/zh-CN.po
            // (tests/book_zh.rs checks the catalogue).
            if !root().join("book/po/zh-CN.po").is_file() {
                errors.push(format!("{at}: {url}: there is no book/po/zh-CN.po"));
            }
        } else {
            let (file, fragment) = match url.split_once('#') {
                Some((f, frag)) => (f, Some(frag)),
                None => (url, None),
            };
            let target = if file.is_empty() {
                page.to_path_buf()
            } else {
                page.parent().unwrap().join(file)
            };
            if !target.exists() {
                errors.push(format!("{at}: {url}: {file} does not exist"));
                continue;
            }
            if let Some(fragment) = fragment {
                if target.extension().is_some_and(|e| e == "md") {
                    match heading_ids(&read(&target)?).get(fragment) {
                        None => errors.push(format!(
                            "{at}: {url}: no heading with id `{fragment}` there"
                        )),
                        // The Chinese edition translates headings, and an id derived from
                        // the words of one with it: a link needs the heading's own `{#id}`.
                        Some(false) => errors.push(format!(
                            "{at}: {url}: give the heading an explicit {{#{fragment}}} (a derived id changes in the Chinese edition)"
                        )),
                        Some(true) => {}
                    }
                }
            }
        }
    }
    fail_if_any(errors)
}

// ---- transcripts ----

/// Why live transcripts cannot run here, if they cannot: they need root (util-linux's
/// `unshare` and `nsenter` make namespaces without a user namespace), a real backend that
/// starts, and the C demo of the system-calls chapter built.
fn live_gate() -> Result<(), String> {
    static GATE: OnceLock<Result<(), String>> = OnceLock::new();
    GATE.get_or_init(|| {
        if !effective_uid_is_root() {
            return Err(
                "needs root (the transcripts make namespaces with unshare and nsenter)".into(),
            );
        }
        common::real_available()
    })
    .clone()
}

fn effective_uid_is_root() -> bool {
    // The effective uid, as /proc/self/status reports it (second field of `Uid:`).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The first argument of the copy of this test that runs one live transcript in a mount
/// namespace of its own.
const PRIVATE_MOUNTS_ARG: &str = "__nslab-book-live-transcript";

/// Runs one live transcript in a copy of this test binary started by util-linux's `unshare`
/// in a new mount namespace, where `/` is private and `/run` an empty tmpfs. A page may then
/// show what a reader types on a host (`ip netns add NAME`, which makes `/run/netns` a mount
/// point and `/run/netns/NAME` a bind mount) while the test leaves the host's mount table and
/// `/run` untouched: every mount dies with that namespace. This process stays in its own mount
/// namespace (it has threads); only the child, a fresh process, moves.
fn run_in_private_mounts(file: &Path) -> Result<(), Failed> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this test binary: {e}"))?;
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount -t tmpfs nslab-book-run /run && exec "$0" "$@""#)
        .arg(exe)
        .arg(PRIVATE_MOUNTS_ARG)
        .arg(file)
        .status()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: failed in its private mount namespace ({status})",
            rel(file)
        )
        .into())
    }
}

/// The C program of chapter 4, compiled once with `cc`, or why it cannot be.
fn clone_demo() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cc = find_program("cc").ok_or("no C compiler (`cc`) on PATH")?;
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clone_demo");
            let source = src().join("listings/clone_demo.c");
            let status = Command::new(cc)
                .args(["-O2", "-Wall", "-Werror", "-o"])
                .arg(&out)
                .arg(&source)
                .status()
                .map_err(|e| format!("cannot run cc: {e}"))?;
            if status.success() {
                Ok(out)
            } else {
                Err(format!("cc failed on {} ({status})", source.display()))
            }
        })
        .clone()
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// The programs a transcript runs: the first word of every `$ ` line in its console blocks.
fn programs(text: &str) -> BTreeSet<String> {
    let mut in_console = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_console = !in_console && (info.starts_with("console") || info.starts_with("trycmd"));
            continue;
        }
        if in_console {
            if let Some(cmd) = line.strip_prefix("$ ") {
                if let Some(first) = cmd.split_whitespace().next() {
                    found.insert(first.to_string());
                }
            }
        }
    }
    found
}

/// Runs one transcript with trycmd. Every program it names must be found: trycmd skips a step
/// whose program it does not know, and a skipped step must not pass for a checked one.
fn run_transcript(file: &Path, live: bool) -> Result<(), Failed> {
    let text = read(file)?;
    let cases = trycmd::TestCases::new();
    cases.case(file);
    // A transcript's shell line may call `nslab` itself (`sh -c 'nslab unshare ... &'`), as a
    // reader's shell would find it: the built binary's directory comes first on PATH.
    let nslab_dir = Path::new(env!("CARGO_BIN_EXE_nslab"))
        .parent()
        .expect("the binary has a directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![nslab_dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let joined = std::env::join_paths(dirs).map_err(|e| format!("PATH: {e}"))?;
    cases.env("PATH", joined.to_string_lossy().into_owned());
    // No `cases.timeout(..)`: trycmd implements it with a process-wide SIGCHLD handler and a
    // pipe that stay open for good, which host-safety would rightly count as leaked fds. The
    // listings' scripts bound their own waits instead.
    for program in programs(&text) {
        let path = match program.as_str() {
            "nslab" => PathBuf::from(env!("CARGO_BIN_EXE_nslab")),
            "./clone_demo" if live => clone_demo()?,
            // Any other `./NAME` is a script of the book's listings, shown on the same page.
            local if local.starts_with("./") => src().join("listings").join(&local[2..]),
            name => find_program(name).ok_or_else(|| {
                format!("{}: runs `{name}`, which is not installed here", rel(file))
            })?,
        };
        cases.register_bin(program, path);
    }
    // trycmd panics when a case fails, after printing the difference.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cases.run())).map_err(|_| {
        format!(
            "{}: the output differs (see above; TRYCMD=overwrite rewrites it)",
            rel(file)
        )
        .into()
    })
}
