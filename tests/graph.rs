//! `nslab graph` of the model: every text format snapshotted with insta for several
//! scenarios and calls (the model's output is deterministic), the SVG parsed as XML, and the
//! graph's structure checked against the model's own inventory.

use std::process::Command;

/// Runs `nslab graph ARGS...` in the repository root; gives (exit code, stdout, stderr).
fn graph(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("graph")
        .args(args)
        .output()
        .expect("the nslab binary runs");
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

/// The cases: a name and the arguments before `--format`.
const CASES: [(&str, &[&str]); 5] = [
    (
        "clone_newns_newpid_newnet",
        &["clone", "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET"],
    ),
    ("clone_newuser_newnet", &["clone", "NEWUSER|NEWNET"]),
    ("unshare_newpid", &["unshare", "NEWPID"]),
    (
        "nsproxy_shared_until_unshare_step_2",
        &["scenarios/nsproxy-shared-until-unshare.scn", "--step", "2"],
    ),
    ("pid_levels_nest", &["scenarios/pid-levels-nest.scn"]),
];

fn snapshot_format(format: &str) {
    for (name, args) in CASES {
        let mut a = args.to_vec();
        a.extend(["--format", format]);
        let (code, out, err) = graph(&a);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(err.is_empty(), "{name}: stderr {err}");
        insta::assert_snapshot!(format!("{name}_{format}"), out);
    }
}

#[test]
fn tree_snapshots() {
    snapshot_format("tree");
}

#[test]
fn dot_snapshots() {
    snapshot_format("dot");
}

#[test]
fn mermaid_snapshots() {
    snapshot_format("mermaid");
}

#[test]
fn tree_is_the_default_and_output_is_deterministic() {
    let (_, a, _) = graph(&["clone", "NEWPID"]);
    let (_, b, _) = graph(&["clone", "NEWPID", "--format", "tree"]);
    assert_eq!(a, b);
    for format in ["tree", "dot", "mermaid", "svg", "json"] {
        let (_, x, _) = graph(&["clone", "NEWNET|NEWUTS", "--format", format]);
        let (_, y, _) = graph(&["clone", "NEWNET|NEWUTS", "--format", format]);
        assert_eq!(x, y, "{format} differs between two runs");
    }
}

/// The SVG is well-formed XML in the SVG namespace, with one filled box per namespace in
/// the type's colour, and the new ones outlined in red.
#[test]
fn svg_is_valid_xml_with_the_type_colours() {
    for (name, args) in CASES {
        let mut a = args.to_vec();
        a.extend(["--format", "svg"]);
        let (code, out, err) = graph(&a);
        assert_eq!(code, 0, "{name}: {err}");
        let doc = roxmltree::Document::parse(&out)
            .unwrap_or_else(|e| panic!("{name}: the SVG is not XML: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{name}");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg"),
            "{name}"
        );
        let texts: String = doc
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(texts.contains("user:[4026531837]"), "{name}: {texts}");
        // The legend and the namespaces: every type's colour appears as a fill.
        let fills: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.attribute("fill"))
            .collect();
        for colour in ["#fdb462", "#fb8072", "#80b1d3"] {
            assert!(fills.contains(&colour), "{name}: no fill {colour}");
        }
    }
    // What clone(NEWNET) made is outlined in red.
    let (_, out, _) = graph(&["clone", "NEWNET", "--format", "svg"]);
    assert!(out.contains("#d00000"), "new objects are not marked");
}

/// The graph says what the model holds: the namespaces of `Kernel::namespaces`, with the
/// same counts, and each task's nsproxy entries equal to its `/proc/<pid>/ns` links.
#[test]
fn graph_matches_the_model() {
    use nslab_sim::machine::{CloneArgs, Machine, NsEntry};
    let mut k = nslab_sim::Kernel::boot();
    let init = k.root();
    let before = nslab_sim::graph::Baseline::of(&k);
    let child = Machine::clone_task(
        &mut k,
        init,
        CloneArgs::new(nslab_sim::sched::parse_flags("NEWPID|NEWNET|NEWUSER").unwrap()),
    )
    .expect("clone works");
    let g = nslab_sim::graph::build(&k, &[(child, "child".into())], Some(&before));
    g.validate().expect("indices in range");
    let inv = k.namespaces();
    assert_eq!(g.namespaces.len(), inv.len());
    for n in &inv {
        let i = g
            .find(nslab_graph::NsKind::from(n.ty), n.inum)
            .expect("every namespace is drawn");
        assert_eq!(g.namespaces[i].count, Some(n.count));
        assert_eq!(
            g.namespaces[i].owner.map(|o| g.namespaces[o].inum),
            n.owner,
            "owner of {}",
            n.inum
        );
    }
    let view = k.observe(child).expect("the child runs");
    let t = g
        .tasks
        .iter()
        .find(|t| t.name == "child")
        .expect("child drawn");
    assert!(t.new);
    assert_eq!(t.nspid, view.nspid.to_vec());
    let p = &g.nsproxies[t.nsproxy.expect("has an nsproxy")];
    assert!(p.new);
    for (entry, link) in [
        ("net_ns", NsEntry::Net),
        ("pid_ns_for_children", NsEntry::PidForChildren),
        ("uts_ns", NsEntry::Uts),
    ] {
        let drawn = p
            .entries
            .iter()
            .find(|(e, _)| *e == entry)
            .map(|(_, i)| g.namespaces[*i].inum);
        let seen = view
            .ns
            .iter()
            .find(|(e, _)| *e == link)
            .and_then(|(_, r)| r.ok());
        assert_eq!(drawn, seen, "{entry}");
    }
    let user = &g.namespaces[t.user_ns.expect("cred")];
    assert!(user.new && user.level == Some(1));
    let net = &g.namespaces[g
        .find(
            nslab_graph::NsKind::Net,
            view.ns
                .iter()
                .find(|(e, _)| *e == NsEntry::Net)
                .unwrap()
                .1
                .unwrap(),
        )
        .unwrap()];
    assert_eq!(
        net.owner.map(|o| g.namespaces[o].inum),
        Some(user.inum),
        "the new user namespace owns the new net"
    );
}

/// `--format json` is the graph's data: the tree drawn from it says what the JSON holds.
#[test]
fn json_is_the_graph() {
    let (code, out, err) = graph(&["clone", "NEWPID|NEWNET", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["source"], "model");
    let tasks = v["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[1]["nspid"], serde_json::json!([2, 1]));
    assert_eq!(tasks[1]["new"], true);
    let new: Vec<String> = v["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter(|n| n["new"] == true)
        .map(|n| n["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(new, ["pid", "net"]);
}

#[test]
fn bad_input_is_refused() {
    for (args, want) in [
        (&["clone", "NEWBOGUS"][..], "NEWBOGUS"),
        (&["frobnicate", "NEWNET"][..], "unknown target"),
        (
            &["scenarios/pid-levels-nest.scn", "--step", "99"][..],
            "--step 99",
        ),
        (
            &["--format", "png", "clone", "NEWNET"][..],
            "unknown format",
        ),
        (&[][..], "nothing to draw"),
    ] {
        let (code, out, err) = graph(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A graph too large for layout-rs's placement (here 300 tasks, 300 nsproxies, 300 new
/// network namespaces) is drawn in columns: still valid SVG, every namespace in it.
#[test]
fn large_svg_is_drawn_in_columns() {
    let dir = std::env::temp_dir().join(format!("nslab-graph-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("many.scn");
    std::fs::write(
        &file,
        "# many\n# 300 children in new network namespaces.\nrepeat 300\n  A = init: clone CLONE_NEWNET\nend\n",
    )
    .unwrap();
    let (code, out, err) = graph(&[file.to_str().unwrap(), "--format", "svg"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0, "{err}");
    let doc = roxmltree::Document::parse(&out).expect("valid XML");
    let nets = doc
        .descendants()
        .filter(|n| n.is_text() && n.text().is_some_and(|t| t.starts_with("net:[")))
        .count();
    assert_eq!(nets, 301, "the initial network namespace and 300 new ones");
}
