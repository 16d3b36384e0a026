//! Rule cases: YAML files beside a rule set (`cases/<CODE>.yaml`) that give facts in and the
//! outcomes a rule must give out. `vigie rules test` runs them; the insta test snapshots them.
//!
//! A case is the root node of the rule's grammar written as YAML: field names of a group's
//! opening record as keys, `fin` (its `close_as`) for its closing record, list names
//! (`lots`, `factures`, `lignes`) for its children. Fields not given come from
//! `cases/defaults.yaml` (per group name). Counters (`records`, `count`), ranks and duplicate
//! occurrences are computed as the assembler computes them from a file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_yaml::{Mapping, Value as Yaml};

use super::eval::Evaluator;
use super::manifest::RuleSet;
use crate::diag::{Fault, Faults};
use crate::facts::{Joiner, KeyTracker, Unit};
use crate::grammar::{FieldType, Grammar, GrammarSet, RecordDef};
use crate::outcome::Outcome;
use crate::record::{Node, Record, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    rule: String,
    as_of: NaiveDate,
    cases: Vec<Mapping>,
}

/// The result of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub code: String,
    pub name: String,
    #[serde(skip)]
    pub file: PathBuf,
    /// Expected outcomes not produced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Outcomes produced but not expected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unexpected: Vec<String>,
    /// A script failure, if the rule failed on a fact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// What the rule produced (snapshots pin these).
    pub outcomes: Vec<Outcome>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.failure.is_none()
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
        if let Some(f) = &self.failure {
            s.push_str(&format!("    ! la règle a échoué : {f}\n"));
        }
        s
    }
}

/// Runs every case file of a rule set (`cases/*.yaml` except `defaults.yaml`).
pub fn run_set(grammars: &GrammarSet, set: &Arc<RuleSet>) -> Result<Vec<CaseResult>, Faults> {
    let dir = set.dir.join("cases");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !is_defaults(p))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let mut results = Vec::new();
    let mut faults = Vec::new();
    for f in &files {
        match run_file(grammars, set, f) {
            Ok(mut r) => results.append(&mut r),
            Err(mut e) => faults.append(&mut e.0),
        }
    }
    // Every rule needs a case where it fires and one where it does not.
    for rule in &set.rules {
        let mine: Vec<&CaseResult> = results.iter().filter(|r| *r.code == *rule.code).collect();
        let fires = mine.iter().any(|r| !r.outcomes.is_empty());
        let quiet = mine
            .iter()
            .any(|r| r.outcomes.is_empty() && r.failure.is_none());
        if !fires || !quiet {
            results.push(CaseResult {
                code: rule.code.to_string(),
                name: "couverture des cas".into(),
                file: dir.clone(),
                missing: vec![format!("cases/{}.yaml : au moins un cas où la règle se déclenche et un où elle ne se déclenche pas", rule.code)],
                unexpected: Vec::new(),
                failure: None,
                outcomes: Vec::new(),
            });
        }
    }
    if faults.is_empty() {
        Ok(results)
    } else {
        Err(Faults(faults))
    }
}

fn is_defaults(p: &Path) -> bool {
    p.file_stem().is_some_and(|s| s == "defaults")
}

/// Runs the cases of one file.
pub fn run_file(
    grammars: &GrammarSet,
    set: &Arc<RuleSet>,
    path: &Path,
) -> Result<Vec<CaseResult>, Faults> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Faults(vec![Fault::new(
            path,
            None,
            None,
            format!("illisible : {e}"),
        )])
    })?;
    let cf: CaseFile =
        serde_yaml::from_str(&text).map_err(|e| Faults(vec![Fault::yaml(path, &e)]))?;
    let defaults_path = path.with_file_name("defaults.yaml");
    let defaults: Mapping = match std::fs::read_to_string(&defaults_path) {
        Ok(t) => {
            serde_yaml::from_str(&t).map_err(|e| Faults(vec![Fault::yaml(&defaults_path, &e)]))?
        }
        Err(_) => Mapping::new(),
    };
    let Some(rule) = set.rules.iter().find(|r| *r.code == cf.rule) else {
        return Err(Faults(vec![Fault::at(
            path,
            &text,
            &["rule:"],
            format!("règle « {} » absente du jeu {}", cf.rule, set.id),
        )]));
    };
    let Some(grammar) = set
        .grammars
        .iter()
        .filter_map(|g| grammars.get(g))
        .find(|g| g.group(&rule.scope).is_some())
    else {
        return Err(Faults(vec![Fault::at(
            path,
            &text,
            &["rule:"],
            "portée de la règle inconnue",
        )]));
    };
    let mut results = Vec::new();
    for (i, case) in cf.cases.iter().enumerate() {
        let name = case
            .get("name")
            .and_then(Yaml::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("cas {}", i + 1));
        let fault = |msg: String| {
            Faults(vec![Fault::at(
                path,
                &text,
                &[&format!("name: {name}")],
                format!("cas « {name} » : {msg}"),
            )])
        };
        let mut body = case.clone();
        body.remove("name");
        let expect = body.remove("expect").ok_or_else(|| {
            fault("`expect` manque (une liste, vide quand la règle ne doit rien donner)".into())
        })?;
        let Yaml::Sequence(expect) = expect else {
            return Err(fault("`expect` est une liste".into()));
        };
        // A case gives the root of the rule's grammar, or one root per grammar named by its
        // format (`b2:`, `scor:`, `noemie:`…) when the rule reads joined facts.
        let mut roots: Vec<(&Arc<Grammar>, Mapping)> = Vec::new();
        for (k, v) in &body {
            let named = k
                .as_str()
                .and_then(|k| grammars.get(k))
                .filter(|g| !g.synthetic);
            if let Some(g) = named {
                let root = v.as_mapping().cloned().ok_or_else(|| {
                    fault(format!(
                        "« {} » est la racine d'un fichier (une map)",
                        g.name
                    ))
                })?;
                roots.push((g, root));
            }
        }
        if roots.is_empty() {
            if grammar.synthetic {
                return Err(fault(format!(
                    "la portée {} réunit plusieurs fichiers : donnez-les par format ({})",
                    rule.scope,
                    grammars
                        .gathers
                        .iter()
                        .filter(|g| Arc::ptr_eq(&g.grammar, grammar))
                        .flat_map(|g| g.members.iter().map(|m| m.grammar.clone()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            roots.push((grammar, body.clone()));
        } else if roots.len() != body.len() {
            return Err(fault(
                "un cas donne soit les champs d'une racine, soit des racines par format, pas les deux".into(),
            ));
        }
        let mut joiner = Joiner::new(grammars);
        let mut streamed = Vec::new();
        for (g, root) in &roots {
            let units = build_units(g, root, &defaults, path).map_err(&fault)?;
            if joiner.holds(&g.name) {
                units.into_iter().for_each(|u| joiner.hold(u));
            } else {
                streamed.extend(units);
            }
        }
        joiner.seal();
        let mut ev = Evaluator::new(grammars, std::slice::from_ref(set), cf.as_of).only(&cf.rule);
        let mut outcomes = Vec::new();
        for u in &streamed {
            joiner.link(u);
            ev.evaluate(u, &mut outcomes);
        }
        for u in joiner.held() {
            ev.evaluate(u, &mut outcomes);
        }
        crate::outcome::sort_for_report(&mut outcomes);
        for o in &mut outcomes {
            if let Some(s) = o.source.as_mut() {
                s.file = Arc::from(
                    path.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            }
        }
        let failure = ev.failures().first().map(|f| {
            let at = f
                .position
                .line()
                .map(|l| {
                    format!(
                        " ({}:{l}:{})",
                        f.script.display(),
                        f.position.position().unwrap_or(0)
                    )
                })
                .unwrap_or_default();
            format!("{}{at}", f.message)
        });
        let (missing, unexpected) = compare(&expect, &outcomes);
        results.push(CaseResult {
            code: cf.rule.clone(),
            name,
            file: path.to_path_buf(),
            missing,
            unexpected,
            failure,
            outcomes,
        });
    }
    Ok(results)
}

fn yaml_text(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Matches expectations (partial subjects, optionally `text`/`message`) with outcomes.
fn compare(expect: &[Yaml], outcomes: &[Outcome]) -> (Vec<String>, Vec<String>) {
    let mut used = vec![false; outcomes.len()];
    let mut missing = Vec::new();
    for e in expect {
        let Some(m) = e.as_mapping() else {
            missing.push(format!(
                "{} (une attente est une map de clés du sujet)",
                yaml_text(e)
            ));
            continue;
        };
        let matches = |o: &Outcome| {
            m.iter().all(|(k, v)| {
                let k = k.as_str().unwrap_or("");
                let v = yaml_text(v);
                match k {
                    "text" => o.text.as_deref() == Some(v.as_str()),
                    "message" => o.message == v,
                    "code" => *o.code == *v,
                    _ => o.subject.get(k) == Some(v.as_str()),
                }
            })
        };
        match outcomes
            .iter()
            .enumerate()
            .find(|(i, o)| !used[*i] && matches(o))
        {
            Some((i, _)) => used[i] = true,
            None => missing.push(
                m.iter()
                    .map(|(k, v)| format!("{}={}", yaml_text(k), yaml_text(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }
    let unexpected = outcomes
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(o, _)| format!("{} {}", o.code, o.subject))
        .collect();
    (missing, unexpected)
}

/// Builds the units the assembler would hand over for this root node.
fn build_units(
    grammar: &Arc<Grammar>,
    body: &Mapping,
    defaults: &Mapping,
    path: &Path,
) -> Result<Vec<Unit>, String> {
    let mut builder = Builder {
        grammar,
        defaults,
        line: 0,
        keys: KeyTracker::default(),
    };
    let mut chain = Vec::new();
    let root = builder.node(0, body, 1, &mut chain)?;
    let file: Arc<str> = Arc::from(
        path.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let mut units = Vec::new();
    if root.group.stream {
        let bare = Arc::new(root.bare());
        for list in &root.children {
            for child in list {
                units.push(Unit {
                    file: Arc::clone(&file),
                    grammar: Arc::clone(grammar),
                    ancestors: vec![Arc::clone(&bare)],
                    node: Arc::clone(child),
                });
            }
        }
        units.push(Unit {
            file,
            grammar: Arc::clone(grammar),
            ancestors: Vec::new(),
            node: bare,
        });
    } else {
        units.push(Unit {
            file,
            grammar: Arc::clone(grammar),
            ancestors: Vec::new(),
            node: Arc::new(root),
        });
    }
    Ok(units)
}

struct Builder<'a> {
    grammar: &'a Grammar,
    defaults: &'a Mapping,
    line: u32,
    keys: KeyTracker,
}

impl Builder<'_> {
    fn node(
        &mut self,
        gi: usize,
        body: &Mapping,
        rank: u32,
        chain: &mut Vec<Node>,
    ) -> Result<Node, String> {
        let group = Arc::clone(&self.grammar.groups[gi]);
        let mut fields = self
            .defaults
            .get(group.name.as_str())
            .and_then(Yaml::as_mapping)
            .cloned()
            .unwrap_or_default();
        for (k, v) in body {
            fields.insert(k.clone(), v.clone());
        }
        self.line += 1;
        let mut node = Node::new(Arc::clone(&group), self.line);
        node.rank = rank;
        node.records = 1;
        let mut close_fields = None;
        let mut child_bodies: Vec<(usize, Vec<Mapping>)> = Vec::new();
        let mut open_fields = Mapping::new();
        for (k, v) in &fields {
            let key = k.as_str().ok_or("les clés sont des noms de champ")?;
            if group.close.is_some() && key == group.close_as {
                close_fields = Some(
                    v.as_mapping()
                        .ok_or_else(|| format!("« {key} » est une map de champs"))?
                        .clone(),
                );
            } else if let Some(ci) = group
                .children
                .iter()
                .position(|&c| self.grammar.groups[c].plural == key)
            {
                let list = match v {
                    Yaml::Sequence(s) => s
                        .iter()
                        .map(|x| {
                            x.as_mapping()
                                .cloned()
                                .ok_or_else(|| format!("« {key} » est une liste de maps"))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    Yaml::Mapping(m) => vec![m.clone()],
                    _ => return Err(format!("« {key} » est une liste")),
                };
                child_bodies.push((ci, list));
            } else {
                open_fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(oi) = group.open {
            node.open = Some(record(&self.grammar.records[oi], &open_fields, self.line)?);
        } else if !open_fields.is_empty() {
            return Err(format!("le groupe {} n'a pas de champs", group.name));
        }
        chain.push(node);
        // Duplicate keys, as the assembler assigns them when the node opens.
        let top = chain.len() - 1;
        let refs: Vec<&Node> = chain.iter().collect();
        chain[top].occurrence = self.keys.occurrence(&refs);
        child_bodies.sort_by_key(|(ci, _)| *ci);
        for (ci, list) in child_bodies {
            for (i, b) in list.iter().enumerate() {
                let child = self.node(group.children[ci], b, i as u32 + 1, chain)?;
                let n = &mut chain[top];
                n.records += child.records;
                n.counts[ci] += 1;
                n.children[ci].push(Arc::new(child));
            }
        }
        let mut node = chain.pop().expect("pushed above");
        if let Some(cf) = close_fields {
            let ci = group.close.ok_or("pas d'enregistrement de fin")?;
            self.line += 1;
            node.close = Some(record(&self.grammar.records[ci], &cf, self.line)?);
            node.records += 1;
        }
        Ok(node)
    }
}

fn record(def: &Arc<RecordDef>, fields: &Mapping, line: u32) -> Result<Record, String> {
    for k in fields.keys() {
        let k = k.as_str().unwrap_or("");
        if def.field_index(k).is_none() {
            return Err(format!(
                "champ « {k} » inconnu de l'enregistrement {} (champs : {})",
                def.name,
                def.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let values = def
        .fields
        .iter()
        .map(|f| match fields.get(f.name.as_str()) {
            None | Some(Yaml::Null) => Ok(Value::Absent),
            Some(v) => value(&f.ty, v).ok_or_else(|| {
                format!(
                    "champ {} : valeur « {} » incompatible avec son type",
                    f.name,
                    yaml_text(v)
                )
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Record {
        def: Arc::clone(def),
        values: values.into(),
        line,
    })
}

/// A YAML scalar as a typed value: dates `AAAA-MM-JJ`, amounts in euros (`12.50`), booleans
/// `true`/`false` or their grammar spellings, everything else as written.
fn value(ty: &FieldType, v: &Yaml) -> Option<Value> {
    match ty {
        // An empty text is absent, as the decoder reads an empty zone or column.
        FieldType::Text
        | FieldType::Digits
        | FieldType::Enum(_)
        | FieldType::Hex
        | FieldType::Filler => {
            let t = yaml_text(v);
            let t = t.trim_end();
            Some(if t.is_empty() {
                Value::Absent
            } else {
                Value::Text(t.into())
            })
        }
        FieldType::Integer => v
            .as_i64()
            .or_else(|| yaml_text(v).parse().ok())
            .map(Value::Int),
        FieldType::Amount { decimals, .. } => {
            let s = yaml_text(v);
            let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
            if frac.len() > *decimals as usize {
                return None;
            }
            let int: i64 = int.parse().ok()?;
            let frac_val: i64 = if frac.is_empty() {
                0
            } else {
                frac.parse().ok()?
            };
            Some(Value::Int(
                int * 10i64.pow(*decimals) + frac_val * 10i64.pow(*decimals - frac.len() as u32),
            ))
        }
        FieldType::Date(_) => NaiveDate::parse_from_str(&yaml_text(v), "%Y-%m-%d")
            .ok()
            .map(Value::Date),
        FieldType::Bool { yes, no } => match v {
            Yaml::Bool(b) => Some(Value::Bool(*b)),
            other => {
                let s = yaml_text(other);
                if yes.contains(&s) {
                    Some(Value::Bool(true))
                } else if no.contains(&s) {
                    Some(Value::Bool(false))
                } else {
                    None
                }
            }
        },
    }
}
