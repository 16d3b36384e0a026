//! Shared helpers for the integration tests: the project's grammars and rules, sample files.
#![allow(dead_code)]

pub mod pg;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use vigie::model::Outcome;
use vigie::{Options, Setup};

/// What a command said on standard error.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project's grammars and rule sets.
pub fn setup() -> Setup {
    Setup::load(&root().join("grammars"), &root().join("rules")).expect("project setup loads")
}

/// The project's grammars with the rule sets of `rules`.
pub fn setup_with(rules: &Path) -> Setup {
    Setup::load(&root().join("grammars"), rules).unwrap_or_else(|f| panic!("{f}"))
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The published sample set (tests/data/samples), expected.jsonl excluded, sorted by name.
pub fn sample_files() -> Vec<PathBuf> {
    let dir = root().join("tests/data/samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "expected.jsonl")
        .collect();
    v.sort();
    v
}

/// Analyses `files` with the project's grammars and rules.
pub fn analyse(files: &[PathBuf], as_of: &str, jobs: usize) -> Vec<Outcome> {
    let opts = Options {
        jobs,
        as_of: Some(date(as_of)),
        ..Options::default()
    };
    setup().analyze(vigie::files(files), &opts).outcomes
}

pub fn path(p: &str) -> PathBuf {
    root().join(Path::new(p))
}

/// A rule set written into a fresh temporary folder (`tag` names it): its manifest, then its
/// scripts as (path under the folder, text). The caller removes the folder.
pub fn temp_rule_set(tag: &str, manifest: &str, scripts: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigie-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("ruleset.yaml"), manifest).unwrap();
    for (path, text) in scripts {
        std::fs::write(dir.join(path), text).unwrap();
    }
    dir
}

/// Copies `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
