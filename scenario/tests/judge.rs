//! The judge on the model: expectations that fail say where and why, missing tasks are
//! failures rather than panics, and two runs of the same scenario agree by structure.

use nslab_scenario::judge::{agree, Outcome, Verdict};
use nslab_scenario::{check, parse};
use nslab_sim::Kernel;

fn run(text: &str) -> nslab_scenario::Report {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
    check(&s, &mut Kernel::boot())
}

#[test]
fn a_wrong_expectation_fails_with_its_line_and_both_values() {
    let r =
        run("# wrong\nA = init: clone CLONE_NEWPID -> EINVAL\nexpect init.ns.uts != init.ns.uts\n");
    assert!(!r.passed());
    let failures: Vec<_> = r.failures().collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].line, 2);
    assert_eq!(
        failures[0].verdict,
        Verdict::Fail("expected EINVAL, got ok".into())
    );
    assert_eq!(failures[1].line, 3);
    assert_eq!(failures[1].observed, "init.ns.uts=uts#0 init.ns.uts=uts#0");
}

#[test]
fn a_missing_task_is_a_failure_not_a_panic() {
    let r =
        run("# missing\nB: clone 0\nA = init: clone CLONE_NEWNS|CLONE_FS -> EINVAL\nA: exit 0\n");
    let failures: Vec<_> = r.failures().collect();
    assert_eq!(failures.len(), 2);
    assert!(matches!(&failures[0].outcome, Outcome::NotRun(why) if why.contains("B")));
    assert!(matches!(&failures[1].outcome, Outcome::NotRun(why) if why.contains("A")));
}

#[test]
fn pids_in_the_root_namespace_are_not_compared() {
    let r = run("# root-pid\nA = init: clone 0\nexpect A.pid == 2\n");
    let f = r.failures().next().expect("the pid expectation fails");
    assert!(matches!(&f.verdict, Verdict::Fail(why) if why.contains("differs between machines")));
}

#[test]
fn namespaces_get_labels_in_order_of_first_appearance() {
    let r = run(
        "# labels\nA = init: clone CLONE_NEWNET\nB = init: clone CLONE_NEWNET\n\
                 expect B.ns.net != A.ns.net\n",
    );
    assert!(r.passed(), "{r:?}");
    assert_eq!(r.records[2].observed, "B.ns.net=net#2 A.ns.net=net#1");
}

#[test]
fn two_models_agree_and_a_different_scenario_does_not() {
    let text = "# same\nA = init: clone CLONE_NEWPID|CLONE_NEWUTS\nA: sethostname x\nA: clone 0\n";
    let a = run(text);
    let b = run(text);
    assert!(agree(&a, &b).is_empty());
    let c = run(
        "# other\nA = init: clone CLONE_NEWPID|CLONE_NEWUTS\nA: sethostname x\n\
                 A: clone CLONE_NEWNS|CLONE_FS -> EINVAL\n",
    );
    let d = agree(&a, &c);
    assert!(
        d.iter()
            .any(|d| d.what == "outcome" && d.left == "ok" && d.right == "EINVAL"),
        "{d:?}"
    );
}
