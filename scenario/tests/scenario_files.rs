//! Every file in `scenarios/` parses, is named after its file, and has its paragraph in
//! `scenarios/README.md`; printing and parsing again gives the same scenario.

use nslab_scenario::{parse, parse_file};
use std::path::PathBuf;

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_parses_and_is_named_after_its_file() {
    let files = scenario_files();
    assert!(files.len() >= 50, "only {} scenarios", files.len());
    for path in files {
        let s = parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert_eq!(s.name, stem, "{}", path.display());
        assert!(
            s.explanation.contains(".c") || s.explanation.contains(".h"),
            "{}: the explanation should name the kernel file",
            path.display()
        );
        let again = parse(&s.to_string()).unwrap_or_else(|e| panic!("{e}\n{s}"));
        assert_eq!(again.to_string(), s.to_string());
    }
}

#[test]
fn the_readme_has_a_paragraph_per_scenario() {
    let readme = std::fs::read_to_string(scenario_dir().join("README.md")).expect("README.md");
    for path in scenario_files() {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert!(
            readme.contains(&format!("**[{stem}]({stem}.scn)**")),
            "scenarios/README.md has no paragraph for {stem}"
        );
    }
}
