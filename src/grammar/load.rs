//! Loading a folder of grammar files into a [`GrammarSet`]: the formats' grammars, the joins
//! between them and the report's subject order. Every fault of every file is gathered; any
//! fault refuses the whole set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::compile::{self, Ids};
use super::joins::{self, JoinsFile};
use super::spec::{GrammarSpec, JoinsSpec, ReportSpec, GRAMMAR_KEYS, JOINS_KEYS, REPORT_KEYS};
use crate::diag::{Doc, Fault, FaultKind, Faults};
use crate::model::{GrammarSet, SubjectOrder};

/// What a file of the grammars folder is, told by its top-level keys.
enum FileKind {
    Grammar,
    Joins,
    Report,
}

fn kind_of(doc: &Doc) -> Option<FileKind> {
    let has = |k: &str| doc.root.get(k).is_some();
    if has("format") {
        Some(FileKind::Grammar)
    } else if has("links") || has("gathers") {
        Some(FileKind::Joins)
    } else if has("subjects") {
        Some(FileKind::Report)
    } else {
        None
    }
}

/// Loads every `*.yaml` of `dir`.
pub fn load(dir: &Path) -> Result<GrammarSet, Faults> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Fault::file(
            FaultKind::Unreadable,
            dir,
            format!("dossier de grammaires illisible : {e}"),
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(Fault::file(
            FaultKind::Empty,
            dir,
            "aucune grammaire (*.yaml) dans ce dossier",
        )
        .into());
    }
    let mut faults = Vec::new();
    let mut sources = Vec::new();
    for p in paths {
        match crate::diag::yaml::read_text(&p) {
            Ok(t) => sources.push((p, t)),
            Err(f) => faults.push(f),
        }
    }
    match from_sources(sources) {
        Ok(set) if faults.is_empty() => Ok(set),
        Ok(_) => Err(Faults(faults)),
        Err(mut f) => {
            faults.append(&mut f.0);
            Err(Faults(faults))
        }
    }
}

/// Builds the set from `(path, text)` pairs: grammar files, joins files, the report file.
pub fn from_sources(sources: Vec<(PathBuf, String)>) -> Result<GrammarSet, Faults> {
    let mut faults = Vec::new();
    // Grammars refused (already reported): joins on them are not faulted again.
    let mut refused = Vec::new();
    let mut grammar_docs = Vec::new();
    let mut join_files = Vec::new();
    let mut subjects = SubjectOrder::default();
    for (path, text) in sources {
        let doc = match Doc::parse(&path, text) {
            Ok(d) => d,
            Err(f) => {
                faults.push(f);
                continue;
            }
        };
        match kind_of(&doc) {
            Some(FileKind::Grammar) => {
                match doc.checked::<GrammarSpec>(&doc.root, GRAMMAR_KEYS, &mut faults) {
                    Some(spec) => grammar_docs.push((doc, spec)),
                    None => refused.push(format_name(&doc)),
                }
            }
            Some(FileKind::Joins) => {
                if let Some(spec) = doc.checked::<JoinsSpec>(&doc.root, JOINS_KEYS, &mut faults) {
                    join_files.push(JoinsFile::new(doc, spec, &mut faults));
                }
            }
            Some(FileKind::Report) => {
                if let Some(spec) = doc.checked::<ReportSpec>(&doc.root, REPORT_KEYS, &mut faults) {
                    subjects = subject_order(&doc, spec, &mut faults);
                }
            }
            None => faults.push(doc.fault(
                FaultKind::MissingKey,
                doc.root.span,
                "ni une grammaire (`format:`), ni des jointures (`links:`, `gathers:`), ni l'ordre des rapports (`subjects:`)",
            )),
        }
    }
    let slots = joins::slots(&join_files);
    let mut ids = Ids::default();
    let mut grammars = Vec::new();
    for (doc, spec) in grammar_docs {
        let format = spec.format.clone();
        if grammars
            .iter()
            .any(|g: &Arc<crate::model::Grammar>| g.name == format.value)
        {
            faults.push(doc.fault(
                FaultKind::Duplicate,
                format.span,
                format!(
                    "format « {} » déjà défini par une autre grammaire",
                    format.value
                ),
            ));
        }
        match compile::grammar(&doc, spec, &subjects, &mut ids, &slots, &mut faults) {
            Some(g) => grammars.push(Arc::new(g)),
            None => refused.push(format.value),
        }
    }
    // Joins on a refused grammar are not faulted again.
    let (links, gathers) = joins::compile(&join_files, &grammars, &refused, &mut ids, &mut faults);
    for g in &gathers {
        if grammars.iter().any(|x| x.name == g.grammar.name) {
            if let Some((i, span)) = joins::gather_span(&join_files, &g.grammar.name) {
                if let Some(f) = join_files.get(i) {
                    faults.push(f.doc.fault(
                        FaultKind::Duplicate,
                        span,
                        format!(
                            "format « {} » déjà défini par une grammaire",
                            g.grammar.name
                        ),
                    ));
                }
            }
        }
    }
    grammars.extend(gathers.iter().map(|g| Arc::clone(&g.grammar)));
    if faults.is_empty() {
        Ok(GrammarSet {
            grammars,
            links,
            gathers,
            subjects,
        })
    } else {
        Err(Faults(faults))
    }
}

/// The format a grammar file names, even when the file is refused.
fn format_name(doc: &Doc) -> String {
    doc.root
        .get("format")
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .to_string()
}

fn subject_order(doc: &Doc, spec: ReportSpec, faults: &mut Vec<Fault>) -> SubjectOrder {
    let mut order = SubjectOrder::default();
    for k in &spec.subjects.order {
        if order.contains(k) {
            faults.push(doc.fault(
                FaultKind::Duplicate,
                k.span,
                format!("clé de sujet « {} » donnée deux fois", k.value),
            ));
        }
        order.keys.push(Arc::from(k.as_str()));
    }
    for k in &spec.subjects.numeric {
        if !order.contains(k) {
            faults.push(doc.fault(
                FaultKind::UnknownName,
                k.span,
                format!("« {} » n'est pas dans `order`", k.value),
            ));
        }
        order.numeric.push(Arc::from(k.as_str()));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<GrammarSet, Faults> {
        from_sources(vec![(PathBuf::from("g.yaml"), text.to_string())])
    }

    const BASE: &str = r#"format: t
title: test
encoding: iso-8859-1
layout: fixed
record_length: 10
records:
  - name: r
    fields:
      - { name: a, pos: 1, len: 4, type: digits }
      - { name: b, pos: 5, len: 6, type: date, pattern: JJMMAA }
structure:
  group: g
  children:
    - { group: e, open: r }
"#;

    fn one(text: &str) -> Fault {
        let err = load(text).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        err.0.into_iter().next().unwrap()
    }

    #[test]
    fn a_valid_grammar_loads() {
        let set = load(BASE).unwrap();
        assert_eq!(set.grammars[0].records[0].fields.len(), 2);
    }

    #[test]
    fn overlapping_zones_are_refused_on_the_position() {
        let f = one(&BASE.replace("pos: 5, len: 6", "pos: 4, len: 6"));
        assert_eq!(
            (f.kind, f.line(), f.column()),
            (FaultKind::Zone, Some(10), Some(25))
        );
    }

    #[test]
    fn a_zone_past_the_end_is_refused_on_the_length() {
        let f = one(&BASE.replace("pos: 5, len: 6", "pos: 5, len: 7"));
        assert_eq!(
            (f.kind, f.line(), f.column()),
            (FaultKind::Zone, Some(10), Some(33))
        );
    }

    #[test]
    fn a_huge_length_does_not_wrap() {
        let f = one(&BASE.replace("pos: 5, len: 6", "pos: 5, len: 18446744073709551615"));
        assert_eq!(f.kind, FaultKind::Zone);
    }

    #[test]
    fn an_unknown_type_is_refused_with_a_suggestion() {
        let f = one(&BASE.replace("type: digits", "type: digit"));
        assert_eq!(
            (f.kind, f.line(), f.column()),
            (FaultKind::BadValue, Some(9), Some(42))
        );
        assert!(f.message.contains("« digits »"), "{}", f.message);
    }

    #[test]
    fn too_many_decimals_are_refused() {
        let text = BASE.replace("type: digits }", "type: amount, decimals: 64 }");
        assert_eq!(one(&text).kind, FaultKind::MissingKey);
    }

    #[test]
    fn a_reserved_field_name_is_refused() {
        for name in ["records", "line", "faulty"] {
            let f = one(&BASE.replace("name: a,", &format!("name: {name},")));
            assert_eq!((f.kind, f.line()), (FaultKind::BadValue, Some(9)), "{name}");
        }
    }

    #[test]
    fn every_fault_of_a_file_is_reported_at_once() {
        let text = BASE
            .replace("layout: fixed", "layout: fixed\nrecord_lenght: 3")
            .replace("type: digits", "type: digit")
            .replace("pattern: JJMMAA", "pattern: JJMMAAA");
        let err = load(&text).unwrap_err();
        let kinds: Vec<(FaultKind, Option<u32>)> =
            err.0.iter().map(|f| (f.kind, f.line())).collect();
        assert_eq!(
            kinds,
            [
                (FaultKind::UnknownKey, Some(5)),
                (FaultKind::BadValue, Some(10)),
                (FaultKind::BadValue, Some(11))
            ],
            "{err}"
        );
    }

    #[test]
    fn a_subject_key_outside_the_report_order_is_refused() {
        let text = BASE.replace(
            "{ group: e, open: r }",
            "{ group: e, open: r, subject: { cle: a } }",
        );
        let report = "subjects:\n  order: [a]\n";
        let err = from_sources(vec![
            (PathBuf::from("g.yaml"), text),
            (PathBuf::from("report.yaml"), report.into()),
        ])
        .unwrap_err();
        assert!(err.has(FaultKind::UnknownName), "{err}");
    }

    fn delimited(format: &str) -> String {
        format!(
            "format: {format}\ntitle: test\nencoding: utf-8\nlayout: delimited\nseparator: \";\"\nheader: true\nrecords:\n  - name: r\n    fields:\n      - {{ name: k, len: 3, type: digits }}\n      - {{ name: v, type: text }}\nstructure:\n  group: root_{format}\n  stream: true\n  children:\n    - {{ group: e_{format}, plural: items_{format}, open: r }}\n"
        )
    }

    fn with_joins(joins: &str) -> Result<GrammarSet, Faults> {
        from_sources(vec![
            (PathBuf::from("a.yaml"), delimited("a")),
            (PathBuf::from("b.yaml"), delimited("b")),
            (PathBuf::from("joins.yaml"), joins.to_string()),
        ])
    }

    const LINK: &str = "links:\n  - from: { grammar: a, group: e_a, key: [k], as: others }\n    to:   { grammar: b, group: e_b, key: [k], as: first }\n";

    #[test]
    fn a_valid_link_gives_both_sides_a_slot() {
        let set = with_joins(LINK).unwrap();
        assert_eq!(set.links.len(), 1);
        assert_eq!(set.links[0].from.slot, Some(0));
        assert_eq!(set.links[0].to.slot, Some(0));
    }

    #[test]
    fn bad_joins_are_refused_on_the_faulty_value() {
        for (bad, kind, token) in [
            (
                LINK.replace("group: e_b", "group: nope"),
                FaultKind::UnknownName,
                "nope",
            ),
            (
                LINK.replace("key: [k], as: first", "key: [], as: first"),
                FaultKind::MissingKey,
                "[]",
            ),
            (
                LINK.replace("as: others", "as: v"),
                FaultKind::Duplicate,
                "v }",
            ),
            (
                format!("{LINK}    every: true\n"),
                FaultKind::BadValue,
                "first",
            ),
        ] {
            let err = with_joins(&bad).unwrap_err();
            let f = &err.0[0];
            assert_eq!(
                (&f.file, f.kind),
                (&PathBuf::from("joins.yaml"), kind),
                "{err}"
            );
            let at: String = f
                .source_line
                .as_deref()
                .unwrap_or_default()
                .chars()
                .skip(f.column().unwrap_or(1) as usize - 1)
                .collect();
            assert!(at.starts_with(token), "caret under {token}: {err}");
        }
    }
}
