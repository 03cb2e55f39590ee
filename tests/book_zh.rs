//! The Chinese edition of the book (`book/po/zh-CN.po`), checked without the mdbook binaries.
//!
//! The English messages are extracted the way `mdbook-xgettext` extracts them, with the same
//! code: mdBook's own loader reads `book/`, mdBook's own links preprocessor expands the
//! `{{#include}}`s (so transcripts and listings are messages too), and mdbook-i18n-helpers'
//! `create_catalogs` (the body of the xgettext renderer) turns the book into messages. The
//! trials, one per rule, so the counts say what was checked:
//! - `catalogue: every message is translated`: each message of today's English book has a
//!   non-empty translation that is not marked fuzzy. A change to an English page without its
//!   translation fails here.
//! - `catalogue: no stale message`: every message of the catalogue is one of today's book.
//! - `catalogue: code blocks are byte-identical`: a console transcript or listing is never
//!   translated, so the transcript tests cover both editions.
//! - `catalogue: inline code, links and alerts are kept`: a translation keeps the message's
//!   `inline code` spans, link targets and alert marker (`[!NOTE]` ...), exactly; the one
//!   link allowed to differ is the landing page's link to the other edition.
//! - `edition: alerts survive translation`: the book translated by the gettext preprocessor
//!   (the library behind `mdbook-gettext`) and then by `book/tools/gfm-alerts.pl` (run with
//!   perl, as mdbook runs it) has every alert of the English book as an alert.
//! - `edition: the landing pages link each other`.
//! - `edition: alert titles and answer toggles have Chinese labels`: `book/theme/zh-CN.css`
//!   gives a Chinese title to every alert kind the book uses (mdBook writes "Note" ...) and to
//!   chapter 13's `<summary>Answer</summary>`, neither of which gettext can translate.
//!
//! `NSLAB_PO=update cargo test --test book_zh` rewrites `book/po/zh-CN.po` for today's book:
//! messages that left the book are dropped, new ones are added untranslated (code blocks
//! filled in, since they are copied as they are), translations are kept. The trials then list
//! what a translator has to do.

use libtest_mimic::{Arguments, Failed, Trial};
use mdbook_driver::builtin_preprocessors::LinkPreprocessor;
use mdbook_driver::config::Config;
use mdbook_driver::MDBook;
use mdbook_i18n_helpers::preprocessors::Gettext;
use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use mdbook_renderer::RenderContext;
use polib::catalog::Catalog;
use polib::message::Message;
use polib::po_file;
use pulldown_cmark::{Event, Tag};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;

/// The language of the edition, as in `book.language` and the catalogue's file name.
const LANGUAGE: &str = "zh-CN";
/// The English landing page's link to this edition, and this edition's link back.
const TO_EDITION: &str = "zh-CN/index.html";
const TO_ENGLISH: &str = "../index.html";
/// The alert markers of mdBook 0.5 (GitHub's syntax), as gettext escapes them in a message.
const ALERTS: [&str; 5] = ["NOTE", "TIP", "IMPORTANT", "WARNING", "CAUTION"];

fn book_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book")
}

fn catalogue_path() -> PathBuf {
    book_root().join("po").join(format!("{LANGUAGE}.po"))
}

/// The English book as the renderers get it (loaded, and its includes expanded), with the
/// book's root and configuration.
struct Loaded {
    root: PathBuf,
    config: Config,
    book: Book,
}

fn english_book() -> Result<&'static Loaded, Failed> {
    static BOOK: OnceLock<Result<Loaded, String>> = OnceLock::new();
    let loaded = BOOK.get_or_init(|| {
        let md = MDBook::load(book_root()).map_err(|e| format!("book/ does not load: {e:#}"))?;
        let ctx = PreprocessorContext::new(md.root.clone(), md.config.clone(), "html".into());
        let book = LinkPreprocessor::new()
            .run(&ctx, md.book.clone())
            .map_err(|e| format!("the links preprocessor failed: {e:#}"))?;
        Ok(Loaded {
            root: md.root,
            config: md.config,
            book,
        })
    });
    loaded.as_ref().map_err(|e| e.as_str().into())
}

/// One message of the English book: its text and where it comes from.
struct English {
    msgid: String,
    source: String,
}

/// The English messages, in the order `mdbook-xgettext` writes them.
fn english() -> Result<&'static Vec<English>, Failed> {
    static MESSAGES: OnceLock<Result<Vec<English>, String>> = OnceLock::new();
    let messages = MESSAGES.get_or_init(|| {
        let md = english_book().map_err(|e| e.message().unwrap_or_default().to_string())?;
        let ctx = RenderContext::new(md.root.clone(), md.book.clone(), md.config.clone(), "po");
        let catalogs =
            mdbook_i18n_helpers::xgettext::create_catalogs(&ctx, std::fs::read_to_string)
                .map_err(|e| format!("extracting the messages failed: {e:#}"))?;
        let mut out = Vec::new();
        for catalog in catalogs.values() {
            for m in catalog.messages() {
                if !m.msgid().is_empty() {
                    out.push(English {
                        msgid: m.msgid().to_string(),
                        source: m.source().to_string(),
                    });
                }
            }
        }
        Ok(out)
    });
    messages.as_ref().map_err(|e| e.as_str().into())
}

/// The catalogue: msgid to (msgstr, fuzzy).
type Translations = BTreeMap<String, (String, bool)>;

fn catalogue() -> Result<&'static Translations, Failed> {
    static CATALOGUE: OnceLock<Result<Translations, String>> = OnceLock::new();
    let catalogue = CATALOGUE.get_or_init(|| {
        let path = catalogue_path();
        let parsed =
            po_file::parse(&path).map_err(|e| format!("{} does not parse: {e}", path.display()))?;
        let mut out = BTreeMap::new();
        for m in parsed.messages() {
            if m.msgid().is_empty() {
                continue;
            }
            let msgstr = m.msgstr().map_err(|e| format!("{e}"))?.to_string();
            out.insert(m.msgid().to_string(), (msgstr, m.is_fuzzy()));
        }
        Ok(out)
    });
    catalogue.as_ref().map_err(|e| e.as_str().into())
}

fn is_code_block(msgid: &str) -> bool {
    msgid.starts_with("```") || msgid.starts_with("~~~")
}

/// A message shortened to one line, for a failure's list.
fn short(text: &str) -> String {
    let line: String = text.chars().take(90).collect();
    line.replace('\n', "\\n")
}

fn fail_if_any(what: &str, errors: Vec<String>) -> Result<(), Failed> {
    if errors.is_empty() {
        return Ok(());
    }
    let shown = errors
        .iter()
        .take(40)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    let more = match errors.len() {
        n if n > 40 => format!("\n... and {} more", n - 40),
        _ => String::new(),
    };
    Err(format!(
        "{} {what} in book/po/{LANGUAGE}.po (NSLAB_PO=update cargo test --test book_zh brings it up to today's book):\n{shown}{more}",
        errors.len()
    )
    .into())
}

fn check_translated() -> Result<(), Failed> {
    let catalogue = catalogue()?;
    let mut errors = Vec::new();
    for m in english()? {
        match catalogue.get(&m.msgid) {
            None => errors.push(format!("missing ({}): {}", m.source, short(&m.msgid))),
            Some((s, _)) if s.is_empty() => {
                errors.push(format!("untranslated ({}): {}", m.source, short(&m.msgid)))
            }
            Some((_, true)) => errors.push(format!("fuzzy ({}): {}", m.source, short(&m.msgid))),
            Some(_) => {}
        }
    }
    fail_if_any("messages without a translation", errors)
}

fn check_no_stale() -> Result<(), Failed> {
    let today: BTreeSet<&str> = english()?.iter().map(|m| m.msgid.as_str()).collect();
    let errors = catalogue()?
        .keys()
        .filter(|id| !today.contains(id.as_str()))
        .map(|id| format!("not in today's book: {}", short(id)))
        .collect();
    fail_if_any("stale messages", errors)
}

fn check_code_blocks() -> Result<(), Failed> {
    let errors = catalogue()?
        .iter()
        .filter(|(id, (s, _))| is_code_block(id) && !s.is_empty() && s != *id)
        .map(|(id, _)| format!("a code block is changed: {}", short(id)))
        .collect();
    fail_if_any("translated code blocks", errors)
}

/// The `inline code` spans and the link targets of a message, each sorted, as the Markdown
/// parser mdBook uses reads them.
fn code_and_links(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut code, mut links) = (Vec::new(), Vec::new());
    for event in pulldown_cmark::Parser::new(text) {
        match event {
            Event::Code(c) => code.push(c.to_string()),
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            _ => {}
        }
    }
    code.sort();
    links.sort();
    (code, links)
}

/// The alert a message opens with, as gettext writes it (`\[!NOTE\]`).
fn alert(text: &str) -> Option<&'static str> {
    ALERTS
        .iter()
        .find(|kind| text.starts_with(&format!("\\[!{kind}\\]")))
        .copied()
}

fn check_kept() -> Result<(), Failed> {
    let mut errors = Vec::new();
    for (id, (s, _)) in catalogue()? {
        if s.is_empty() || is_code_block(id) {
            continue;
        }
        let (code_en, mut links_en) = code_and_links(id);
        let (code_zh, links_zh) = code_and_links(s);
        if code_en != code_zh {
            errors.push(format!(
                "inline code differs: {}\n    en {code_en:?}\n    zh {code_zh:?}",
                short(id)
            ));
        }
        for t in links_en.iter_mut() {
            if t == TO_EDITION {
                *t = TO_ENGLISH.to_string();
            }
        }
        links_en.sort();
        if links_en != links_zh {
            errors.push(format!(
                "links differ: {}\n    en {links_en:?}\n    zh {links_zh:?}",
                short(id)
            ));
        }
        if alert(id) != alert(s) {
            errors.push(format!("alert marker differs: {}", short(id)));
        }
    }
    fail_if_any("translations that lose code, links or alerts", errors)
}

/// The alert kinds of a book's chapters, in order, as mdBook will see them (`> [!KIND]` on a
/// line of its own).
fn alerts_of(book: &Book) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for item in book.iter() {
        let BookItem::Chapter(ch) = item else {
            continue;
        };
        let name = ch
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        for line in ch.content.lines() {
            let line = line.trim_start().trim_start_matches('>').trim();
            if let Some(kind) = ALERTS.iter().find(|k| line == format!("[!{k}]")) {
                found.push((name.clone(), *kind));
            }
        }
    }
    found
}

/// The English book translated as `mdbook build` with `book.language = zh-CN` does: the
/// gettext preprocessor, then `book/tools/gfm-alerts.pl` through perl.
fn translated_book() -> Result<Book, Failed> {
    let md = english_book()?;
    let mut config = md.config.clone();
    config.book.language = Some(LANGUAGE.to_string());
    let ctx = PreprocessorContext::new(md.root.clone(), config, "html".into());
    let book = Gettext
        .run(&ctx, md.book.clone())
        .map_err(|e| format!("the gettext preprocessor failed: {e:#}"))?;
    let input = serde_json::to_vec(&(&ctx, &book)).map_err(|e| e.to_string())?;
    let mut child = Command::new("perl")
        .arg("tools/gfm-alerts.pl")
        .current_dir(book_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot run perl (it runs book/tools/gfm-alerts.pl, as mdbook does): {e}")
        })?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&input)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("book/tools/gfm-alerts.pl failed: {}", out.status).into());
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("book/tools/gfm-alerts.pl wrote no book: {e}").into())
}

fn check_alerts_survive() -> Result<(), Failed> {
    let want = alerts_of(&english_book()?.book);
    if want.is_empty() {
        return Err("the English book has no alert: this check would check nothing".into());
    }
    let got = alerts_of(&translated_book()?);
    if want != got {
        return Err(format!(
            "alerts of the English book: {want:?}\nalerts of the {LANGUAGE} edition: {got:?}"
        )
        .into());
    }
    Ok(())
}

fn check_landing_pages() -> Result<(), Failed> {
    let english = &english_book()?.book;
    let first = |book: &Book| {
        book.iter()
            .find_map(|item| match item {
                BookItem::Chapter(ch) if ch.path.is_some() => Some(ch.content.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    let mut errors = Vec::new();
    if !first(english).contains(&format!("]({TO_EDITION})")) {
        errors.push(format!(
            "the English landing page does not link {TO_EDITION}"
        ));
    }
    if !first(&translated_book()?).contains(&format!("]({TO_ENGLISH})")) {
        errors.push(format!(
            "the {LANGUAGE} landing page does not link {TO_ENGLISH}"
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n").into())
    }
}

/// The labels the Chinese edition shows in CSS (`book/theme/zh-CN.css`): alert titles,
/// which mdBook writes in English, and the exercises' `<summary>Answer</summary>`, an HTML
/// block that gettext does not offer for translation.
fn check_labels() -> Result<(), Failed> {
    let root = book_root();
    let css_path = root.join("theme/zh-CN.css");
    let css =
        std::fs::read_to_string(&css_path).map_err(|e| format!("{}: {e}", css_path.display()))?;
    let toml = std::fs::read_to_string(root.join("book.toml")).map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    if !toml.contains("\"theme/zh-CN.css\"") {
        errors.push("book.toml does not list theme/zh-CN.css in additional-css".to_string());
    }
    // The Chinese label a rule gives: `selector::after { ... content: "..." }` (the first
    // rule of the selector with a content).
    let label = |selector: &str| -> Option<String> {
        let head = format!("{selector}::after {{");
        css.match_indices(&head).find_map(|(at, _)| {
            let rule = &css[at..at + css[at..].find('}')?];
            let text = rule.split_once("content: \"")?.1.split_once('"')?.0;
            text.chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
                .then(|| text.to_string())
        })
    };
    let book = &english_book()?.book;
    let kinds: BTreeSet<&str> = alerts_of(book).into_iter().map(|(_, k)| k).collect();
    for kind in kinds {
        let selector = format!(
            "html[lang=\"zh-CN\"] .blockquote-tag-{} > .blockquote-tag-title",
            kind.to_lowercase()
        );
        if label(&selector).is_none() {
            errors.push(format!(
                "no Chinese title for [!{kind}] alerts in theme/zh-CN.css"
            ));
        }
    }
    let mut summaries = BTreeSet::new();
    for item in book.iter() {
        let BookItem::Chapter(ch) = item else {
            continue;
        };
        for piece in ch.content.split("<summary>").skip(1) {
            summaries.insert(piece.split("</summary>").next().unwrap_or("").to_string());
        }
    }
    if !summaries.is_empty() {
        if summaries.iter().any(|s| s != "Answer") {
            errors.push(format!(
                "theme/zh-CN.css labels every <summary> \"答案\" (answer), but the book has {summaries:?}"
            ));
        }
        if label("html[lang=\"zh-CN\"] details > summary").is_none() {
            errors.push("no Chinese label for <summary>Answer</summary> in theme/zh-CN.css".into());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n").into())
    }
}

/// `NSLAB_PO=update`: the catalogue rewritten for today's book.
fn update() -> Result<(), String> {
    let path = catalogue_path();
    let mut old = po_file::parse(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut new = Catalog::new(std::mem::take(&mut old.metadata));
    let english = english().map_err(|e| e.message().unwrap_or_default().to_string())?;
    let (mut kept, mut added) = (0, 0);
    for m in english {
        let previous = old.find_message(None, &m.msgid, None);
        let mut builder = Message::build_singular();
        builder
            .with_source(m.source.clone())
            .with_msgid(m.msgid.clone());
        match previous {
            Some(p) if !p.msgstr().unwrap_or_default().is_empty() => {
                kept += 1;
                builder.with_msgstr(p.msgstr().unwrap_or_default().to_string());
                builder.with_flags(p.flags().clone());
            }
            _ if is_code_block(&m.msgid) => {
                added += 1;
                builder.with_msgstr(m.msgid.clone());
            }
            _ => {
                added += 1;
                builder.with_msgstr(String::new());
            }
        }
        new.append_or_update(builder.done());
    }
    let dropped = old.messages().filter(|m| !m.msgid().is_empty()).count() - kept;
    po_file::write(&new, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "NSLAB_PO=update: {}: {kept} translations kept, {added} messages added, {dropped} dropped",
        path.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    if std::env::var_os("NSLAB_PO").is_some_and(|v| v == "update") {
        if let Err(e) = update() {
            eprintln!("NSLAB_PO=update: {e}");
            return ExitCode::FAILURE;
        }
    }
    let trials = vec![
        Trial::test("catalogue: every message is translated", check_translated),
        Trial::test("catalogue: no stale message", check_no_stale),
        Trial::test(
            "catalogue: code blocks are byte-identical",
            check_code_blocks,
        ),
        Trial::test(
            "catalogue: inline code, links and alerts are kept",
            check_kept,
        ),
        Trial::test("edition: alerts survive translation", check_alerts_survive),
        Trial::test(
            "edition: the landing pages link each other",
            check_landing_pages,
        ),
        Trial::test(
            "edition: alert titles and answer toggles have Chinese labels",
            check_labels,
        ),
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}
