//! `nslab trace --html`: one self-contained page (no network, no server) for a projector:
//! the call tree with fold and unfold, a slider and the arrow keys to move through the
//! events, the objects and counts at the current event (the same pure fold as `nslab step`,
//! done by the page's script over the embedded events), the graph at every event (drawn
//! here, each distinct drawing once) and after the call, and the pinned kernel source link
//! of each function. `#step=N` in the address opens the page at event N (what the headless
//! test uses).

use super::trace::Recorded;
use nslab_graph::Format;
use nslab_sim::stepper::{apply, graph_at, initial_state};
use nslab_sim::trace::{render_tree, source_url, Step};
use serde_json::json;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page.
pub fn page(rec: &Recorded) -> String {
    let lines: Vec<String> = rec
        .records
        .iter()
        .map(|r| render_tree(std::slice::from_ref(r)).trim_end().to_string())
        .collect();
    let initial = initial_state(&rec.before);
    // The graph at every event, drawn as `nslab graph` draws it: each distinct drawing once,
    // and for every event the index of its drawing (only count events change it).
    let n = rec.records.len();
    let mut drawings: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut graph_at_event = Vec::with_capacity(n + 1);
    let mut state = initial.clone();
    let mut last: Option<usize> = None;
    for k in 0..=n {
        let changes = k == 0
            || k == n
            || !matches!(
                rec.records[k - 1].step,
                Step::Enter | Step::Leave { .. } | Step::Check { .. } | Step::Set { .. }
            );
        if k > 0 {
            apply(&mut state, &rec.records[k - 1]);
        }
        let i = match (changes, last) {
            (false, Some(i)) => i,
            _ => {
                let text = Format::Tree.render(&graph_at(&rec.before, &rec.after, &state, k, n));
                let next = drawings.len();
                let i = *index.entry(text.clone()).or_insert(next);
                if i == next {
                    drawings.push(text);
                }
                i
            }
        };
        last = Some(i);
        graph_at_event.push(i);
    }
    let data = json!({
        "drawings": drawings,
        "graph_at": graph_at_event,
        "description": rec.description,
        "kernel": rec.kernel,
        "records": rec.records,
        "lines": lines,
        "initial": initial.counts,
        "source": source_url(rec.kernel, ""),
        "result": rec.errno.map_or("0".to_string(), |e| format!("-{}", e.name())),
    });
    // `</` cannot end the script element from inside the JSON.
    let data = data.to_string().replace("</", "<\\/");
    let after = esc(&Format::Tree.render(&rec.after));
    let title = esc(&rec.description);
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nslab: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
#tree {{ font-family: monospace; white-space: pre; font-size: 13px; max-height: 60vh; overflow: auto; border: 1px solid #ccc; }}
#tree div.cur {{ background: #ffe08a; }}
#tree div.future {{ color: #aaa; }}
#tree div.hidden {{ display: none; }}
.fold {{ cursor: pointer; color: #06c; }}
#panel {{ display: flex; gap: 2em; }}
pre {{ font-size: 12px; }}
table {{ border-collapse: collapse; font-family: monospace; font-size: 13px; }}
td {{ padding: 0 0.6em; }}
tr.changed {{ background: #e0f0ff; }}
</style></head>
<body>
<h1>{title}</h1>
<p>model of Linux {kernel}; result <b id="result"></b>. Keys: &larr; &rarr; step, Home/End.</p>
<input id="slider" type="range" min="0" value="0" style="width: 90%">
<p id="where"></p>
<p>kernel source: <a id="src" href="#"></a></p>
<div id="tree"></div>
<div id="panel">
<div><h2>objects at this event</h2><table id="objects"></table></div>
<div><h2>graph at this event</h2><pre id="graph"></pre></div>
<div><h2>graph after the call</h2><pre>{after}</pre></div>
</div>
<script>
// Any script error is written on the page, where a test (or a teacher) sees it.
window.addEventListener("error", (e) => {{
  document.body.dataset.errors = (document.body.dataset.errors || "") + e.message + "; ";
}});
</script>
<script id="data" type="application/json">{data}</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const N = D.records.length;
const slider = document.getElementById("slider");
slider.max = N;
document.getElementById("result").textContent = D.result;
const tree = document.getElementById("tree");
const rows = D.lines.map((text, i) => {{
  const div = document.createElement("div");
  const r = D.records[i];
  if (r.kind === "enter") {{
    const f = document.createElement("span");
    f.className = "fold"; f.textContent = "[-] ";
    f.onclick = (e) => {{ e.stopPropagation(); toggle(i, f); }};
    div.appendChild(f);
  }}
  div.appendChild(document.createTextNode(text));
  div.onclick = () => show(i + 1);
  tree.appendChild(div);
  return div;
}});
// Fold: hide every event inside the call that starts at `i`.
function toggle(i, f) {{
  const d = D.records[i].depth;
  const hide = f.textContent === "[-] ";
  f.textContent = hide ? "[+] " : "[-] ";
  for (let j = i + 1; j < N; j++) {{
    const r = D.records[j];
    if (r.depth <= d) {{ if (r.kind === "leave") rows[j].classList.toggle("hidden", hide); break; }}
    rows[j].classList.toggle("hidden", hide);
  }}
}}
function key(o) {{ return o.split(/\s+/)[0]; }}
function allocCount(o) {{ const m = /count (\d+)/.exec(o); return m ? Number(m[1]) : 1; }}
// The state at event k: the events folded up to k (as nslab_sim::stepper::fold).
function fold(k) {{
  const counts = new Map(Object.entries(D.initial));
  const changed = new Set(), freed = new Set();
  for (let i = 0; i < k; i++) {{
    const r = D.records[i];
    if (r.kind === "alloc") {{ counts.set(key(r.object), allocCount(r.object)); changed.add(key(r.object)); freed.delete(key(r.object)); }}
    else if (r.kind === "get" || r.kind === "put") {{ counts.set(key(r.object), r.count); changed.add(key(r.object)); }}
    else if (r.kind === "free") {{ counts.delete(key(r.object)); freed.add(key(r.object)); changed.add(key(r.object)); }}
  }}
  return {{ counts, changed, freed }};
}}
function show(k) {{
  k = Math.max(0, Math.min(N, k));
  slider.value = k;
  rows.forEach((row, i) => {{
    row.classList.toggle("cur", i === k - 1);
    row.classList.toggle("future", i >= k);
  }});
  const r = k > 0 ? D.records[k - 1] : null;
  document.getElementById("where").textContent =
    "event " + k + " of " + N + (r ? ": " + D.lines[k - 1].trim() : ": before the call");
  const a = document.getElementById("src");
  if (r) {{ a.href = D.source + r.file; a.textContent = r.function + "() in " + r.file; }}
  else {{ a.removeAttribute("href"); a.textContent = ""; }}
  const s = fold(k);
  const table = document.getElementById("objects");
  table.innerHTML = "";
  for (const [name, count] of [...s.counts.entries()].sort()) {{
    const tr = table.insertRow();
    if (s.changed.has(name)) tr.className = "changed";
    tr.insertCell().textContent = name;
    tr.insertCell().textContent = "count " + count;
  }}
  for (const name of [...s.freed].sort()) {{
    const tr = table.insertRow(); tr.className = "changed";
    tr.insertCell().textContent = name; tr.insertCell().textContent = "freed";
  }}
  document.getElementById("graph").textContent = D.drawings[D.graph_at[k]];
  if (r && rows[k - 1]) rows[k - 1].scrollIntoView({{ block: "nearest" }});
  document.title = "nslab: event " + k;
}}
slider.oninput = () => show(Number(slider.value));
document.addEventListener("keydown", (e) => {{
  const k = Number(slider.value);
  if (e.key === "ArrowRight") show(k + 1);
  else if (e.key === "ArrowLeft") show(k - 1);
  else if (e.key === "Home") show(0);
  else if (e.key === "End") show(N);
}});
// `#step=N`, `#keys=RRL...` (R right, L left: the test presses the keys this way) and
// `#fold=I,J` (fold the calls entered at events I and J, as a click on their [-] does).
const h = new URLSearchParams(location.hash.slice(1));
show(Number(h.get("step") || 0));
for (const c of h.get("keys") || "") {{
  document.dispatchEvent(new KeyboardEvent("keydown", {{ key: c === "R" ? "ArrowRight" : "ArrowLeft" }}));
}}
for (const i of (h.get("fold") || "").split(",").filter((x) => x !== "")) {{
  const f = rows[Number(i)] && rows[Number(i)].querySelector(".fold");
  if (f) f.click();
}}
</script>
</body></html>
"##,
        kernel = esc(rec.kernel),
    )
}
