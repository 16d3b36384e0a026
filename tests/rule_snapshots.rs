//! One insta snapshot per rule, generated from the rule's case file: adding a case needs no
//! Rust, and every outcome a case produces (code, subject, filled texts) is pinned.

mod common;

use std::sync::Arc;

#[test]
fn rule_cases() {
    let g = common::grammars();
    let sets = common::rules(&g);
    insta::glob!("../rules", "*/cases/*.yaml", |path| {
        if path.file_stem().is_some_and(|s| s == "defaults") {
            return;
        }
        let set: &Arc<_> = sets
            .iter()
            .find(|s| path.starts_with(s.dir.canonicalize().unwrap()) || path.starts_with(&s.dir))
            .expect("case file inside a rule set");
        let results =
            vigie::rules::cases::run_file(&g, set, path).unwrap_or_else(|f| panic!("{f}"));
        for r in &results {
            assert!(r.passed(), "{} — {}\n{}", r.code, r.name, r.diff());
        }
        let view: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "case": r.name,
                    "outcomes": r.outcomes.iter().map(|o| serde_json::json!({
                        "code": &*o.code, "severity": o.severity, "subject": o.subject,
                        "message": o.message, "text": o.text,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        insta::assert_yaml_snapshot!(view);
    });
}
