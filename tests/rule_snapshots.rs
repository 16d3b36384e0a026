//! One snapshot per case file, generated from the case file: adding a case needs no Rust, and
//! every outcome a case produces (code, subject, filled texts) is pinned. The snapshot text is
//! vigie's own (`vigie::cases::snapshot`), so that `vigie rules test --accept` — which rule
//! authors run without a Rust toolchain — writes exactly what this test compares.

mod common;

#[test]
fn rule_cases() {
    let setup = common::setup();
    insta::glob!("../rules", "*/cases/*.yaml", |path| {
        if path.file_stem().is_some_and(|s| s == "defaults") {
            return;
        }
        let set = setup
            .sets
            .iter()
            .find(|s| path.starts_with(s.dir.canonicalize().unwrap()) || path.starts_with(&s.dir))
            .expect("case file inside a rule set");
        let results = setup.run_cases(set, path).unwrap_or_else(|f| panic!("{f}"));
        for r in &results {
            assert!(r.passed(), "{} — {}\n{}", r.code, r.name, r.diff());
        }
        insta::assert_snapshot!(vigie::cases::snapshot(&results));
    });
}
