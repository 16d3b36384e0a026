//! Rule cases: YAML files beside a rule set (`cases/<CODE>.yaml`) that give facts in and the
//! outcomes a rule must give out. `vigie rules test` runs them; the snapshot test pins them.
//!
//! A case is the root node of the rule's grammar written as YAML: field names of a group's
//! opening record as keys, its `close_as` (`fin`) for its closing record, list names (`lots`,
//! `factures`, `lignes`) for its children, or one root per format (`b2:`, `scor:`…) when the
//! rule reads joined facts. Fields not given come from `cases/defaults.yaml` (per group name).
//! Each value goes through the grammar's own field decoder, as if read from a file: a value
//! the decoder would refuse is a fault of the case, located on it. `faulty: [champ]` makes
//! fields of a record unreadable, as a damaged record of a file would be. The records then go
//! through the real assembler, joins and evaluator (the same path as an analysis): counters,
//! ranks, duplicates and joins are what a file would give.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::diag::suggest::closest;
use crate::diag::yaml::{Node, Value as Yaml};
use crate::diag::{Doc, Fault, FaultKind, Faults, Ordered, Spanned};
use crate::drive::{self, Input, Records};
use crate::grammar::decode::{decode_field, field_fault, Decoded};
use crate::model::{
    DatePattern, ErrorCode, FieldDef, FieldType, Grammar, GrammarSet, GroupDef, Kind, Layout,
    Outcome, Record, Span, Value,
};
use crate::rules::bindings::Bindings;
use crate::rules::manifest::RuleSet;
use crate::rules::participation;

/// The keys a case file has at its top.
const FILE_KEYS: &[&str] = &["rule", "as_of", "cases"];

/// The keys an expectation may give besides subject keys.
const EXPECT_KEYS: &[&str] = &[
    "code", "kind", "severity", "message", "text", "motif", "field",
];

/// The key that marks fields of a record unreadable.
const FAULTY: &str = "faulty";

#[derive(Debug, Deserialize)]
struct Header {
    rule: Spanned<String>,
    as_of: NaiveDate,
}

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The rule tested.
    pub code: String,
    /// The case's name.
    pub name: String,
    #[serde(skip)]
    /// The case file.
    pub file: PathBuf,
    /// The case's line in its file.
    #[serde(skip)]
    pub line: u32,
    /// Expected outcomes not produced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Outcomes produced but not expected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unexpected: Vec<String>,
    /// What the rule produced (snapshots pin these).
    pub outcomes: Vec<Outcome>,
}

impl CaseResult {
    /// Whether the rule gave exactly what was expected.
    pub fn passed(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }

    /// A readable difference between expected and obtained.
    pub fn diff(&self) -> String {
        let mut s = String::new();
        for m in &self.missing {
            s.push_str(&format!("    - attendu, non obtenu : {m}\n"));
        }
        for u in &self.unexpected {
            s.push_str(&format!("    + obtenu, non attendu : {u}\n"));
        }
        s
    }
}

/// The case files of a rule set (`cases/*.yaml` except `defaults.yaml`), sorted.
pub fn case_files(set: &RuleSet) -> Vec<PathBuf> {
    let dir = set.dir.join("cases");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !is_defaults(p))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs every case file of a rule set, then checks that every rule has a case where it fires
/// and one where it does not.
pub(crate) fn run_set(
    grammars: &GrammarSet,
    bindings: &Arc<Bindings>,
    set: &Arc<RuleSet>,
    interpreted: bool,
) -> Result<Vec<CaseResult>, Faults> {
    let mut results = Vec::new();
    let mut faults = Vec::new();
    for f in case_files(set) {
        match run_file(grammars, bindings, set, &f, interpreted) {
            Ok(mut r) => results.append(&mut r),
            Err(mut e) => faults.append(&mut e.0),
        }
    }
    let mut missing = coverage(set, &results);
    results.append(&mut missing);
    if faults.is_empty() {
        Ok(results)
    } else {
        Err(Faults(faults))
    }
}

/// A failed result for each rule of `set` that `results` never see fire, or never see quiet.
pub fn coverage(set: &RuleSet, results: &[CaseResult]) -> Vec<CaseResult> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for rule in set
        .rules
        .iter()
        .filter(|r| seen.insert(Arc::clone(&r.code)))
    {
        let mine: Vec<&CaseResult> = results.iter().filter(|r| *r.code == *rule.code).collect();
        let fires = mine
            .iter()
            .any(|r| r.outcomes.iter().any(|o| o.kind != Kind::Error));
        let quiet = mine.iter().any(|r| r.outcomes.is_empty());
        if !fires || !quiet {
            out.push(CaseResult {
                code: rule.code.to_string(),
                name: "couverture des cas".into(),
                file: set.dir.join("cases").join(format!("{}.yaml", rule.code)),
                line: 0,
                missing: vec![format!(
                    "cases/{}.yaml : au moins un cas où la règle se déclenche et un où elle ne se déclenche pas",
                    rule.code
                )],
                unexpected: Vec::new(),
                outcomes: Vec::new(),
            });
        }
    }
    out
}

fn is_defaults(p: &Path) -> bool {
    p.file_stem().is_some_and(|s| s == "defaults")
}

/// Runs the cases of one file (`interpreted`: every rule in Rhai's interpreter alone).
pub(crate) fn run_file(
    grammars: &GrammarSet,
    bindings: &Arc<Bindings>,
    set: &Arc<RuleSet>,
    path: &Path,
    interpreted: bool,
) -> Result<Vec<CaseResult>, Faults> {
    let doc = Doc::read(path)?;
    let defaults_path = path.with_file_name("defaults.yaml");
    let defaults = if defaults_path.is_file() {
        Some(Doc::read(&defaults_path)?)
    } else {
        None
    };
    let mut faults = Vec::new();
    let Some(header) = doc.checked::<Header>(&doc.root, FILE_KEYS, &mut faults) else {
        return Err(Faults(faults));
    };
    let participation = set
        .participation
        .as_ref()
        .filter(|_| header.rule.value == participation::CODE);
    let scope = match (
        participation,
        set.rules.iter().find(|r| *r.code == header.rule.value),
    ) {
        (Some(p), _) => p.scope.clone(),
        (None, Some(rule)) => rule.scope.clone(),
        (None, None) => {
            return Err(doc
                .fault(
                    FaultKind::UnknownName,
                    header.rule.span,
                    format!("règle « {} » absente du jeu {}", header.rule.value, set.id),
                )
                .into())
        }
    };
    let Some(grammar) = set
        .grammars
        .iter()
        .filter_map(|g| grammars.get(g))
        .find(|g| g.group(&scope).is_some())
    else {
        return Err(doc
            .fault(
                FaultKind::UnknownName,
                header.rule.span,
                "portée de la règle inconnue",
            )
            .into());
    };
    let cases = match doc.root.get("cases").map(|c| &c.value) {
        Some(Yaml::Seq(items)) => items.as_slice(),
        _ => {
            return Err(doc
                .fault(
                    FaultKind::MissingKey,
                    doc.root.span,
                    "`cases` : la liste des cas manque",
                )
                .into())
        }
    };
    let ctx = Context {
        grammars,
        doc: &doc,
        defaults: defaults.as_ref(),
        columns: if participation.is_some() {
            &participation::PARTICIPATION_COLUMNS
        } else {
            &[]
        },
        name: Arc::from(
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    let mut results = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        match ctx.case(case, i, grammar, &scope) {
            Ok((name, inputs, expect)) => {
                let opts = drive::Options {
                    jobs: 1,
                    as_of: Some(header.as_of),
                    only: participation.is_none().then(|| header.rule.value.clone()),
                    keep_held: participation.is_some(),
                    interpreted,
                    ..drive::Options::default()
                };
                let analysis =
                    drive::run(inputs, grammars, bindings, std::slice::from_ref(set), &opts);
                let outcomes = match participation {
                    Some(_) => settled(grammars, bindings, set, &analysis, header.as_of),
                    None => analysis.outcomes,
                };
                let (missing, unexpected) = compare(&expect, &outcomes);
                results.push(CaseResult {
                    code: header.rule.value.clone(),
                    name,
                    file: path.to_path_buf(),
                    line: case.span.line,
                    missing,
                    unexpected,
                    outcomes,
                });
            }
            Err(mut f) => faults.append(&mut f),
        }
    }
    if faults.is_empty() {
        Ok(results)
    } else {
        Err(Faults(faults))
    }
}

/// A participation case's results as outcomes, so that expectations and snapshots read them
/// like any rule's: each participation line is a `PARTICIPATION` outcome whose subject carries
/// its columns (`statut`, `montant`, `motifs`…); a stop of the script is a `RULE` error.
fn settled(
    grammars: &GrammarSet,
    bindings: &Arc<Bindings>,
    set: &RuleSet,
    analysis: &drive::Analysis,
    as_of: NaiveDate,
) -> Vec<Outcome> {
    let facts: Vec<Arc<crate::model::Node>> =
        analysis.held.iter().map(|u| Arc::clone(&u.node)).collect();
    let settled = participation::settle(bindings, grammars, set, &facts, &analysis.outcomes, as_of);
    let participation::Settled { paid, unpaid } = settled.unwrap_or_default();
    let code: Arc<str> = Arc::from(participation::CODE);
    let mut out: Vec<Outcome> = paid
        .into_iter()
        .map(|p| {
            let mut subject = p.subject;
            subject.0.extend(
                p.values
                    .into_iter()
                    .map(|(k, v)| (Arc::from(k.as_str()), v)),
            );
            Outcome {
                kind: Kind::Anomaly,
                code: Arc::clone(&code),
                severity: crate::model::Severity::Info,
                message: format!("participation {subject}"),
                subject,
                text: None,
                ruleset: Some(Arc::clone(&set.id)),
                source: None,
                date: None,
                details: crate::model::Details::default(),
            }
        })
        .collect();
    for u in unpaid {
        let mut e = Outcome::error(
            ErrorCode::Rule,
            &Arc::from(set.dir.join("ruleset.yaml").display().to_string()),
            u.line,
            None,
            Some(participation::CODE),
            u.message,
        );
        e.subject = u.subject;
        out.push(e);
    }
    out
}

/// One expected outcome: the keys it gives must match, the others are free.
struct Expectation(Vec<(String, String)>);

/// What building cases needs.
struct Context<'a> {
    grammars: &'a GrammarSet,
    doc: &'a Doc,
    defaults: Option<&'a Doc>,
    name: Arc<str>,
    /// Keys an expectation may give besides an outcome's (a participation's columns).
    columns: &'static [&'static str],
}

type Built = (String, Vec<Input>, Vec<Expectation>);

/// One file's root in a case: its grammar and the entries given for it.
type Root<'g, 'n> = (&'g Arc<Grammar>, Vec<&'n (Node, Node)>);

impl<'c> Context<'c> {
    fn case(
        &self,
        case: &'c Node,
        i: usize,
        grammar: &Arc<Grammar>,
        scope: &str,
    ) -> Result<Built, Vec<Fault>> {
        let doc = self.doc;
        let name = case
            .get("name")
            .and_then(Node::as_str)
            .map_or_else(|| format!("cas {}", i + 1), str::to_string);
        let fault = |kind, span, msg: String| {
            vec![doc.fault(kind, span, format!("cas « {name} » : {msg}"))]
        };
        let Some(expect_node) = case.get("expect") else {
            return Err(fault(
                FaultKind::MissingKey,
                case.span,
                "`expect` manque (une liste, vide quand la règle ne doit rien donner)".into(),
            ));
        };
        let expect = self.expectations(expect_node).map_err(|f| vec![f])?;
        let body: Vec<&(Node, Node)> = case
            .entries()
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), Some("name" | "expect")))
            .collect();
        let named: Vec<(&Arc<Grammar>, &Node)> = body
            .iter()
            .filter_map(|(k, v)| {
                let g = k
                    .as_str()
                    .and_then(|k| self.grammars.get(k))
                    .filter(|g| !g.synthetic)?;
                Some((g, v))
            })
            .collect();
        let mut roots: Vec<Root> = Vec::new();
        if named.is_empty() {
            if grammar.synthetic {
                let members: Vec<String> = self
                    .grammars
                    .gathers
                    .iter()
                    .filter(|g| Arc::ptr_eq(&g.grammar, grammar))
                    .flat_map(|g| g.members.iter().map(|m| m.grammar.clone()))
                    .collect();
                return Err(fault(
                    FaultKind::MissingKey,
                    case.span,
                    format!(
                        "la portée {scope} réunit plusieurs fichiers : donnez-les par format ({})",
                        members.join(", ")
                    ),
                ));
            }
            roots.push((grammar, body));
        } else if named.len() != body.len() {
            return Err(fault(
                FaultKind::BadValue,
                case.span,
                "un cas donne soit les champs d'une racine, soit des racines par format, pas les deux".into(),
            ));
        } else {
            for (g, v) in named {
                roots.push((g, v.entries().iter().collect()));
            }
        }
        let mut inputs = Vec::new();
        let mut faults = Vec::new();
        for (g, entries) in roots {
            let mut b = Builder {
                ctx: self,
                grammar: g,
                lines: Vec::new(),
                line: u32::from(matches!(g.layout, Layout::Delimited { header: true, .. })),
                faults: Vec::new(),
            };
            if let Some(root) = g.root() {
                b.group(root, &entries);
            }
            faults.append(&mut b.faults);
            inputs.push(Input::Records(Records {
                name: Arc::clone(&self.name),
                grammar: Arc::clone(g),
                lines: b.lines,
                closers_optional: true,
            }));
        }
        if faults.is_empty() {
            Ok((name, inputs, expect))
        } else {
            Err(faults)
        }
    }

    fn expectations(&self, node: &Node) -> Result<Vec<Expectation>, Fault> {
        let list: Vec<Spanned<Ordered<Spanned<String>, String>>> = self.doc.typed(node)?;
        let subjects = &self.grammars.subjects;
        let mut out = Vec::new();
        for e in list {
            for (k, _) in &e.0 {
                if !EXPECT_KEYS.contains(&k.as_str())
                    && !subjects.contains(k)
                    && !self.columns.contains(&k.as_str())
                {
                    let known: Vec<&str> = EXPECT_KEYS
                        .iter()
                        .chain(self.columns)
                        .copied()
                        .chain(subjects.keys.iter().map(|k| &**k))
                        .collect();
                    let hint = closest(k, known.iter().copied())
                        .map(|s| format!(" ; vouliez-vous dire « {s} » ?"))
                        .unwrap_or_default();
                    return Err(self.doc.fault(
                        FaultKind::UnknownKey,
                        k.span,
                        format!(
                            "attente : clé inconnue « {} »{hint} (attendu : {})",
                            k.value,
                            known.join(", ")
                        ),
                    ));
                }
            }
            out.push(Expectation(
                e.value.0.into_iter().map(|(k, v)| (k.value, v)).collect(),
            ));
        }
        Ok(out)
    }
}

/// Turns a case's tree into the decoded records a file of the grammar would give.
struct Builder<'a, 'c> {
    ctx: &'a Context<'c>,
    grammar: &'a Arc<Grammar>,
    lines: Vec<(Decoded, u32)>,
    line: u32,
    faults: Vec<Fault>,
}

/// A value given by the case or by its defaults, and the file it comes from.
type Given<'n> = (&'n Doc, &'n Node, &'n Node);

impl<'c> Builder<'_, 'c> {
    fn fault(&mut self, doc: &Doc, span: Span, kind: FaultKind, msg: String) {
        self.faults.push(doc.fault(kind, span, msg));
    }

    /// The defaults of `group`, then the case's own entries (which win).
    fn entries(&self, group: &GroupDef, own: &[&'c (Node, Node)]) -> Vec<Given<'c>> {
        let mut out: Vec<Given<'c>> = Vec::new();
        if let Some(d) = self.ctx.defaults {
            if let Some(node) = d.root.get(&group.name) {
                for (k, v) in node.entries() {
                    out.push((d, k, v));
                }
            }
        }
        for (k, v) in own {
            match out.iter_mut().find(|(_, ok, _)| ok.as_str() == k.as_str()) {
                Some(slot) => *slot = (self.ctx.doc, k, v),
                None => out.push((self.ctx.doc, k, v)),
            }
        }
        out
    }

    fn group(&mut self, group: &Arc<GroupDef>, own: &[&'c (Node, Node)]) {
        let entries = self.entries(group, own);
        let mut open_fields: Vec<Given> = Vec::new();
        let mut close: Option<Given> = None;
        let mut children: Vec<(usize, Vec<&'c (Node, Node)>)> = Vec::new();
        for (doc, k, v) in entries {
            let key = k.as_str().unwrap_or_default();
            if group.close.is_some() && key == group.close_as {
                close = Some((doc, k, v));
            } else if let Some((ci, child)) =
                group.children.iter().enumerate().find_map(|(ci, &c)| {
                    self.grammar
                        .group_at(c)
                        .filter(|g| g.plural == key)
                        .map(|g| (ci, g))
                })
            {
                let items: Vec<&'c Node> = match &v.value {
                    Yaml::Seq(items) => items.iter().collect(),
                    Yaml::Map(_) => vec![v],
                    _ => {
                        self.fault(
                            doc,
                            v.span,
                            FaultKind::BadValue,
                            format!("« {key} » est une liste de {}", child.name),
                        );
                        continue;
                    }
                };
                for item in items {
                    if !matches!(item.value, Yaml::Map(_)) {
                        self.fault(
                            doc,
                            item.span,
                            FaultKind::BadValue,
                            format!("« {key} » est une liste de tables"),
                        );
                    }
                    children.push((ci, item.entries().iter().collect()));
                }
            } else {
                open_fields.push((doc, k, v));
            }
        }
        match group.open.and_then(|o| self.grammar.record_at(o)) {
            Some(def) => {
                let def = Arc::clone(def);
                self.record(&def, group, &open_fields);
            }
            None => {
                if let Some((doc, k, _)) = open_fields.first() {
                    let msg = format!(
                        "le groupe {} n'a pas de champs : « {} » ne s'y lit pas",
                        group.name,
                        k.as_str().unwrap_or_default()
                    );
                    self.fault(doc, k.span, FaultKind::UnknownField, msg);
                }
            }
        }
        children.sort_by_key(|(ci, _)| *ci);
        for (ci, entries) in children {
            if let Some(child) = group
                .children
                .get(ci)
                .and_then(|&c| self.grammar.group_at(c))
            {
                let child = Arc::clone(child);
                self.group(&child, &entries);
            }
        }
        if let Some((doc, k, v)) = close {
            match group.close.and_then(|c| self.grammar.record_at(c)) {
                Some(def) => {
                    let def = Arc::clone(def);
                    let fields: Vec<Given> =
                        v.entries().iter().map(|(fk, fv)| (doc, fk, fv)).collect();
                    self.record(&def, group, &fields);
                }
                None => self.fault(
                    doc,
                    k.span,
                    FaultKind::UnknownField,
                    format!("{} n'a pas d'enregistrement de fin", group.name),
                ),
            }
        }
    }

    /// One record from its given fields: each value through the field's decoder, `faulty`
    /// fields unreadable, the others absent.
    fn record(&mut self, def: &Arc<crate::model::RecordDef>, group: &GroupDef, fields: &[Given]) {
        self.line += 1;
        let mut faulty: HashSet<String> = HashSet::new();
        for (doc, _, v) in fields.iter().filter(|(_, k, _)| k.as_str() == Some(FAULTY)) {
            let names: Vec<&Node> = match &v.value {
                Yaml::Seq(items) => items.iter().collect(),
                _ => vec![*v],
            };
            for n in names {
                match n.as_str() {
                    Some(name) if def.field(name).is_some() => {
                        faulty.insert(name.to_string());
                    }
                    _ => self.fault(
                        doc,
                        n.span,
                        FaultKind::UnknownField,
                        format!(
                            "`{FAULTY}` : « {} » n'est pas un champ de {}",
                            n.as_str().unwrap_or_default(),
                            def.name
                        ),
                    ),
                }
            }
        }
        let mut values = vec![Value::Absent; def.fields.len()];
        let mut line_faults = Vec::new();
        for (doc, k, v) in fields.iter().filter(|(_, k, _)| k.as_str() != Some(FAULTY)) {
            let key = k.as_str().unwrap_or_default();
            let Some(i) = def.field_index(key) else {
                let names: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
                let hint = closest(key, names.iter().copied())
                    .map(|s| format!(" ; vouliez-vous dire « {s} » ?"))
                    .unwrap_or_default();
                self.fault(
                    doc,
                    k.span,
                    FaultKind::UnknownField,
                    format!(
                        "champ « {key} » inconnu de l'enregistrement {} ({}){hint}",
                        def.name, group.name
                    ),
                );
                continue;
            };
            let Some(f) = def.fields.get(i) else { continue };
            if faulty.contains(key) {
                continue;
            }
            match self.value(f, v) {
                Ok(value) => {
                    if let Some(slot) = values.get_mut(i) {
                        *slot = value;
                    }
                }
                Err(msg) => self.fault(
                    doc,
                    v.span,
                    FaultKind::BadValue,
                    format!("champ {} : {msg}", f.name),
                ),
            }
        }
        let mut faulty_bits = 0u128;
        for (i, f) in def
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| faulty.contains(&f.name))
        {
            faulty_bits |= Record::fault_bit(i);
            line_faults.push(field_fault(
                &f.name,
                f.column(),
                &crate::grammar::field::expected(&f.ty, Some(f.len)),
            ));
        }
        let record_index = self
            .grammar
            .records
            .iter()
            .position(|r| Arc::ptr_eq(r, def));
        self.lines.push((
            Decoded {
                record_index,
                record: Some(Record {
                    def: Arc::clone(def),
                    values: values.into(),
                    line: self.line,
                    faulty: faulty_bits,
                }),
                faults: line_faults,
            },
            self.line,
        ));
    }

    /// A value as the field's decoder reads it from the zone a file would hold.
    fn value(&self, f: &FieldDef, v: &Node) -> Result<Value, String> {
        let text = match &v.value {
            Yaml::Null => String::new(),
            Yaml::Scalar { text, .. } => text.clone(),
            _ => return Err("une valeur simple est attendue".into()),
        };
        let fixed = matches!(self.grammar.layout, Layout::Fixed { .. });
        let raw = zone_text(f, &text, fixed)?;
        let raw = if fixed {
            let n = raw.chars().count();
            if n > f.len {
                return Err(format!(
                    "« {text} » ne tient pas dans sa zone de {} caractères",
                    f.len
                ));
            }
            format!("{raw}{}", " ".repeat(f.len - n))
        } else {
            raw
        };
        let bytes: Vec<u8> = if self.grammar.latin1() {
            raw.chars()
                .map(|c| {
                    u8::try_from(u32::from(c))
                        .map_err(|_| format!("« {c} » n'existe pas en ISO-8859-1"))
                })
                .collect::<Result<_, _>>()?
        } else {
            raw.into_bytes()
        };
        decode_field(self.grammar, f, &bytes).map_err(|fault| {
            if text.is_empty() {
                format!("vide, alors que le champ est obligatoire ({}) ; `{FAULTY}: [{}]` le rend illisible", fault.expected.as_deref().unwrap_or(&fault.message), f.name)
            } else {
                format!("« {text} » refusé : {}", fault.expected.as_deref().unwrap_or(&fault.message))
            }
        })
    }
}

/// What a file would hold for `text` (as a case writes it: dates `AAAA-MM-JJ`, amounts in
/// euros with a dot, booleans `true`/`false` or their spelling).
fn zone_text(f: &FieldDef, text: &str, fixed: bool) -> Result<String, String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    Ok(match &f.ty {
        FieldType::Date(p) => {
            let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("« {text} » : date AAAA-MM-JJ attendue"))?;
            if *p == DatePattern::Jjmmaa && !(2000..=2099).contains(&d.year()) {
                return Err(format!(
                    "« {text} » : une date JJMMAA est entre 2000 et 2099"
                ));
            }
            d.format(p.chrono_format()).to_string()
        }
        FieldType::Amount {
            decimals,
            separator,
        } => {
            let units = amount_units(text, *decimals)?;
            match separator {
                None if fixed => format!("{units:0width$}", width = f.len),
                None => units.to_string(),
                Some(sep) => {
                    let scale = 10u64.pow(*decimals);
                    let (int, frac) = (units / scale, units % scale);
                    if *decimals == 0 {
                        int.to_string()
                    } else {
                        format!(
                            "{int}{}{frac:0width$}",
                            char::from(*sep),
                            width = *decimals as usize
                        )
                    }
                }
            }
        }
        FieldType::Integer => {
            let i: u64 = text
                .parse()
                .map_err(|_| format!("« {text} » : nombre entier positif attendu"))?;
            if fixed {
                format!("{i:0width$}", width = f.len)
            } else {
                i.to_string()
            }
        }
        FieldType::Bool { yes, no } => match text {
            "true" => yes.first().cloned().unwrap_or_default(),
            "false" => no.first().cloned().unwrap_or_default(),
            other => other.to_string(),
        },
        _ => text.to_string(),
    })
}

/// An amount written in euros (`12.50`, `12.5`, `12`) in units of its last decimal.
fn amount_units(text: &str, decimals: u32) -> Result<u64, String> {
    let bad = || format!("« {text} » : montant positif attendu (12.50)");
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > decimals as usize
        || int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let int: u64 = int.parse().map_err(|_| bad())?;
    let frac_value: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    let pad = 10u64.pow(decimals - u32::try_from(frac.len()).map_err(|_| bad())?);
    int.checked_mul(10u64.pow(decimals))
        .and_then(|i| i.checked_add(frac_value * pad))
        .ok_or_else(bad)
}

/// The value of `key` of an outcome, as an expectation writes it.
fn outcome_key(o: &Outcome, key: &str) -> Option<String> {
    match key {
        "code" => Some(o.code.to_string()),
        "kind" => Some(o.kind.as_str().to_string()),
        "severity" => Some(o.severity.as_str().to_string()),
        "message" => Some(o.message.clone()),
        "text" => o.text.clone(),
        "motif" => o.details.motif.clone(),
        "field" => o
            .details
            .field
            .clone()
            .or_else(|| o.source.as_ref().and_then(|s| s.field.clone())),
        subject => o.subject.get(subject).map(str::to_string),
    }
}

/// Matches expectations with outcomes. Input errors (`PARSE`, `STRUCTURE`) that a case's
/// `faulty` fields cause are compared only when the case expects one.
fn compare(expect: &[Expectation], outcomes: &[Outcome]) -> (Vec<String>, Vec<String>) {
    let input_error = |o: &Outcome| {
        o.kind == Kind::Error
            && (&*o.code == ErrorCode::Parse.as_str() || &*o.code == ErrorCode::Structure.as_str())
    };
    let wants_input_errors = expect.iter().any(|e| {
        e.0.iter().any(|(k, v)| {
            k == "code" && (v == ErrorCode::Parse.as_str() || v == ErrorCode::Structure.as_str())
        })
    });
    let compared: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| wants_input_errors || !input_error(o))
        .collect();
    let mut used = vec![false; compared.len()];
    let mut missing = Vec::new();
    for e in expect {
        let matches = |o: &Outcome| {
            e.0.iter()
                .all(|(k, v)| outcome_key(o, k).as_deref() == Some(v.as_str()))
        };
        let found = compared
            .iter()
            .zip(used.iter_mut())
            .find(|(o, u)| !**u && matches(o));
        match found {
            Some((_, u)) => *u = true,
            None => missing.push(
                e.0.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }
    let unexpected = compared
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(o, _)| {
            if o.kind == Kind::Error {
                format!("{} {} — {}", o.code, o.subject, o.message)
            } else {
                format!("{} {}", o.code, o.subject)
            }
        })
        .collect();
    (missing, unexpected)
}

/// What a snapshot pins of a case file's results, as text: each case's name and the code,
/// severity, subject, message and guidance text of each outcome. The snapshot test and
/// `vigie rules test --accept` write it with this one function.
pub fn snapshot(results: &[CaseResult]) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        case: &'a str,
        outcomes: Vec<OutcomeView<'a>>,
    }
    #[derive(Serialize)]
    struct OutcomeView<'a> {
        code: &'a str,
        severity: &'a str,
        subject: std::collections::BTreeMap<&'a str, &'a str>,
        message: &'a str,
        text: Option<&'a str>,
    }
    let view: Vec<View> = results
        .iter()
        .map(|r| View {
            case: &r.name,
            outcomes: r
                .outcomes
                .iter()
                .map(|o| OutcomeView {
                    code: &o.code,
                    severity: o.severity.as_str(),
                    subject: o
                        .subject
                        .0
                        .iter()
                        .map(|(k, v)| (&**k, v.as_str()))
                        .collect(),
                    message: &o.message,
                    text: o.text.as_deref(),
                })
                .collect(),
        })
        .collect();
    serde_yaml::to_string(&view).unwrap_or_default()
}

/// The path of a case file as the snapshot names it, from the folder of all rule sets: the
/// set's folder name, then the path under it (`flux-tiers/cases/FAC-DBL.yaml`).
fn case_path(set_dir: &Path, case_file: &Path) -> Option<Vec<String>> {
    let set_name = set_dir.file_name()?.to_string_lossy().into_owned();
    let rel = case_file.strip_prefix(set_dir).ok()?;
    let mut parts = vec![set_name];
    parts.extend(rel.iter().map(|p| p.to_string_lossy().into_owned()));
    Some(parts)
}

/// Where `vigie rules test --accept` and the snapshot test keep the snapshot of a case file
/// of the rule set in `set_dir`: `<snapshots>/rule_snapshots__rule_cases@<set>__cases__<file>.snap`,
/// the name insta gives.
pub fn snapshot_path(snapshots: &Path, set_dir: &Path, case_file: &Path) -> Option<PathBuf> {
    let parts = case_path(set_dir, case_file)?;
    Some(snapshots.join(format!(
        "rule_snapshots__rule_cases@{}.snap",
        parts.join("__")
    )))
}

/// The `input_file` a snapshot names: `rules/<set>/cases/<file>`.
pub fn snapshot_input(set_dir: &Path, case_file: &Path) -> String {
    let parts = case_path(set_dir, case_file).unwrap_or_default();
    format!("rules/{}", parts.join("/"))
}

/// The whole snapshot file insta reads: its header, then [`snapshot`].
pub fn snapshot_file(input_file: &str, results: &[CaseResult]) -> String {
    format!(
        "---\nsource: tests/rule_snapshots.rs\nexpression: snapshot\ninput_file: {input_file}\n---\n{}",
        snapshot(results)
    )
}
