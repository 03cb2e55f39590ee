//! The four renderers. Each walks the graph in index order, so output is deterministic.

use crate::{Graph, Namespace, NsKind, Source};
use std::fmt::Write as _;

/// ` (new)` after what the step made.
fn new_mark(new: bool) -> &'static str {
    if new {
        " (new)"
    } else {
        ""
    }
}

/// `level 1, count 3, held by ...`: the details of a namespace, or empty.
fn ns_details(n: &Namespace, g: &Graph) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(l) = n.level {
        parts.push(format!("level {l}"));
    }
    if let Some(c) = n.count {
        parts.push(format!("count {c}"));
    }
    if let Some(p) = n.parent {
        parts.push(format!("parent {}", g.namespaces[p].label()));
    }
    if !n.held_by.is_empty() {
        parts.push(format!("held by {}", n.held_by.join(", ")));
    }
    parts.join(", ")
}

/// The terminal tree: the tasks with their nsproxy and namespaces, then the namespaces
/// nested under the user namespace that owns them.
pub(crate) fn render_tree(g: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", g.title);
    out.push('\n');
    let _ = writeln!(out, "tasks");
    let mut shown = vec![false; g.nsproxies.len()];
    let ntasks = g.tasks.len();
    for (ti, t) in g.tasks.iter().enumerate() {
        let last_task = ti + 1 == ntasks;
        let (branch, stem) = if last_task {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let _ = writeln!(
            out,
            "{branch}{} (pid {}){}",
            t.name,
            t.pids(),
            new_mark(t.new)
        );
        let mut lines: Vec<(String, Vec<String>)> = Vec::new();
        if let Some(u) = t.user_ns {
            let n = &g.namespaces[u];
            lines.push((
                format!("cred->user_ns        {}{}", n.label(), new_mark(n.new)),
                Vec::new(),
            ));
        }
        if let Some(p) = t.pid_ns {
            let n = &g.namespaces[p];
            lines.push((
                format!("task_active_pid_ns   {}{}", n.label(), new_mark(n.new)),
                Vec::new(),
            ));
        }
        if let Some(pi) = t.nsproxy {
            let p = &g.nsproxies[pi];
            let mut head = format!("nsproxy -> {}", p.name);
            let mut detail = Vec::new();
            if let Some(c) = p.count {
                detail.push(format!("count {c}"));
            }
            if p.inferred {
                detail.push("inferred from /proc/<pid>/ns".to_string());
            }
            if p.new {
                detail.push("new".to_string());
            }
            if shown[pi] {
                detail.push("as above".to_string());
            }
            if !detail.is_empty() {
                let _ = write!(head, " ({})", detail.join(", "));
            }
            let mut children = Vec::new();
            if !shown[pi] {
                shown[pi] = true;
                for (entry, ni) in &p.entries {
                    let n = &g.namespaces[*ni];
                    children.push(format!("{entry:<21} {}{}", n.label(), new_mark(n.new)));
                }
            }
            lines.push((head, children));
        }
        let nl = lines.len();
        for (li, (line, children)) in lines.into_iter().enumerate() {
            let last = li + 1 == nl;
            let (b, s) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            let _ = writeln!(out, "{stem}{b}{line}");
            let nc = children.len();
            for (ci, c) in children.into_iter().enumerate() {
                let cb = if ci + 1 == nc { "└─ " } else { "├─ " };
                let _ = writeln!(out, "{stem}{s}{cb}{c}");
            }
        }
    }
    out.push('\n');
    let _ = writeln!(out, "namespaces, under the user namespace that owns them");
    let roots: Vec<usize> = (0..g.namespaces.len())
        .filter(|&i| g.namespaces[i].owner.is_none())
        .collect();
    let nr = roots.len();
    for (ri, r) in roots.into_iter().enumerate() {
        tree_ns(g, r, "", ri + 1 == nr, true, &mut out, 0);
    }
    out
}

/// One namespace and, for a user namespace, what it owns.
fn tree_ns(
    g: &Graph,
    i: usize,
    prefix: &str,
    last: bool,
    root: bool,
    out: &mut String,
    depth: usize,
) {
    let n = &g.namespaces[i];
    let details = ns_details(n, g);
    let (branch, stem) = match (root, last) {
        (true, _) => ("", ""),
        (false, true) => ("└─ ", "   "),
        (false, false) => ("├─ ", "│  "),
    };
    let _ = write!(out, "{prefix}{branch}{}", n.label());
    if !details.is_empty() {
        let _ = write!(out, " {details}");
    }
    let _ = writeln!(out, "{}", new_mark(n.new));
    // A cycle cannot happen in a kernel's ownership tree; the depth bound keeps a builder's
    // bug from looping.
    if n.kind != NsKind::User || depth > 64 {
        return;
    }
    let owned: Vec<usize> = (0..g.namespaces.len())
        .filter(|&j| j != i && g.namespaces[j].owner == Some(i))
        .collect();
    let child_prefix = format!("{prefix}{stem}");
    let no = owned.len();
    for (k, j) in owned.into_iter().enumerate() {
        tree_ns(g, j, &child_prefix, k + 1 == no, false, out, depth + 1);
    }
}

/// Escapes a string for a DOT double-quoted string.
fn dot_str(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Which program the DOT is for: Graphviz proper, or layout-rs (which reads `width` as the
/// line width and knows fewer shapes).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Graphviz,
    Layout,
}

/// One arrow of the graph, named as DOT and Mermaid name nodes (`t0`, `p1`, `n2`): a task's
/// credentials, active pid namespace and nsproxy, an nsproxy's entries, then each namespace's
/// owner and parent (dashed). One list, so the two text formats draw the same arrows.
struct Edge {
    from: String,
    to: String,
    label: String,
    dashed: bool,
}

fn edges(g: &Graph) -> Vec<Edge> {
    let edge = |from: String, to: String, label: &str, dashed: bool| Edge {
        from,
        to,
        label: label.to_string(),
        dashed,
    };
    let mut out = Vec::new();
    for (i, t) in g.tasks.iter().enumerate() {
        if let Some(u) = t.user_ns {
            out.push(edge(format!("t{i}"), format!("n{u}"), "cred", false));
        }
        if let Some(p) = t.pid_ns {
            out.push(edge(format!("t{i}"), format!("n{p}"), "pid", false));
        }
        if let Some(p) = t.nsproxy {
            out.push(edge(format!("t{i}"), format!("p{p}"), "nsproxy", false));
        }
    }
    for (i, p) in g.nsproxies.iter().enumerate() {
        for (entry, n) in &p.entries {
            out.push(edge(format!("p{i}"), format!("n{n}"), entry, false));
        }
    }
    for (i, n) in g.namespaces.iter().enumerate() {
        if let Some(o) = n.owner {
            out.push(edge(format!("n{i}"), format!("n{o}"), "owner", true));
        }
        if let Some(p) = n.parent {
            out.push(edge(format!("n{i}"), format!("n{p}"), "parent", true));
        }
    }
    out
}

/// Graphviz DOT.
pub(crate) fn render_dot(g: &Graph) -> String {
    dot(g, Flavour::Graphviz)
}

fn dot(g: &Graph, fl: Flavour) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph nslab {{");
    let _ = writeln!(out, "  rankdir=LR;");
    if fl == Flavour::Graphviz {
        let _ = writeln!(out, "  label=\"{}\";", dot_str(&g.title));
        let _ = writeln!(out, "  node [fontname=\"monospace\", fontsize=11];");
        let _ = writeln!(out, "  edge [fontname=\"monospace\", fontsize=9];");
    }
    let new_attr = |new: bool| -> &'static str {
        match (new, fl) {
            (false, _) => "",
            (true, Flavour::Graphviz) => ", color=\"#d00000\", penwidth=3",
            (true, Flavour::Layout) => ", color=\"#d00000\", width=3",
        }
    };
    for (i, t) in g.tasks.iter().enumerate() {
        let _ = writeln!(
            out,
            "  t{i} [shape=box, label=\"{} pid {}{}\"{}];",
            dot_str(&t.name),
            t.pids(),
            new_mark(t.new),
            new_attr(t.new)
        );
    }
    for (i, p) in g.nsproxies.iter().enumerate() {
        let count = p.count.map(|c| format!(" count {c}")).unwrap_or_default();
        let shape = match fl {
            Flavour::Graphviz => "box, style=rounded",
            Flavour::Layout => "box",
        };
        let _ = writeln!(
            out,
            "  p{i} [shape={shape}, label=\"{}{count}{}\"{}];",
            dot_str(&p.name),
            new_mark(p.new),
            new_attr(p.new)
        );
    }
    for (i, n) in g.namespaces.iter().enumerate() {
        let mut label = n.label();
        if let Some(c) = n.count {
            let _ = write!(label, " count {c}");
        }
        if let Some(l) = n.level {
            let _ = write!(label, " level {l}");
        }
        if !n.held_by.is_empty() {
            let _ = write!(label, " held by {}", n.held_by.join(", "));
        }
        label.push_str(new_mark(n.new));
        let shape = match fl {
            Flavour::Graphviz => "box, style=\"rounded,filled\"",
            Flavour::Layout => "box, style=filled",
        };
        let _ = writeln!(
            out,
            "  n{i} [shape={shape}, fillcolor=\"{}\", label=\"{}\"{}];",
            n.kind.colour(),
            dot_str(&label),
            new_attr(n.new)
        );
    }
    for e in edges(g) {
        let style = if e.dashed { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\"{style}];",
            e.from, e.to, e.label
        );
    }
    let _ = writeln!(out, "}}");
    out
}

/// Escapes a Mermaid quoted label (Mermaid reads `#quot;` for a double quote).
fn mermaid_str(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Mermaid flowchart source, for the book.
pub(crate) fn render_mermaid(g: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "title: \"{}\"", mermaid_str(&g.title));
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "flowchart LR");
    for (i, t) in g.tasks.iter().enumerate() {
        let _ = writeln!(
            out,
            "  t{i}[\"{}<br/>pid {}\"]",
            mermaid_str(&t.name),
            t.pids()
        );
    }
    for (i, p) in g.nsproxies.iter().enumerate() {
        let count = p
            .count
            .map(|c| format!("<br/>count {c}"))
            .unwrap_or_default();
        let _ = writeln!(out, "  p{i}([\"{}{count}\"])", mermaid_str(&p.name));
    }
    for (i, n) in g.namespaces.iter().enumerate() {
        let mut label = n.label();
        if let Some(c) = n.count {
            let _ = write!(label, "<br/>count {c}");
        }
        if let Some(l) = n.level {
            let _ = write!(label, "<br/>level {l}");
        }
        for h in &n.held_by {
            let _ = write!(label, "<br/>held by {}", mermaid_str(h));
        }
        let _ = writeln!(out, "  n{i}[\"{label}\"]");
    }
    for e in edges(g) {
        let arrow = if e.dashed { "-.->" } else { "-->" };
        let _ = writeln!(out, "  {} {arrow}|{}| {}", e.from, e.label, e.to);
    }
    for kind in NsKind::ALL {
        let members: Vec<String> = g
            .namespaces
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == kind)
            .map(|(i, _)| format!("n{i}"))
            .collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  classDef {} fill:{},stroke:#333,color:#000",
            kind.name(),
            kind.colour()
        );
        let _ = writeln!(out, "  class {} {}", members.join(","), kind.name());
    }
    let mut new: Vec<String> = Vec::new();
    new.extend(
        g.tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.new)
            .map(|(i, _)| format!("t{i}")),
    );
    new.extend(
        g.nsproxies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.new)
            .map(|(i, _)| format!("p{i}")),
    );
    new.extend(
        g.namespaces
            .iter()
            .enumerate()
            .filter(|(_, n)| n.new)
            .map(|(i, _)| format!("n{i}")),
    );
    if !new.is_empty() {
        let _ = writeln!(out, "  classDef new stroke:#d00000,stroke-width:3px");
        let _ = writeln!(out, "  class {} new", new.join(","));
    }
    out
}

/// SVG, laid out in-process by layout-rs from the graph's DOT (no Graphviz binary needed).
/// A title and a legend of the type colours are added as SVG text.
pub(crate) fn render_svg(g: &Graph) -> String {
    if g.tasks.len() + g.nsproxies.len() + g.namespaces.len() > LAYOUT_MAX_NODES {
        return columns_svg(g);
    }
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};
    let src = dot(g, Flavour::Layout);
    let mut parser = DotParser::new(&src);
    let ast = match parser.process() {
        Ok(a) => a,
        // The DOT is ours: a parse error is a bug in this file, shown as an SVG that says so
        // rather than a panic in the middle of a course.
        Err(e) => return error_svg(&format!("layout-rs could not parse the graph: {e}")),
    };
    let mut gb = GraphBuilder::new();
    gb.visit_graph(&ast);
    let mut vg = gb.get();
    let mut svg = SVGWriter::new();
    // Without layout-rs's crossing optimisation, whose cost grows much faster than the graph
    // (measured: 60 nodes 4.7 s with it, 0.03 s without).
    vg.do_it(false, true, false, &mut svg);
    let body = sort_style_block(&svg.finalize());
    add_legend(&body, g)
}

/// layout-rs writes its `<style>` rules from a hash map, in an order that changes from run
/// to run: sorting the lines makes the SVG byte-identical for the same graph.
fn sort_style_block(svg: &str) -> String {
    let (Some(a), Some(b)) = (svg.find("<style>\n"), svg.find("</style>")) else {
        return svg.to_string();
    };
    let start = a + "<style>\n".len();
    if b < start {
        return svg.to_string();
    }
    let mut rules: Vec<&str> = svg[start..b].lines().collect();
    rules.sort_unstable();
    let mut out = String::with_capacity(svg.len());
    out.push_str(&svg[..start]);
    for r in rules {
        out.push_str(r);
        out.push('\n');
    }
    out.push_str(&svg[b..]);
    out
}

/// Above this many nodes layout-rs's placement takes seconds (about 1.3 s at 300 nodes, and
/// it grows faster than the square), so a large graph is drawn in fixed columns instead.
pub const LAYOUT_MAX_NODES: usize = 150;

/// A large graph in four columns, laid out in linear time: tasks, nsproxies, namespaces, user
/// namespaces; edges as straight lines (owner and parent links dashed), new objects in red.
fn columns_svg(g: &Graph) -> String {
    const ROW: usize = 22;
    const TOP: usize = 60;
    const COL: [usize; 4] = [10, 260, 480, 780];
    const W: [usize; 4] = [230, 200, 280, 280];
    let label_ns = |n: &Namespace| {
        let mut l = n.label();
        if let Some(c) = n.count {
            let _ = write!(l, " count {c}");
        }
        l
    };
    // (column, row) of each node.
    let mut rows = [0usize; 4];
    let mut place = |col: usize| {
        let r = rows[col];
        rows[col] += 1;
        (col, r)
    };
    let tasks: Vec<(usize, usize)> = g.tasks.iter().map(|_| place(0)).collect();
    let proxies: Vec<(usize, usize)> = g.nsproxies.iter().map(|_| place(1)).collect();
    let nss: Vec<(usize, usize)> = g
        .namespaces
        .iter()
        .map(|n| place(if n.kind == NsKind::User { 3 } else { 2 }))
        .collect();
    let height = TOP + ROW * rows.iter().copied().max().unwrap_or(0) + 20;
    let width = COL[3] + W[3] + 10;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    let _ = write!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
    );
    let _ = write!(
        out,
        "<text x=\"5\" y=\"16\" font-family=\"monospace\" font-size=\"13\">{}</text>",
        xml_escape(&g.title)
    );
    for (i, k) in NsKind::ALL.iter().enumerate() {
        let x = 5 + i * 90;
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"26\" width=\"14\" height=\"14\" fill=\"{}\" stroke=\"#333\"/><text x=\"{}\" y=\"38\" font-family=\"monospace\" font-size=\"12\">{}</text>",
            k.colour(),
            x + 18,
            k.name()
        );
    }
    let centre = |(c, r): (usize, usize)| (COL[c], TOP + r * ROW + 9);
    let line = |out: &mut String, a: (usize, usize), b: (usize, usize), dashed: bool| {
        let (ax, ay) = centre(a);
        let (bx, by) = centre(b);
        let (x1, x2) = if a.0 < b.0 {
            (ax + W[a.0], bx)
        } else {
            (ax, bx + W[b.0])
        };
        let dash = if dashed {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<line x1=\"{x1}\" y1=\"{ay}\" x2=\"{x2}\" y2=\"{by}\" stroke=\"#666\" stroke-opacity=\"0.4\"{dash}/>"
        );
    };
    for (i, t) in g.tasks.iter().enumerate() {
        if let Some(p) = t.nsproxy {
            line(&mut out, tasks[i], proxies[p], false);
        }
        if let Some(u) = t.user_ns {
            line(&mut out, tasks[i], nss[u], false);
        }
    }
    for (i, p) in g.nsproxies.iter().enumerate() {
        for (_, n) in &p.entries {
            line(&mut out, proxies[i], nss[*n], false);
        }
    }
    for (i, n) in g.namespaces.iter().enumerate() {
        for o in [n.owner, n.parent].into_iter().flatten() {
            if nss[i].0 != nss[o].0 {
                line(&mut out, nss[i], nss[o], true);
            }
        }
    }
    let node = |out: &mut String, at: (usize, usize), fill: &str, text: &str, new: bool| {
        let (x, y) = (COL[at.0], TOP + at.1 * ROW);
        let (stroke, sw) = if new { ("#d00000", 3) } else { ("#333", 1) };
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"18\" rx=\"4\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{sw}\"/><text x=\"{}\" y=\"{}\" font-family=\"monospace\" font-size=\"11\">{}</text>",
            W[at.0],
            x + 4,
            y + 13,
            xml_escape(text)
        );
    };
    for (i, t) in g.tasks.iter().enumerate() {
        node(
            &mut out,
            tasks[i],
            "white",
            &format!("{} pid {}", t.name, t.pids()),
            t.new,
        );
    }
    for (i, p) in g.nsproxies.iter().enumerate() {
        let text = match p.count {
            Some(c) => format!("{} count {c}", p.name),
            None => p.name.clone(),
        };
        node(&mut out, proxies[i], "#eeeeee", &text, p.new);
    }
    for (i, n) in g.namespaces.iter().enumerate() {
        node(&mut out, nss[i], n.kind.colour(), &label_ns(n), n.new);
    }
    out.push_str("</svg>\n");
    out
}

/// An SVG that only says what went wrong.
fn error_svg(msg: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"5\" y=\"25\">{}</text></svg>\n",
        xml_escape(msg)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Puts the title and a legend of the namespace colours in a band above layout-rs's drawing.
fn add_legend(svg: &str, g: &Graph) -> String {
    const BAND: u32 = 50;
    // layout-rs writes `<svg width="W" height="H" viewBox="0 0 W H" ...>` first.
    let Some(start) = svg.find("<svg") else {
        return svg.to_string();
    };
    let Some(end) = svg[start..].find('>').map(|e| start + e) else {
        return svg.to_string();
    };
    let head = &svg[start..end];
    let attr = |name: &str| -> Option<f64> {
        let key = format!("{name}=\"");
        let at = head.find(&key)? + key.len();
        let rest = &head[at..];
        rest[..rest.find('"')?].parse().ok()
    };
    let (Some(w), Some(h)) = (attr("width"), attr("height")) else {
        return svg.to_string();
    };
    let width = w.max(8.0 * 90.0);
    let height = h + f64::from(BAND);
    let mut out = String::new();
    out.push_str(&svg[..start]);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    let _ = write!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
    );
    let _ = write!(
        out,
        "<text x=\"5\" y=\"16\" font-family=\"monospace\" font-size=\"13\">{}</text>",
        xml_escape(&g.title)
    );
    for (i, k) in NsKind::ALL.iter().enumerate() {
        let x = 5 + i * 90;
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"26\" width=\"14\" height=\"14\" fill=\"{}\" stroke=\"#333\"/><text x=\"{}\" y=\"38\" font-family=\"monospace\" font-size=\"12\">{}</text>",
            k.colour(),
            x + 18,
            k.name()
        );
    }
    let marker = match g.source {
        Source::Model => "model",
        Source::Live => "live",
    };
    let _ = write!(
        out,
        "<g transform=\"translate(0 {BAND})\" class=\"{marker}\">"
    );
    // layout-rs's own document, nested: an <svg> inside an <svg> is valid and keeps its
    // coordinates.
    out.push_str(&svg[start..]);
    out.push_str("</g></svg>\n");
    out
}
