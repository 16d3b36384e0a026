//! The participation of a rule set (CAS): a script run on each fact of its scope after every
//! rule, with the findings about that fact (`constats`), that says what is paid and why not.
//! Its rates are ordinary parameters (a map per year), so a new year is a line of the manifest.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{Array, Dynamic, Map, AST};
use serde::Deserialize;

use super::bindings::Bindings;
use super::engine::Fact;
use super::eval::ScriptRunner;
use super::manifest::{read_script, scope_chain, Loader, Rule, RuleSet};
use crate::diag::{Doc, Fault, FaultKind, Spanned};
use crate::facts::subject_of;
use crate::model::{Kind, Node, Outcome, Severity, Subject};

/// The manifest's `participation:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipationSpec {
    scope: Spanned<String>,
    script: Spanned<String>,
}

/// A participation script, loaded and checked.
#[derive(Debug, Clone)]
pub struct Participation {
    /// The group of its facts (`medecin_annee`).
    pub scope: String,
    /// Its script file.
    pub script_path: PathBuf,
    /// The script.
    pub source: String,
}

/// Columns of `participations-<annee>.csv`, as the participation script names its
/// map's keys (`rpps` and `annee` come from the fact's subject).
pub const PARTICIPATION_COLUMNS: [&str; 9] = [
    "rpps",
    "annee",
    "statut",
    "assiette_maladie",
    "assiette_famille",
    "part_opposable",
    "prorata",
    "montant",
    "motifs",
];

/// The code failures of the participation script are reported under.
pub const CODE: &str = "PARTICIPATION";

impl Loader<'_> {
    /// Reads and checks the participation entry of `set`.
    pub(super) fn participation(
        &self,
        doc: &Doc,
        set: &RuleSet,
        spec: Spanned<ParticipationSpec>,
        faults: &mut Vec<Fault>,
    ) -> Option<Participation> {
        let span = spec.span;
        let spec = spec.value;
        let Some(chain) = scope_chain(self.grammars, set, &spec.scope) else {
            faults.push(doc.fault(
                FaultKind::UnknownName,
                spec.scope.span,
                format!("participation : portée « {} » inconnue", spec.scope.value),
            ));
            return None;
        };
        let (script_path, source) = read_script(doc, set, &spec.script, "participation", faults)?;
        // Checked as a rule is: names, fields, calls.
        let as_rule = Rule {
            code: Arc::from(CODE),
            title: String::new(),
            kind: Kind::Anomaly,
            severity: Severity::Info,
            scope: spec.scope.value.clone(),
            script_path: script_path.clone(),
            source: source.clone(),
            message: String::new(),
            guidance: None,
            from: None,
            until: None,
            damaged: false,
            field: None,
            span,
        };
        faults.extend(self.check_script(doc, set, &as_rule, &chain, &[]));
        Some(Participation {
            scope: spec.scope.value,
            script_path,
            source,
        })
    }
}

/// One participation as its script gave it: column name → written value.
#[derive(Debug, Clone, PartialEq)]
pub struct Paid {
    /// The fact's subject (`rpps`, `annee`).
    pub subject: Subject,
    /// The script's map, each value written as text (`()` is empty, a list is joined by `,`).
    pub values: Vec<(String, String)>,
}

impl Paid {
    /// The value of `key`, empty when the script did not give it.
    pub fn get(&self, key: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Why the participation script stopped on a fact.
#[derive(Debug, Clone)]
pub struct Unpaid {
    /// The fact's subject.
    pub subject: Subject,
    /// Why, without any value read from the facts.
    pub message: String,
    /// The script line, when known.
    pub line: Option<u32>,
}

/// What the participation script gave over a run.
#[derive(Debug, Clone, Default)]
pub struct Settled {
    /// One per fact the script paid or blocked.
    pub paid: Vec<Paid>,
    /// One per fact it stopped on (a script that does not compile: one, with no subject).
    pub unpaid: Vec<Unpaid>,
}

/// Runs the participation of `set` on each of `facts` (its scope's facts, in order), with the
/// findings of `outcomes` about each; `None` when the set has no participation.
pub fn settle(
    bindings: &Arc<Bindings>,
    grammars: &crate::model::GrammarSet,
    set: &RuleSet,
    facts: &[Arc<Node>],
    outcomes: &[Outcome],
    as_of: NaiveDate,
) -> Option<Settled> {
    let p = set.participation.as_ref()?;
    let mut runner = ScriptRunner::new(bindings, set, as_of);
    let chain = scope_chain(grammars, set, &p.scope).unwrap_or_default();
    let ast: AST = match runner.compile(set, &chain, &p.source) {
        Ok(a) => a,
        Err(message) => {
            return Some(Settled {
                paid: Vec::new(),
                unpaid: vec![Unpaid {
                    subject: Subject::default(),
                    message,
                    line: None,
                }],
            })
        }
    };
    let scope_facts: Vec<&Arc<Node>> = facts.iter().filter(|f| f.group.name == p.scope).collect();
    let keys: Vec<String> = scope_facts
        .first()
        .map(|f| {
            subject_of(&[&***f])
                .0
                .iter()
                .map(|(k, _)| k.to_string())
                .collect()
        })
        .unwrap_or_default();
    let about = findings_by_subject(outcomes, &keys);
    let (mut paid, mut unpaid) = (Vec::new(), Vec::new());
    for fact in scope_facts {
        let subject = subject_of(&[&**fact]);
        let constats: Array = about
            .get(&subject.to_string())
            .map(|list| list.iter().map(|o| constat(o)).collect())
            .unwrap_or_default();
        let vars = vec![
            (p.scope.clone(), Dynamic::from(Fact::new(Arc::clone(fact)))),
            ("constats".to_string(), Dynamic::from_array(constats)),
        ];
        match runner.run(&ast, vars) {
            Ok(Some(v)) if v.is_map() => paid.push(Paid {
                subject,
                values: written(v.cast::<Map>()),
            }),
            // `()` or `false`: nothing paid or blocked to say (a doctor who did not sign).
            Ok(Some(v)) if v.is_unit() || v.as_bool().is_ok_and(|b| !b) => {}
            Ok(Some(v)) => unpaid.push(Unpaid {
                subject,
                message: format!(
                    "la participation renvoie une map de colonnes ou (), pas {}",
                    v.type_name()
                ),
                line: None,
            }),
            Ok(None) => unpaid.push(Unpaid {
                subject,
                message: "un champ nécessaire n'a pas pu être lu (voir l'erreur de lecture)".into(),
                line: None,
            }),
            Err((message, line)) => unpaid.push(Unpaid {
                subject,
                message,
                line,
            }),
        }
    }
    Some(Settled { paid, unpaid })
}

/// Outcomes other than errors, by the subject text of the fact they are about: an outcome is
/// about a fact when its subject starts with the fact's `keys` (a norm anomaly adds
/// `organisme`). Outcomes about other things (an invoice) are not indexed.
fn findings_by_subject<'o>(
    outcomes: &'o [Outcome],
    keys: &[String],
) -> HashMap<String, Vec<&'o Outcome>> {
    let mut by: HashMap<String, Vec<&Outcome>> = HashMap::new();
    if keys.is_empty() {
        return by;
    }
    for o in outcomes.iter().filter(|o| o.kind != Kind::Error) {
        let head = o.subject.0.get(..keys.len());
        if head.is_some_and(|h| h.iter().zip(keys).all(|((k, _), key)| **k == **key)) {
            let prefix = Subject(head.unwrap_or_default().to_vec()).to_string();
            by.entry(prefix).or_default().push(o);
        }
    }
    by
}

/// A finding as the participation script sees it.
fn constat(o: &Outcome) -> Dynamic {
    let mut m = Map::new();
    m.insert("code".into(), Dynamic::from(o.code.to_string()));
    m.insert("kind".into(), Dynamic::from(o.kind.as_str().to_string()));
    m.insert(
        "severity".into(),
        Dynamic::from(o.severity.as_str().to_string()),
    );
    let organisme = o.subject.get("organisme").map(str::to_string);
    m.insert(
        "organisme".into(),
        organisme.map_or(Dynamic::UNIT, Dynamic::from),
    );
    Dynamic::from_map(m)
}

/// The script's map as written values.
fn written(m: Map) -> Vec<(String, String)> {
    m.into_iter()
        .map(|(k, v)| (k.to_string(), text(&v)))
        .collect()
}

fn text(v: &Dynamic) -> String {
    if v.is_unit() {
        return String::new();
    }
    if let Some(a) = v.read_lock::<Array>() {
        return a.iter().map(text).collect::<Vec<_>>().join(",");
    }
    if let Ok(b) = v.as_bool() {
        return if b { "O" } else { "N" }.to_string();
    }
    if let Some(d) = v.read_lock::<rust_decimal::Decimal>() {
        return d.to_string();
    }
    v.to_string()
}
