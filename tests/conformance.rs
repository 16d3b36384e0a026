//! Conformance: the published sample set analysed at 2026-11-20 yields exactly the (code,
//! subject) pairs of expected.jsonl for every code the loaded rule sets implement.

mod common;

use std::collections::BTreeSet;

type Pair = (String, Vec<(String, String)>);

fn pair(code: &str, subject: &serde_json::Map<String, serde_json::Value>) -> Pair {
    let mut s: Vec<(String, String)> = subject
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    s.sort();
    (code.to_string(), s)
}

fn check(jobs: usize) {
    let g = common::grammars();
    let codes: BTreeSet<String> = common::rules(&g)
        .iter()
        .flat_map(|s| s.rules.iter().map(|r| r.code.to_string()))
        .collect();
    let expected_text =
        std::fs::read_to_string(common::path("tests/data/samples/expected.jsonl")).unwrap();
    let expected: BTreeSet<Pair> = expected_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| codes.contains(v["code"].as_str().unwrap()))
        .map(|v| {
            pair(
                v["code"].as_str().unwrap(),
                v["subject"].as_object().unwrap(),
            )
        })
        .collect();
    assert!(
        expected.len() > 50,
        "the sample set covers the implemented codes"
    );
    let outcomes = common::analyse(&common::sample_files(), "2026-11-20", jobs);
    let errors: Vec<_> = outcomes
        .iter()
        .filter(|o| o.kind == vigie::outcome::Kind::Error)
        .collect();
    assert!(errors.is_empty(), "the samples are conforming: {errors:#?}");
    let got: BTreeSet<Pair> = outcomes
        .iter()
        .map(|o| {
            let v = serde_json::to_value(o).unwrap();
            pair(&o.code, v["subject"].as_object().unwrap())
        })
        .collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nextra: {extra:#?}"
    );
}

#[test]
fn samples_match_expected_on_one_thread() {
    check(1);
}

#[test]
fn samples_match_expected_on_several_threads() {
    check(3);
}

#[test]
fn the_report_order_is_the_same_whatever_the_thread_count() {
    let files = common::sample_files();
    let a = common::analyse(&files, "2026-11-20", 1);
    let b = common::analyse(&files, "2026-11-20", 4);
    let key = |v: &[vigie::outcome::Outcome]| {
        v.iter()
            .map(|o| serde_json::to_string(o).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
}
