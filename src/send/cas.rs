//! The CAS files vigie writes after an analysis (docs/formats/cas.md): for each year analysed,
//! `participations-<annee>.csv` (what each adherent doctor is paid, or why not, as the rule
//! set's participation script decides) and `retour-<ORG>-<annee>.csv` for each organism (its
//! own norm anomalies and the conflicts returned to it).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;

use crate::drive::Analysis;
use crate::model::{decimal_text, FieldType, Kind, Linked, Node, Outcome, Severity, Unit, Value};
use crate::report::{csv_line, write_atomically};
use crate::rules::participation::{Paid, Unpaid, PARTICIPATION_COLUMNS};

/// The organisms, in the order `valeurs_autres` lists them.
pub const ORGANISMS: [&str; 3] = ["ACOSS", "RSI", "CARMF"];

/// The group of the doctor-and-year facts the CAS outputs are about.
const FACT_GROUP: &str = "medecin_annee";

const RETURN_COLUMNS: [&str; 7] = [
    "code",
    "rpps",
    "annee",
    "champ",
    "valeur_organisme",
    "valeurs_autres",
    "message",
];

/// One file to write: its name in the output folder and its lines (header first).
#[derive(Debug, Clone, PartialEq)]
pub struct CasFile {
    /// `participations-2025.csv`, `retour-ACOSS-2025.csv`.
    pub name: String,
    /// Its cells, the header first.
    pub rows: Vec<Vec<String>>,
}

impl CasFile {
    /// The file's bytes (cas.md "Output files: bytes").
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for row in &self.rows {
            csv_line(&mut out, row);
        }
        out
    }
}

/// The CAS outputs of one analysis.
#[derive(Debug, Default)]
pub struct CasOutputs {
    /// The files, participations first, then the returns by organism and year.
    pub files: Vec<CasFile>,
    /// Facts the participation script stopped on (they have no participation line).
    pub unpaid: Vec<Unpaid>,
}

impl CasOutputs {
    /// Writes every file into `dir` (created if needed), each whole or not at all; the paths
    /// written.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        for f in &self.files {
            let path = dir.join(&f.name);
            write_atomically(&path, |w| w.write_all(&f.bytes()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Builds the CAS outputs from an analysis run with `keep_held`, and the participations the
/// rule sets' scripts gave.
pub fn outputs(analysis: &Analysis, paid: &[Paid], unpaid: Vec<Unpaid>) -> CasOutputs {
    let facts = doctor_years(&analysis.held);
    let years: BTreeSet<String> = facts.keys().map(|(_, y)| y.clone()).collect();
    let records = records_by_line(&analysis.held);
    let mut files = Vec::new();
    for year in &years {
        files.push(participations(year, paid));
    }
    let lines = return_lines(&analysis.outcomes, &facts, &records);
    for year in &years {
        for org in ORGANISMS {
            let mut rows = vec![RETURN_COLUMNS.iter().map(|c| c.to_string()).collect()];
            let mut mine: Vec<&ReturnLine> = lines
                .iter()
                .filter(|l| l.organism == org && &l.annee == year)
                .collect();
            // Sorted by rpps, then code; equal keys keep their order (source lines).
            mine.sort_by(|a, b| (&a.rpps, &a.code).cmp(&(&b.rpps, &b.code)));
            rows.extend(mine.into_iter().map(ReturnLine::cells));
            files.push(CasFile {
                name: format!("retour-{org}-{year}.csv"),
                rows,
            });
        }
    }
    CasOutputs { files, unpaid }
}

/// The participations of `year`, one line per doctor the script paid or blocked, by rpps.
fn participations(year: &str, paid: &[Paid]) -> CasFile {
    let mut lines: Vec<Vec<String>> = paid
        .iter()
        .filter(|p| p.subject.get("annee") == Some(year))
        .map(|p| {
            PARTICIPATION_COLUMNS
                .iter()
                .map(|c| match *c {
                    "rpps" | "annee" => p.subject.get(c).unwrap_or_default().to_string(),
                    _ => p.get(c).to_string(),
                })
                .collect()
        })
        .collect();
    lines.sort();
    let mut rows = vec![PARTICIPATION_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect()];
    rows.extend(lines);
    CasFile {
        name: format!("participations-{year}.csv"),
        rows,
    }
}

/// One line of a return file.
#[derive(Debug, Clone)]
struct ReturnLine {
    organism: String,
    code: String,
    rpps: String,
    annee: String,
    champ: String,
    valeur: String,
    autres: String,
    message: String,
}

impl ReturnLine {
    fn cells(&self) -> Vec<String> {
        vec![
            self.code.clone(),
            self.rpps.clone(),
            self.annee.clone(),
            self.champ.clone(),
            self.valeur.clone(),
            self.autres.clone(),
            self.message.clone(),
        ]
    }
}

/// The doctor-and-year facts by (rpps, annee).
fn doctor_years(held: &[Unit]) -> HashMap<(String, String), Arc<Node>> {
    held.iter()
        .filter(|u| u.node.group.name == FACT_GROUP)
        .filter_map(|u| {
            let key = |f: &str| u.node.field(f).display();
            Some(((key("rpps")?, key("annee")?), Arc::clone(&u.node)))
        })
        .collect()
}

/// Every held record by (file, line): a norm anomaly's own value is read from its record.
fn records_by_line(held: &[Unit]) -> HashMap<(Arc<str>, u32), Arc<Node>> {
    fn walk(file: &Arc<str>, n: &Arc<Node>, out: &mut HashMap<(Arc<str>, u32), Arc<Node>>) {
        if let Some(r) = &n.open {
            // The first node of a line: the record, not a gathered fact dated from it.
            out.entry((Arc::clone(file), r.line))
                .or_insert_with(|| Arc::clone(n));
        }
        for c in n.children.iter().flatten() {
            walk(file, c, out);
        }
    }
    let mut out = HashMap::new();
    for u in held {
        walk(&u.file, &u.node, &mut out);
    }
    out
}

/// The return lines of every CAS norm anomaly (`rejet`, `signalement`) and conflict.
fn return_lines(
    outcomes: &[Outcome],
    facts: &HashMap<(String, String), Arc<Node>>,
    records: &HashMap<(Arc<str>, u32), Arc<Node>>,
) -> Vec<ReturnLine> {
    let mut lines = Vec::new();
    for o in outcomes {
        let (Some(rpps), Some(annee)) = (o.subject.get("rpps"), o.subject.get("annee")) else {
            continue;
        };
        let line = |organism: &str, champ: &str, valeur: String, autres: String| ReturnLine {
            organism: organism.to_string(),
            code: o.code.to_string(),
            rpps: rpps.to_string(),
            annee: annee.to_string(),
            champ: champ.to_string(),
            valeur,
            autres,
            message: o.text.clone().unwrap_or_else(|| o.message.clone()),
        };
        match o.kind {
            Kind::Anomaly if o.severity != Severity::Info => {
                let Some(org) = o.subject.get("organisme") else {
                    continue;
                };
                let champ = o.details.field.clone().unwrap_or_default();
                let record = o
                    .source
                    .as_ref()
                    .and_then(|s| records.get(&(Arc::clone(&s.file), s.line?)));
                let valeur = record.map(|n| own_value(n, &champ)).unwrap_or_default();
                lines.push(line(org, &champ, valeur, String::new()));
            }
            Kind::Conflict => {
                let fact = facts.get(&(rpps.to_string(), annee.to_string()));
                let field = o.details.field.clone().unwrap_or_default();
                let values = o.details.values.clone().unwrap_or_default();
                for org in o.details.return_to.iter().flatten() {
                    let (valeur, autres) = conflict_cells(org, &field, &values, fact);
                    lines.push(line(org, &field, valeur, autres));
                }
            }
            _ => {}
        }
    }
    lines
}

/// `valeur_organisme` and `valeurs_autres` of a conflict returned to `org` (cas.md).
fn conflict_cells(
    org: &str,
    field: &str,
    values: &serde_json::Map<String, Json>,
    fact: Option<&Arc<Node>>,
) -> (String, String) {
    let value = |k: &str| values.get(k).map(json_text).unwrap_or_default();
    // CAS-X-ASS compares two bases that may come from one organism.
    if let Some(source) = values.get("source_maladie").and_then(Json::as_str) {
        let (maladie, famille) = (value("maladie"), value("famille"));
        return match (source, org) {
            ("RSI", "RSI") => (maladie, format!("ACOSS={famille}")),
            ("RSI", _) => (famille, format!("RSI={maladie}")),
            _ => (
                format!("maladie={maladie},famille={famille}"),
                String::new(),
            ),
        };
    }
    let others = ORGANISMS.iter().filter(|o| **o != org);
    let listed: Vec<String> = if field == "presence" {
        // Every other organism, `O` or empty.
        others.map(|o| format!("{o}={}", value(o))).collect()
    } else {
        // Each other organism that sent a record and whose layout has the field: it gives a
        // value, or its record has a field of that name (an absent date is `ORG=`).
        others
            .filter(|o| {
                let record = fact.and_then(|f| member(f, o));
                record.is_some_and(|r| {
                    values.get(**o).is_some_and(|v| !v.is_null())
                        || r.open
                            .as_ref()
                            .is_some_and(|rec| rec.def.field_index(field).is_some())
                })
            })
            .map(|o| format!("{o}={}", value(o)))
            .collect()
    };
    (value(org), listed.join(","))
}

/// The record organism `org` sent for a doctor-and-year fact (`medecin_annee.acoss`).
fn member(fact: &Node, org: &str) -> Option<Arc<Node>> {
    let name = org.to_ascii_lowercase();
    let slot = fact.group.links.iter().position(|l| *l == name)?;
    match fact.links.get(slot)?.get()? {
        Linked::One(n) => Some(Arc::clone(n)),
        _ => None,
    }
}

/// A record's value of `field` as the returns write it: amounts with a dot and two decimals,
/// dates `AAAA-MM-JJ`, booleans `O`/`N`, absent as empty.
fn own_value(node: &Node, field: &str) -> String {
    let Some(rec) = &node.open else {
        return String::new();
    };
    let Some(i) = rec.def.field_index(field) else {
        return String::new();
    };
    let (Some(v), Some(def)) = (rec.values.get(i), rec.def.fields.get(i)) else {
        return String::new();
    };
    match (v, &def.ty) {
        (Value::Int(n), FieldType::Amount { decimals, .. }) => decimal_text(*n, *decimals),
        _ => v.display().unwrap_or_default(),
    }
}

fn json_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
