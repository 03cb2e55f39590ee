//! `nslab trace`: the recorded clone path, checked through the binary a student runs.
//!
//! The text output is snapshotted with insta (tests/snapshots/), so any change to the model's
//! path or to the rendering shows up as a reviewable diff.

use std::process::Command;

/// Runs `nslab trace ARGS...` and returns (exit code, stdout, stderr).
fn trace(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nslab"))
        .arg("trace")
        .args(args)
        .output()
        .expect("the nslab binary runs");
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

#[test]
fn seed_example_clone_newns_newpid_newnet() {
    let (code, out, err) = trace(&["clone", "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("clone_newns_newpid_newnet", out);
}

#[test]
fn seed_example_enters_the_kernel_functions_in_order() {
    let (code, out, err) = trace(&["--json", "clone", "NEWNS,NEWPID,NEWNET"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    let entered: Vec<&str> = v["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["kind"] == "enter")
        .map(|r| r["function"].as_str().expect("function name"))
        .collect();
    let want = [
        "kernel_clone",
        "copy_process",
        "copy_creds",
        "copy_namespaces",
        "create_new_namespaces",
        "copy_mnt_ns",
        "copy_utsname",
        "copy_ipcs",
        "copy_pid_ns",
        "copy_cgroup_ns",
        "copy_net_ns",
        "setup_net",
        "ops_init",
        "loopback_net_init",
        "copy_time_ns",
        "alloc_pid",
    ];
    let mut at = 0;
    for f in want {
        let pos = entered[at..]
            .iter()
            .position(|e| *e == f)
            .unwrap_or_else(|| panic!("{f} not entered after position {at}: {entered:?}"));
        at += pos + 1;
    }
    // loopback_net_init is reached through ops_init.
    let lo = entered
        .iter()
        .position(|e| *e == "loopback_net_init")
        .expect("entered");
    assert_eq!(entered[lo - 1], "ops_init");
    // The summary names the three new namespaces and the child's pids.
    let new: Vec<&str> = v["summary"]["new_namespaces"]
        .as_array()
        .expect("new namespaces")
        .iter()
        .map(|n| n["type"].as_str().expect("type"))
        .collect();
    assert_eq!(new, ["mnt", "pid", "net"]);
    assert_eq!(v["summary"]["task"]["nspid"], serde_json::json!([2, 1]));
    assert_eq!(v["result"], "ok");
}

#[test]
fn plain_fork_shares_the_nsproxy() {
    let (code, out, err) = trace(&["clone", "0"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("clone_plain_fork", out);
}

#[test]
fn unshare_newpid_changes_only_pid_for_children() {
    let (code, out, err) = trace(&["unshare", "newpid"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("pid_for_children   -> readlink failed: ENOENT"),
        "{out}"
    );
    insta::assert_snapshot!("unshare_newpid", out);
}

#[test]
fn eperm_unshare_newnet_as_nobody() {
    let (code, out, err) = trace(&["--uid", "65534", "unshare", "CLONE_NEWNET"]);
    assert_eq!(code, 1, "a refused call exits 1: {err}");
    assert!(
        out.contains(
            "refused by unshare_nsproxy_namespaces(): !ns_capable(user_ns, CAP_SYS_ADMIN)"
        ),
        "{out}"
    );
    insta::assert_snapshot!("unshare_newnet_eperm", out);
}

#[test]
fn einval_clone_newns_with_fs() {
    let (code, out, err) = trace(&["clone", "CLONE_NEWNS|CLONE_FS"]);
    assert_eq!(code, 1, "a refused call exits 1: {err}");
    assert!(
        out.contains("refused by copy_process(): CLONE_NEWNS together with CLONE_FS"),
        "{out}"
    );
    insta::assert_snapshot!("clone_newns_fs_einval", out);
}

#[test]
fn bad_flag_names_the_word_and_the_valid_flags() {
    let (code, out, err) = trace(&["clone", "NEWPID|NEWFOO"]);
    assert_eq!(code, 2, "bad input exits 2");
    assert!(out.is_empty(), "nothing is traced: {out}");
    assert!(err.contains("unknown clone flag 'NEWFOO'"), "{err}");
    assert!(
        err.contains("CLONE_NEWPID") && err.contains("CLONE_NEWTIME"),
        "{err}"
    );
}

#[test]
fn setns_with_a_pidfd_joins_several_namespaces() {
    let (code, out, err) = trace(&["--json", "setns", "--pidfd", "NEWNET,NEWUTS"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let entered: Vec<&str> = v["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["kind"] == "enter")
        .map(|r| r["function"].as_str().expect("function"))
        .collect();
    let uts = entered
        .iter()
        .position(|f| *f == "utsns_install")
        .expect("uts installed");
    let net = entered
        .iter()
        .position(|f| *f == "netns_install")
        .expect("net installed");
    assert!(
        uts < net,
        "uts before net, in the kernel's install order: {entered:?}"
    );
    assert!(entered.contains(&"commit_nsset"));
}

#[test]
fn a_failing_pernet_init_is_undone_in_reverse() {
    let (code, out, err) = trace(&[
        "--pernet-subsys",
        "my_subsys",
        "--fail-pernet-init",
        "loopback_net_ops",
        "clone",
        "newnet",
    ]);
    assert_eq!(code, 1, "the clone fails: {err}");
    assert!(out.contains("result: -ENOMEM"), "{out}");
    // my_subsys was initialised (it is a subsystem, so before the devices) and is undone
    // after loopback_net_init fails, before netdev_net_ops, which was initialised first.
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} missing:\n{out}"));
    assert!(at("-> netdev_init()") < at("-> my_subsys_init()"));
    assert!(at("-> my_subsys_init()") < at("-> loopback_net_init()"));
    assert!(at("-> loopback_net_init()") < at("-> my_subsys_exit()"));
    assert!(at("-> my_subsys_exit()") < at("-> netdev_exit()"));
    assert!(
        !out.contains("new namespaces:"),
        "nothing half-made remains:\n{out}"
    );
    insta::assert_snapshot!("pernet_rollback", out);
}

#[test]
fn an_unknown_pernet_op_is_bad_input() {
    let (code, out, err) = trace(&["--fail-pernet-init", "no_such_ops", "clone", "newnet"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("no pernet operation 'no_such_ops'"), "{err}");
    assert!(
        err.contains("loopback_net_ops"),
        "lists the registered ones: {err}"
    );
}

#[test]
fn the_teaching_texts_kernel_4_19() {
    let (code, out, err) = trace(&[
        "--kernel",
        "4.19",
        "clone",
        "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("-> _do_fork()"), "{out}");
    assert!(!out.contains("kernel_clone"), "{out}");
    assert!(
        out.contains("https://elixir.bootlin.com/linux/v4.19/source/"),
        "{out}"
    );
    insta::assert_snapshot!("clone_newns_newpid_newnet_4_19", out);
    let (code, _, err) = trace(&["--kernel", "5.0", "clone", "0"]);
    assert_eq!(code, 2, "an unknown version is bad input");
    assert!(err.contains("valid: 6.18, 4.19"), "{err}");
}

#[test]
fn a_namespace_init_exits_zap_then_frees_in_kernel_order() {
    let (code, out, err) = trace(&["exit", "NEWPID,NEWNET"]);
    assert_eq!(code, 0, "{err}");
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} missing:\n{out}"));
    // The init zaps its namespace: its other task is killed before the init is released.
    assert!(at("-> zap_pid_ns_processes()") < at("= SIGKILL task_struct pid 3"));
    // free_nsproxy puts in the 6.18 order: mnt, uts, ipc, pid_for_children, time,
    // time_for_children, cgroup, net; the last put of the net runs cleanup_net.
    assert!(at("- put mnt:") < at("- put uts:"));
    assert!(at("- put uts:") < at("- put ipc:"));
    assert!(at("- put ipc:") < at("- put pid:[4026531840]"));
    assert!(at("- put cgroup:") < at("- put net:[4026531841] (count 0)"));
    assert!(at("- put net:[4026531841] (count 0)") < at("-> cleanup_net()"));
    assert!(
        out.contains("freed namespaces:\n  pid:[4026531840]"),
        "{out}"
    );
    insta::assert_snapshot!("exit_newpid_newnet", out);
}
