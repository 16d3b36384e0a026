//! Shared helpers for the integration tests: the project's grammars and rules, sample files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use vigie::grammar::GrammarSet;
use vigie::outcome::Outcome;
use vigie::pipeline::{self, Options};
use vigie::rules::RuleSet;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn grammars() -> GrammarSet {
    GrammarSet::load(&root().join("grammars")).expect("project grammars load")
}

pub fn rules(g: &GrammarSet) -> Vec<Arc<RuleSet>> {
    vigie::rules::load_all(&root().join("rules"), g).expect("project rules load")
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
    let g = grammars();
    let sets = rules(&g);
    let opts = Options {
        jobs,
        as_of: date(as_of),
        forced: None,
        progress: false,
        decode_only: false,
    };
    pipeline::run(files, &g, &sets, &opts).outcomes
}

pub fn path(p: &str) -> PathBuf {
    root().join(Path::new(p))
}
