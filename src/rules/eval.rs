//! Evaluation: one evaluator per worker thread (its own engine, the scripts compiled once for
//! it), units in, outcomes out. A failing or looping rule is stopped on that fact, counted, and
//! reported once at the end; the other rules go on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Position, Scope, AST};

use super::engine::{self, Fact, Limits};
use super::helpers::{date_fr, euros};
use super::manifest::{compile_scope, scope_chain, RuleSet};
use crate::facts::{resolve, subject_of, Unit};
use crate::grammar::{FieldType, GrammarSet};
use crate::outcome::{Kind, Outcome, Severity, Source, Subject};
use crate::record::{Node, NodeState, Value};

struct CompiledSet {
    set: Arc<RuleSet>,
    /// Parameters and `as_of` as constants; fact variables are pushed above and rewound.
    scope: Scope<'static>,
    /// Compiled rules per (grammar, group).
    by_scope: HashMap<(String, String), Vec<(usize, AST)>>,
}

/// A rule that failed on at least one fact.
#[derive(Debug, Clone)]
pub struct Failure {
    pub set: Arc<str>,
    pub code: Arc<str>,
    pub script: PathBuf,
    pub message: String,
    pub position: Position,
    pub subject: Subject,
    pub count: u64,
}

impl Failure {
    /// The failure as one error outcome.
    pub fn to_outcome(&self) -> Outcome {
        let mut o = Outcome::error(
            "RULE",
            &Arc::from(self.script.display().to_string()),
            self.position.line().map(|l| l as u32),
            self.position.position().map(|c| c as u32),
            Some(&self.code),
            format!(
                "la règle {} a été arrêtée sur {} fait(s) et n'a rien conclu pour eux : {}",
                self.code, self.count, self.message
            ),
        );
        o.subject = self.subject.clone();
        o.ruleset = Some(Arc::clone(&self.set));
        o
    }
}

/// Evaluates rule sets on units.
pub struct Evaluator {
    engine: Engine,
    as_of: NaiveDate,
    sets: Vec<CompiledSet>,
    failures: HashMap<(usize, usize), Failure>,
    /// Evaluates only this rule code (rule cases).
    only: Option<String>,
}

/// The strictest limits that let every set run: each one's maximum.
fn merged_limits(sets: &[Arc<RuleSet>]) -> Limits {
    let mut l = sets.first().map(|s| s.limits).unwrap_or_default();
    for s in sets {
        l.max_operations = l.max_operations.max(s.limits.max_operations);
        l.max_call_levels = l.max_call_levels.max(s.limits.max_call_levels);
        l.max_expr_depth = l.max_expr_depth.max(s.limits.max_expr_depth);
        l.max_string_size = l.max_string_size.max(s.limits.max_string_size);
        l.max_array_size = l.max_array_size.max(s.limits.max_array_size);
        l.max_map_size = l.max_map_size.max(s.limits.max_map_size);
    }
    l
}

impl Evaluator {
    /// Builds an engine and compiles every rule of `sets` (already validated at load).
    pub fn new(grammars: &GrammarSet, sets: &[Arc<RuleSet>], as_of: NaiveDate) -> Evaluator {
        let engine = engine::build(grammars, &merged_limits(sets));
        let mut compiled = Vec::new();
        let mut failures = HashMap::new();
        for (si, set) in sets.iter().enumerate() {
            let scope = compile_scope(set, &[], as_of);
            let mut by_scope: HashMap<(String, String), Vec<(usize, AST)>> = HashMap::new();
            for (ri, rule) in set.rules.iter().enumerate() {
                let chain = scope_chain(grammars, set, &rule.scope).unwrap_or_default();
                let cscope = compile_scope(set, &chain, as_of);
                match engine.compile_with_scope(&cscope, &rule.source) {
                    Ok(ast) => {
                        for g in &set.grammars {
                            if grammars
                                .get(g)
                                .is_some_and(|gr| gr.group(&rule.scope).is_some())
                            {
                                by_scope
                                    .entry((g.clone(), rule.scope.clone()))
                                    .or_default()
                                    .push((ri, ast.clone()));
                            }
                        }
                    }
                    Err(e) => {
                        failures.insert(
                            (si, ri),
                            Failure {
                                set: Arc::clone(&set.id),
                                code: Arc::clone(&rule.code),
                                script: rule.script_path.clone(),
                                message: e.err_type().to_string(),
                                position: e.position(),
                                subject: Subject::default(),
                                count: 0,
                            },
                        );
                    }
                }
            }
            compiled.push(CompiledSet {
                set: Arc::clone(set),
                scope,
                by_scope,
            });
        }
        Evaluator {
            engine,
            as_of,
            sets: compiled,
            failures,
            only: None,
        }
    }

    /// Restricts evaluation to one rule code.
    pub fn only(mut self, code: &str) -> Self {
        self.only = Some(code.to_string());
        self
    }

    /// Evaluates every rule in force on `unit` and its readable descendants.
    pub fn evaluate(&mut self, unit: &Unit, out: &mut Vec<Outcome>) {
        let mut chain: Vec<Arc<Node>> = unit.ancestors.clone();
        self.walk(unit, &mut chain, &unit.node, out);
    }

    fn walk(
        &mut self,
        unit: &Unit,
        chain: &mut Vec<Arc<Node>>,
        node: &Arc<Node>,
        out: &mut Vec<Outcome>,
    ) {
        if node.state == NodeState::Unreadable {
            return;
        }
        chain.push(Arc::clone(node));
        if node.state == NodeState::Sound {
            self.run_rules(unit, chain, out);
        }
        for list in &node.children {
            for child in list {
                self.walk(unit, chain, child, out);
            }
        }
        chain.pop();
    }

    fn run_rules(&mut self, unit: &Unit, chain: &[Arc<Node>], out: &mut Vec<Outcome>) {
        let node = chain.last().expect("chain holds the node");
        let key = (unit.grammar.name.clone(), node.group.name.clone());
        let refs: Vec<&Node> = chain.iter().map(|n| &**n).collect();
        let date = node
            .group
            .date
            .as_ref()
            .and_then(|p| match resolve(p, &refs).as_deref() {
                Some(Value::Date(d)) => Some(*d),
                _ => None,
            })
            .unwrap_or(self.as_of);
        for si in 0..self.sets.len() {
            let cs = &mut self.sets[si];
            let Some(rules) = cs.by_scope.get(&key) else {
                continue;
            };
            let base = cs.scope.len();
            for n in chain {
                cs.scope.push_dynamic(
                    n.group.name.clone(),
                    Dynamic::from(Fact::new(Arc::clone(n))),
                );
            }
            let fact_len = cs.scope.len();
            for (ri, ast) in rules {
                let rule = &cs.set.rules[*ri];
                if !rule.in_force(date) || self.only.as_deref().is_some_and(|o| o != &*rule.code) {
                    continue;
                }
                let result = self
                    .engine
                    .eval_ast_with_scope::<Dynamic>(&mut cs.scope, ast);
                cs.scope.rewind(fact_len);
                match result
                    .map_err(|e| (describe(&e), e.position()))
                    .and_then(|v| fired(v).map_err(|m| (m, Position::NONE)))
                {
                    Ok(firings) => {
                        for details in firings {
                            out.push(outcome(&cs.set, rule, unit, &refs, details.as_ref()));
                        }
                    }
                    Err((message, position)) => {
                        let f = self.failures.entry((si, *ri)).or_insert_with(|| Failure {
                            set: Arc::clone(&cs.set.id),
                            code: Arc::clone(&rule.code),
                            script: rule.script_path.clone(),
                            message,
                            position,
                            subject: subject_of(&refs),
                            count: 0,
                        });
                        f.count += 1;
                    }
                }
            }
            cs.scope.rewind(base);
        }
    }

    /// The rules that failed, one entry per rule.
    pub fn failures(&self) -> Vec<Failure> {
        let mut v: Vec<Failure> = self.failures.values().cloned().collect();
        v.sort_by(|a, b| (&a.set, &a.code).cmp(&(&b.set, &b.code)));
        v
    }
}

/// Merges failures of several evaluators (threads) into one per rule.
pub fn merge_failures(all: Vec<Vec<Failure>>) -> Vec<Failure> {
    let mut merged: Vec<Failure> = Vec::new();
    for f in all.into_iter().flatten() {
        match merged
            .iter_mut()
            .find(|m| m.set == f.set && m.code == f.code)
        {
            Some(m) => m.count += f.count,
            None => merged.push(f),
        }
    }
    merged
}

fn describe(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "trop d'opérations (boucle sans fin ?) : limite `max_operations` du manifeste atteinte"
                .into()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "appels trop profonds : limite `max_call_levels` atteinte".into()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("donnée trop grande ({what})"),
        other => other.to_string(),
    }
}

/// What a script's value says: not fired, fired once (with details), or several times.
fn fired(v: Dynamic) -> Result<Vec<Option<Map>>, String> {
    if v.is_unit() {
        return Ok(vec![]);
    }
    if let Some(b) = v.clone().try_cast::<bool>() {
        return Ok(if b { vec![None] } else { vec![] });
    }
    if v.is_map() {
        return Ok(vec![Some(v.cast::<Map>())]);
    }
    if v.is_array() {
        let mut all = Vec::new();
        for item in v.cast::<rhai::Array>() {
            all.extend(fired(item)?);
        }
        return Ok(all);
    }
    Err(format!(
        "une règle renvoie true/false, (), une map de détails ou un tableau de maps, pas {}",
        v.type_name()
    ))
}

fn outcome(
    set: &RuleSet,
    rule: &super::manifest::Rule,
    unit: &Unit,
    chain: &[&Node],
    details: Option<&Map>,
) -> Outcome {
    let subject = subject_of(chain);
    let node = chain.last().expect("chain holds the node");
    let fill = |t: &str| fill_template(t, details, &subject, chain, set);
    Outcome {
        kind: rule.kind,
        code: Arc::clone(&rule.code),
        severity: match rule.kind {
            Kind::Conflict => Severity::Rejet,
            Kind::Guidance => Severity::Signalement,
            _ => rule.severity,
        },
        message: fill(&rule.message),
        text: rule.guidance.as_deref().map(fill),
        subject,
        ruleset: Some(Arc::clone(&set.id)),
        source: Some(Source {
            file: Arc::clone(&unit.file),
            line: Some(node.line),
            column: None,
            field: None,
        }),
    }
}

/// A value as guidance texts show it: dates `JJ/MM/AAAA`, amounts with a dot and their
/// decimals, booleans `O`/`N`.
pub fn text_of(v: &Value, ty: &FieldType) -> Option<String> {
    match (v, ty) {
        (Value::Absent, _) => None,
        (Value::Date(d), _) => Some(date_fr(*d)),
        (Value::Int(i), FieldType::Amount { decimals: 2, .. }) => Some(euros(*i)),
        (Value::Int(i), FieldType::Amount { decimals, .. }) => {
            let scale = 10i64.pow(*decimals);
            Some(format!(
                "{}.{:0width$}",
                i / scale,
                i % scale,
                width = *decimals as usize
            ))
        }
        _ => v.display(),
    }
}

fn dynamic_text(d: &Dynamic) -> String {
    if let Some(date) = d.clone().try_cast::<NaiveDate>() {
        return date_fr(date);
    }
    if let Some(b) = d.clone().try_cast::<bool>() {
        return if b { "O" } else { "N" }.into();
    }
    d.to_string()
}

/// Fills `{name}` placeholders from, in order: the script's details, the subject, the fields
/// of the fact and its ancestors (innermost first, closing records after opening ones), the
/// parameters. An unknown placeholder is left as written.
pub fn fill_template(
    t: &str,
    details: Option<&Map>,
    subject: &Subject,
    chain: &[&Node],
    set: &RuleSet,
) -> String {
    let lookup = |name: &str| -> Option<String> {
        if let Some(v) = details.and_then(|m| m.get(name)) {
            return Some(dynamic_text(v));
        }
        if let Some(v) = subject.get(name) {
            return Some(v.to_string());
        }
        for n in chain.iter().rev() {
            for rec in [n.open.as_ref(), n.close.as_ref()].into_iter().flatten() {
                if let Some(i) = rec.def.field_index(name) {
                    return text_of(&rec.values[i], &rec.def.fields[i].ty);
                }
            }
        }
        set.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, p)| p.display())
    };
    let mut out = String::with_capacity(t.len() + 16);
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                let name = &rest[start + 1..start + end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..=start + end]),
                }
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
