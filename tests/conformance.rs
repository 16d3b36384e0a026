//! Conformance: the whole published sample set (every file of the published samples, copied in tests/data/samples) analysed at
//! 2026-11-20 yields exactly the outcomes of expected.jsonl — same (kind, code, subject), as
//! many times each, no more, no fewer.

mod common;

use std::collections::BTreeMap;

/// (kind, code, subject sorted by key).
type Key = (String, String, Vec<(String, String)>);

fn key(kind: &str, code: &str, subject: &serde_json::Map<String, serde_json::Value>) -> Key {
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
    (kind.to_string(), code.to_string(), s)
}

/// Counts each key (a multiset: an invoice number repeated in a lot gives the same pair twice).
fn counted(keys: impl Iterator<Item = Key>) -> BTreeMap<Key, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

fn check(jobs: usize) {
    let expected_text =
        std::fs::read_to_string(common::path("tests/data/samples/expected.jsonl")).unwrap();
    let expected = counted(
        expected_text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| {
                key(
                    v["kind"].as_str().unwrap(),
                    v["code"].as_str().unwrap(),
                    v["subject"].as_object().unwrap(),
                )
            }),
    );
    assert!(
        expected.values().sum::<usize>() > 250,
        "the whole sample set"
    );
    let outcomes = common::analyse(&common::sample_files(), "2026-11-20", jobs);
    let errors: Vec<_> = outcomes
        .iter()
        .filter(|o| o.kind == vigie::model::Kind::Error)
        .collect();
    assert!(errors.is_empty(), "the samples are conforming: {errors:#?}");
    let got = counted(outcomes.iter().map(|o| {
        let v = serde_json::to_value(o).unwrap();
        key(o.kind.as_str(), &o.code, v["subject"].as_object().unwrap())
    }));
    let diff = |a: &BTreeMap<Key, usize>, b: &BTreeMap<Key, usize>| -> Vec<(Key, usize)> {
        a.iter()
            .filter_map(|(k, n)| {
                let m = b.get(k).copied().unwrap_or(0);
                (n > &m).then(|| (k.clone(), n - m))
            })
            .collect()
    };
    let missing = diff(&expected, &got);
    let extra = diff(&got, &expected);
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
    let key = |v: &[vigie::model::Outcome]| {
        v.iter()
            .map(|o| serde_json::to_string(o).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
}
