//! `nslab trace --html` in headless Chromium: the page loads without script errors, the
//! arrow keys move through the events and change the objects shown, and a screenshot is
//! left for review (its path is printed). Without Chromium the trial is ignored and says
//! `SKIPPED: <test>: <reason>`.

use libtest_mimic::{Arguments, Trial};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new("sh")
                .args(["-c", &format!("command -v {c}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Loads `page#hash` in headless Chromium: (DOM after the page's scripts ran, its log).
fn load(
    chromium: &str,
    dir: &Path,
    page: &Path,
    hash: &str,
    extra: &[String],
) -> Result<(String, String), String> {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(extra)
        .arg(format!("file://{}#{hash}", page.display()))
        .output()
        .map_err(|e| format!("cannot run {chromium}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{chromium} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// The text of the element with id `id` (up to its first tag).
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\">");
    dom.find(&open)
        .map(|i| &dom[i + open.len()..])
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("")
}

/// The objects table as text.
fn objects(dom: &str) -> String {
    let start = dom.find("id=\"objects\"").unwrap_or(0);
    let end = dom[start..]
        .find("</table>")
        .map_or(dom.len(), |e| start + e);
    dom[start..end].to_string()
}

fn page_test(chromium: &str) -> Result<(), String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-page");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .args([
            "trace",
            "--html",
            "clone",
            "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let html = String::from_utf8(out.stdout).map_err(|e| e.to_string())?;
    // Self-contained: nothing is fetched (links to the kernel source are only links).
    for bad in ["<script src", "<link", "@import", "url("] {
        if html.contains(bad) {
            return Err(format!("the page loads something: {bad}"));
        }
    }
    let page = dir.join("clone.html");
    std::fs::write(&page, &html).map_err(|e| e.to_string())?;

    let (dom0, log) = load(chromium, &dir, &page, "step=0", &["--dump-dom".into()])?;
    for (dom, log) in [(&dom0, &log)] {
        if dom.contains("data-errors") || log.contains("Uncaught") {
            return Err(format!("script errors: {log}"));
        }
    }
    if !text_of(&dom0, "where").starts_with("event 0 of 109") {
        return Err(format!("at 0: {}", text_of(&dom0, "where")));
    }
    // Keys: from event 60, right three times and left once is event 62.
    let (dom, log) = load(
        chromium,
        &dir,
        &page,
        "step=60&keys=RRRL",
        &["--dump-dom".into()],
    )?;
    if dom.contains("data-errors") || log.contains("Uncaught") {
        return Err(format!("script errors after keys: {log}"));
    }
    let at = text_of(&dom, "where");
    if !at.starts_with("event 62 of 109") {
        return Err(format!("keys moved to: {at}"));
    }
    let (dom61, _) = load(chromium, &dir, &page, "step=61", &["--dump-dom".into()])?;
    if objects(&dom) == objects(&dom0) {
        return Err("the objects at event 62 are those before the call".into());
    }
    // The graph at event 62 has the new net namespace (allocated at event 60), not at 0.
    let new_net = "net:[4026531842] count 1 (new)";
    if !text_of(&dom, "graph").contains(new_net) || text_of(&dom0, "graph").contains(new_net) {
        return Err(format!(
            "graph at 62:\n{}\ngraph at 0:\n{}",
            text_of(&dom, "graph"),
            text_of(&dom0, "graph")
        ));
    }
    // The same state, whichever way the page got there.
    let (dom62, _) = load(chromium, &dir, &page, "step=62", &["--dump-dom".into()])?;
    if objects(&dom) != objects(&dom62)
        || objects(&dom61) == objects(&dom62)
            && text_of(&dom61, "where") == text_of(&dom62, "where")
    {
        return Err("keys and #step disagree".into());
    }
    // Fold: a click on copy_process's [-] (event index 3) hides its body, up to its return.
    if dom0.contains("class=\"hidden\"") {
        return Err("rows hidden before any fold".into());
    }
    let (folded, _) = load(
        chromium,
        &dir,
        &page,
        "step=0&fold=3",
        &["--dump-dom".into()],
    )?;
    let hidden = folded.matches("class=\"future hidden\"").count();
    if hidden < 50 || !folded.contains("[+] ") {
        return Err(format!("folding copy_process hid {hidden} rows"));
    }
    if !dom.contains("https://elixir.bootlin.com/linux/v6.18/source/") {
        return Err("no pinned kernel source link".into());
    }
    // The screenshot, where the lesson's `lo` is allocated in loopback_net_init.
    let png = dir.join("clone-at-event-72-lo.png");
    let _ = std::fs::remove_file(&png);
    load(
        chromium,
        &dir,
        &page,
        "step=72",
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,1000".into(),
        ],
    )?;
    let head = std::fs::read(&png).unwrap_or_default();
    if head.len() < 1000 || !head.starts_with(b"\x89PNG") {
        return Err(format!("no screenshot at {}", png.display()));
    }
    println!("screenshot for review: {}", png.display());
    Ok(())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let name = "trace_html_in_headless_chromium";
    let trial = match chromium() {
        Some(c) => Trial::test(name, move || Ok(page_test(c)?)),
        None => {
            eprintln!("SKIPPED: {name}: chromium is not installed (.ci/run installs it)");
            Trial::test(name, || Ok(())).with_ignored_flag(true)
        }
    };
    libtest_mimic::run(&args, vec![trial]).exit_code()
}
