//! Evaluation: one evaluator per worker thread (its own engine, the scripts compiled once for
//! it), units in, outcomes out. A failing or looping rule is stopped on that fact, counted, and
//! reported once at the end; the other rules go on.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{Caches, Dynamic, Engine, GlobalRuntimeState, Map, Position, Scope, AST};

use super::bindings::Bindings;
use super::compiled::Compiled;
use super::contain::{contain, Contained, CONTAINED_PANIC};
use super::engine::{self, Fact, Limits};
use super::fault::{describe, is_unreadable};
use super::helpers::date_fr;
use super::manifest::{compile_scope, scope_chain, RuleSet};
use crate::facts::{resolve, subject_of};
use crate::model::{
    decimal_text, Details, ErrorCode, FieldType, GrammarSet, Kind, Node, NodeState, Outcome,
    Severity, Source, Subject, SubjectOrder, Unit, Value,
};

struct CompiledSet {
    /// What running a rule needs (apart from the tables below, so that both borrow at once).
    runner: Runner,
    set: Arc<RuleSet>,
    /// The length of the runner's scope with no fact in it.
    base_len: usize,
    /// Rules evaluated on their own, per group id.
    by_scope: HashMap<usize, Vec<usize>>,
    /// Choices per group, with their compiled key expression.
    choices: HashMap<usize, Vec<(usize, AST)>>,
}

/// A set's engine, caches, scope and compiled scripts.
struct Runner {
    /// An engine with the set's own limits.
    engine: Engine,
    /// Function-resolution caches kept from one evaluation to the next (see [`run_script`]).
    caches: Caches,
    /// Parameters and `as_of` as constants; fact variables are pushed above and rewound.
    scope: Scope<'static>,
    /// Compiled script per rule (`None` when it did not compile: reported once).
    asts: Vec<Option<AST>>,
    /// The compiled form per rule, tried first (`None`: Rhai alone).
    compiled: Vec<Option<Compiled>>,
    /// The set's limits (capped), its time budget among them.
    limits: Limits,
    /// What property ids mean.
    bindings: Arc<Bindings>,
}

impl Runner {
    /// A runner for `set`: its engine, its time budget, its scope with the parameters, its
    /// compiled scripts.
    fn new(
        engine: Engine,
        bindings: &Arc<Bindings>,
        set: &RuleSet,
        scope: Scope<'static>,
        asts: Vec<Option<AST>>,
    ) -> Runner {
        Runner {
            engine,
            caches: Caches::new(),
            scope,
            asts,
            compiled: Vec::new(),
            limits: set.limits.capped(),
            bindings: Arc::clone(bindings),
        }
    }

    /// The facts of `chain` named in the scope above `base` (once per fact: the scope is
    /// rewound to them after each script): the scope's length with them.
    fn facts_in_scope(&mut self, chain: &[Arc<Node>], base: usize) -> usize {
        if self.scope.len() == base {
            for n in chain {
                self.scope.push_dynamic(
                    n.group.name.as_str(),
                    Dynamic::from(Fact::new(Arc::clone(n))),
                );
            }
        }
        self.scope.len()
    }

    /// Runs rule `ri` on the fact ending `chain`: in compiled form, else (or when it bails)
    /// in Rhai with the facts named in the scope above `base`. `None` when its script did not
    /// compile (reported once).
    fn run_rule(&mut self, ri: usize, chain: &[Arc<Node>], base: usize) -> Option<Evaluated> {
        if let Some(Some(compiled)) = self.compiled.get(ri) {
            // A panic (a helper's bug) is a bail too: the interpreter then contains it.
            let run =
                contain(|| compiled.run(chain, &self.bindings, &self.limits, self.limits.budget()));
            if let Ok(Ok(firings)) = run {
                return Some(Ok(Some(firings)));
            }
        }
        let fact_len = self.facts_in_scope(chain, base);
        let Runner {
            engine,
            caches,
            limits,
            scope,
            asts,
            ..
        } = self;
        let ast = asts.get(ri)?.as_ref()?;
        let value = run_script(engine, limits.budget(), caches, scope, ast, fact_len);
        Some(value.and_then(|v| match v {
            Some(v) => fired(v).map(Some).map_err(|m| Stop::new(m, Position::NONE)),
            None => Ok(None),
        }))
    }

    /// A choice's key on the fact ending `chain`: `None` when it is `()` or reads a field a
    /// fault made unreadable (no candidate is tried).
    fn choice_key(
        &mut self,
        key: &AST,
        chain: &[Arc<Node>],
        base: usize,
    ) -> Result<Option<String>, Stop> {
        let fact_len = self.facts_in_scope(chain, base);
        let value = run_script(
            &self.engine,
            self.limits.budget(),
            &mut self.caches,
            &mut self.scope,
            key,
            fact_len,
        )?;
        Ok(value.filter(|k| !k.is_unit()).map(|k| k.to_string()))
    }
}

/// Runs one script of a set on facts outside the rule evaluation (the participation, after
/// every rule): the same engine, limits, time budget and containment as a rule.
pub struct ScriptRunner {
    runner: Runner,
    base_len: usize,
}

impl ScriptRunner {
    /// A runner with `set`'s engine, limits and parameters.
    pub fn new(bindings: &Arc<Bindings>, set: &RuleSet, as_of: NaiveDate) -> ScriptRunner {
        let scope = compile_scope(set, &[], as_of);
        ScriptRunner {
            base_len: scope.len(),
            runner: Runner::new(
                engine::build(bindings, &set.limits.capped()),
                bindings,
                set,
                scope,
                Vec::new(),
            ),
        }
    }

    /// Compiles `source` for facts of the groups `chain` (checked at load: an error here is
    /// the engine's message).
    pub fn compile(&self, set: &RuleSet, chain: &[String], source: &str) -> Result<AST, String> {
        let scope = compile_scope(set, chain, NaiveDate::MIN);
        self.runner
            .engine
            .compile_with_scope(&scope, source)
            .map_err(|e| e.to_string())
    }

    /// Runs `ast` with `vars` pushed above the parameters: its value, `None` when it read a
    /// field a fault made unreadable, or why it stopped (message, script line).
    pub fn run(
        &mut self,
        ast: &AST,
        vars: Vec<(String, Dynamic)>,
    ) -> Result<Option<Dynamic>, (String, Option<u32>)> {
        let r = &mut self.runner;
        r.scope.rewind(self.base_len);
        for (name, value) in vars {
            r.scope.push_dynamic(name, value);
        }
        let value = run_script(
            &r.engine,
            r.limits.budget(),
            &mut r.caches,
            &mut r.scope,
            ast,
            self.base_len,
        );
        value.map_err(|s| (s.message, s.position.line().map(|l| l as u32)))
    }
}

/// A rule that failed on at least one fact.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `RULE` for a rule or a choice key, `INTERNAL` for vigie itself.
    pub error: ErrorCode,
    /// The rule set (`name@version`).
    pub set: Arc<str>,
    /// The rule (or choice) that failed.
    pub code: Arc<str>,
    /// Its script (or manifest, for a choice key).
    pub script: PathBuf,
    /// Why it stopped, on the fact told.
    pub message: String,
    /// Where in the script.
    pub position: Position,
    /// The fact told: of those it failed on, the first in report order.
    pub subject: Subject,
    /// Facts it failed on.
    pub count: u64,
}

impl Failure {
    /// The failure as one error outcome.
    pub fn to_outcome(&self) -> Outcome {
        let mut o = Outcome::error(
            self.error,
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

/// What failed: a rule or a choice's key (by set and index), or vigie itself outside any
/// script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FailureKey {
    Rule(usize, usize),
    Choice(usize, usize),
    Internal,
}

/// Evaluates rule sets on units.
pub struct Evaluator {
    as_of: NaiveDate,
    sets: Vec<CompiledSet>,
    failures: Failures,
    /// Evaluates only this rule code (rule cases).
    only: Option<String>,
    /// Rules stopped by their time budget so often that they are not run any more.
    given_up: HashMap<FailureKey, u32>,
}

/// After this many facts on which a rule ran out of time, it is not run any more: a slow rule
/// must not make the analysis last hours.
const TIMEOUTS_BEFORE_GIVING_UP: u32 = 3;

impl Evaluator {
    /// Builds an engine and compiles every rule of `sets` (already validated at load).
    pub fn new(
        grammars: &GrammarSet,
        bindings: &Arc<Bindings>,
        sets: &[Arc<RuleSet>],
        as_of: NaiveDate,
    ) -> Evaluator {
        let mut compiled = Vec::new();
        let mut failures = HashMap::new();
        let group_names: Vec<String> = grammars.groups().map(|(_, g)| g.name.clone()).collect();
        for (si, set) in sets.iter().enumerate() {
            // Each set runs under its own limits.
            let limits = set.limits.capped();
            let engine = engine::build(bindings, &limits);
            let scope = compile_scope(set, &[], as_of);
            let scope_len = scope.len();
            let scopes_of = |group: &str| -> Vec<usize> {
                set.grammars
                    .iter()
                    .filter_map(|g| grammars.get(g)?.group(group).map(|g| g.id))
                    .collect()
            };
            let mut asts = Vec::new();
            let mut fast = Vec::new();
            let mut by_scope: HashMap<usize, Vec<usize>> = HashMap::new();
            for (ri, rule) in set.rules.iter().enumerate() {
                let chain = scope_chain(grammars, set, &rule.scope).unwrap_or_default();
                let cscope = compile_scope(set, &chain, as_of);
                match engine.compile_with_scope(&cscope, &rule.source) {
                    Ok(ast) => {
                        let names = (chain.as_slice(), group_names.as_slice());
                        fast.push(Compiled::new(&ast, bindings, names, &cscope, &limits));
                        asts.push(Some(ast));
                        if !set.is_chosen(&rule.code, &rule.scope) {
                            for k in scopes_of(&rule.scope) {
                                by_scope.entry(k).or_default().push(ri);
                            }
                        }
                    }
                    Err(e) => {
                        asts.push(None);
                        fast.push(None);
                        failures.insert(
                            FailureKey::Rule(si, ri),
                            Failure {
                                error: ErrorCode::Rule,
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
            let mut choices: HashMap<usize, Vec<(usize, AST)>> = HashMap::new();
            for (ci, c) in set.choices.iter().enumerate() {
                let chain = scope_chain(grammars, set, &c.scope).unwrap_or_default();
                let cscope = compile_scope(set, &chain, as_of);
                // Validated at load: a key that does not compile cannot reach here.
                if let Ok(ast) = engine.compile_expression_with_scope(&cscope, &c.key) {
                    for k in scopes_of(&c.scope) {
                        choices.entry(k).or_default().push((ci, ast.clone()));
                    }
                }
            }
            let mut runner = Runner::new(engine, bindings, set, scope, asts);
            runner.compiled = fast;
            compiled.push(CompiledSet {
                set: Arc::clone(set),
                base_len: scope_len,
                runner,
                by_scope,
                choices,
            });
        }
        Evaluator {
            as_of,
            sets: compiled,
            failures: Failures {
                by: failures,
                order: grammars.subjects.clone(),
            },
            only: None,
            given_up: HashMap::new(),
        }
    }

    /// Runs every rule in Rhai's interpreter alone, the reference (the agreement tests,
    /// `vigie analyze --interpreted`).
    pub fn interpreted(mut self) -> Self {
        for cs in &mut self.sets {
            cs.runner.compiled.clear();
        }
        self
    }

    /// Whether each rule of each set runs in compiled form (tests; a later `rules check`).
    pub fn compiled_rules(&self) -> Vec<(Arc<str>, bool)> {
        self.sets
            .iter()
            .flat_map(|cs| {
                cs.set.rules.iter().enumerate().map(|(ri, r)| {
                    let fast = cs.runner.compiled.get(ri).is_some_and(Option::is_some);
                    (Arc::clone(&r.code), fast)
                })
            })
            .collect()
    }

    /// Restricts evaluation to one rule code.
    pub fn only(mut self, code: &str) -> Self {
        self.only = Some(code.to_string());
        self
    }

    /// Evaluates every rule in force on `unit` and its readable descendants. A panic outside
    /// any script (a bug of vigie) stops this unit only and is reported once, as `INTERNAL`.
    pub fn evaluate(&mut self, unit: &Unit, out: &mut Vec<Outcome>) {
        let mut chain: Vec<Arc<Node>> = unit.ancestors.clone();
        if contain(|| self.walk(unit, &mut chain, &unit.node, out)).is_err() {
            for cs in &mut self.sets {
                cs.runner.caches = Caches::new();
                cs.runner.scope.rewind(cs.base_len);
            }
            let refs: Vec<&Node> = chain.iter().map(|n| &**n).collect();
            self.failures.count(
                FailureKey::Internal,
                Failure {
                    set: Arc::from("vigie"),
                    code: Arc::from(ErrorCode::Internal.as_str()),
                    error: ErrorCode::Internal,
                    script: PathBuf::new(),
                    message: CONTAINED_PANIC.to_string(),
                    position: Position::NONE,
                    subject: subject_of(&refs),
                    count: 1,
                },
            );
        }
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
        // Unreadable nodes were returned above; a node whose own checks are disabled runs
        // only the rules marked `damaged: true` (a repeated key read before the faulty field).
        self.run_rules(unit, chain, out);
        for list in &node.children {
            for child in list {
                self.walk(unit, chain, child, out);
            }
        }
        chain.pop();
    }

    fn run_rules(&mut self, unit: &Unit, chain: &[Arc<Node>], out: &mut Vec<Outcome>) {
        let Some(node) = chain.last() else {
            return;
        };
        let sound = node.state == NodeState::Sound;
        let key = node.group.id;
        let refs: Vec<&Node> = chain.iter().map(|n| &**n).collect();
        let fact_date = node
            .group
            .date
            .as_ref()
            .and_then(|p| match resolve(p, &refs).as_deref() {
                Some(Value::Date(d)) => Some(*d),
                _ => None,
            });
        let date = fact_date.unwrap_or(self.as_of);
        for (si, cs) in self.sets.iter_mut().enumerate() {
            let rules = cs.by_scope.get(&key);
            let choices = cs.choices.get(&key).filter(|_| sound);
            if rules.is_none() && choices.is_none() {
                continue;
            }
            let base = cs.runner.scope.len();
            let only = self.only.as_deref();
            let report = |set: &Arc<RuleSet>,
                          ri: usize,
                          result: Evaluated,
                          out: &mut Vec<Outcome>,
                          failures: &mut Failures|
             -> bool {
                let Some(rule) = set.rules.get(ri) else {
                    return false;
                };
                match result {
                    Ok(firings) => {
                        let firings = firings.unwrap_or_default();
                        let fired = !firings.is_empty();
                        if only.is_none_or(|o| o == &*rule.code) {
                            for details in firings {
                                let mut o = outcome(set, rule, unit, &refs, details.as_ref());
                                o.date = fact_date;
                                out.push(o);
                            }
                        }
                        fired
                    }
                    Err(stop) => {
                        failures.count(
                            FailureKey::Rule(si, ri),
                            Failure {
                                error: ErrorCode::Rule,
                                set: Arc::clone(&set.id),
                                code: Arc::clone(&rule.code),
                                script: rule.script_path.clone(),
                                message: stop.message,
                                position: stop.position,
                                subject: subject_of(&refs),
                                count: 1,
                            },
                        );
                        false
                    }
                }
            };
            for &ri in rules.into_iter().flatten() {
                let Some(rule) = cs.set.rules.get(ri) else {
                    continue;
                };
                if !rule.in_force(date)
                    || (!sound && !rule.damaged)
                    || only.is_some_and(|o| o != &*rule.code)
                {
                    continue;
                }
                if given_up_on(&self.given_up, FailureKey::Rule(si, ri)) {
                    continue;
                }
                let Some(result) = cs.runner.run_rule(ri, chain, base) else {
                    continue;
                };
                if result.as_ref().err().is_some_and(|s| s.timed_out) {
                    *self.given_up.entry(FailureKey::Rule(si, ri)).or_default() += 1;
                }
                report(&cs.set, ri, result, out, &mut self.failures);
            }
            for (ci, key_ast) in choices.into_iter().flatten() {
                let Some(choice) = cs.set.choices.get(*ci) else {
                    continue;
                };
                let key = match cs.runner.choice_key(key_ast, chain, base) {
                    Ok(Some(k)) => k,
                    Ok(None) => continue,
                    Err(stop) => {
                        self.failures.count(
                            FailureKey::Choice(si, *ci),
                            Failure {
                                error: ErrorCode::Rule,
                                set: Arc::clone(&cs.set.id),
                                code: Arc::clone(&choice.name),
                                script: cs.set.dir.join(super::manifest::MANIFEST),
                                message: stop.message,
                                position: Position::NONE,
                                subject: subject_of(&refs),
                                count: 1,
                            },
                        );
                        continue;
                    }
                };
                for code in choice.candidates(&key) {
                    let Some(ri) = cs.set.rules.iter().position(|r| {
                        *r.code == **code && r.scope == choice.scope && r.in_force(date)
                    }) else {
                        continue;
                    };
                    let Some(result) = cs.runner.run_rule(ri, chain, base) else {
                        continue;
                    };
                    // A candidate that could not read what it needs leaves the choice
                    // undecided: a later candidate would be given in its place, wrongly.
                    if matches!(result, Ok(None)) {
                        break;
                    }
                    if report(&cs.set, ri, result, out, &mut self.failures) {
                        break;
                    }
                }
            }
            cs.runner.scope.rewind(base);
        }
    }

    /// The rules that failed, one entry per rule.
    pub fn failures(&self) -> Vec<Failure> {
        let mut v: Vec<Failure> = self.failures.by.values().cloned().collect();
        v.sort_by(|a, b| (&a.set, &a.code).cmp(&(&b.set, &b.code)));
        v
    }
}

/// The rules that failed, one entry each, with the failure told: the one whose fact comes
/// first in report order, so that it is the same whatever thread met which fact first.
struct Failures {
    by: HashMap<FailureKey, Failure>,
    order: SubjectOrder,
}

impl Failures {
    /// Counts one more fact a rule (or a choice key) failed on (`failure`, of count 1).
    fn count(&mut self, key: FailureKey, failure: Failure) {
        match self.by.entry(key) {
            Entry::Vacant(v) => {
                v.insert(failure);
            }
            Entry::Occupied(mut o) => o.get_mut().absorb(failure, &self.order),
        }
    }
}

impl Failure {
    /// Takes `other`, a failure of the same rule, into this one: their counts added, the one
    /// told being the one whose fact comes first in report order (`order`).
    fn absorb(&mut self, other: Failure, order: &SubjectOrder) {
        let count = self.count + other.count;
        if other.before(self, order) {
            *self = other;
        }
        self.count = count;
    }

    /// Whether this failure is told rather than `other` (of the same rule): its fact first
    /// in report order, then its message and place.
    fn before(&self, other: &Failure, order: &SubjectOrder) -> bool {
        order
            .key_bytes(&self.subject)
            .cmp(&order.key_bytes(&other.subject))
            .then_with(|| self.message.cmp(&other.message))
            .then_with(|| {
                let at = |f: &Failure| (f.position.line(), f.position.position());
                at(self).cmp(&at(other))
            })
            == Ordering::Less
    }
}

/// Why a script stopped on a fact, and where.
struct Stop {
    message: String,
    position: Position,
    /// Stopped by its time budget.
    timed_out: bool,
}

impl Stop {
    fn new(message: String, position: Position) -> Stop {
        Stop {
            message,
            position,
            timed_out: false,
        }
    }
}

/// What a rule gave on one fact: its firings (`None`: it read a field a fault made
/// unreadable, so it did not run), or why it stopped.
type Evaluated = Result<Option<Vec<Option<Map>>>, Stop>;

/// Whether a rule ran out of time on too many facts to be run again.
fn given_up_on(given_up: &HashMap<FailureKey, u32>, key: FailureKey) -> bool {
    given_up
        .get(&key)
        .is_some_and(|n| *n >= TIMEOUTS_BEFORE_GIVING_UP)
}

/// Runs one compiled script (a rule or a choice's key) with the fact variables in `scope`
/// (rewound to `fact_len` after), under its set's time budget: its value, `None` when it read a
/// field a fault made unreadable, or why it stopped.
///
/// `Engine::eval_ast_with_scope` starts every call with empty function-resolution caches, so
/// each of the ~25 calls an invoice costs resolved every helper and getter again (a tenth of
/// the run time). A script that defines no function of its own is run on a fresh runtime state
/// (operations counted from zero: the limit holds per rule and fact) but with the evaluator's
/// caches, which then only hold registered functions, the same for every script. A script with
/// its own functions takes the ordinary path: its functions must not be cached for another.
fn run_script(
    engine: &Engine,
    budget: std::time::Duration,
    caches: &mut Caches,
    scope: &mut Scope<'static>,
    ast: &AST,
    fact_len: usize,
) -> Result<Option<Dynamic>, Stop> {
    engine::start_clock(budget);
    let result = contain(|| {
        if ast.iter_functions().next().is_none() {
            let mut global: GlobalRuntimeState = engine.new_global_runtime_state();
            // Deprecated in Rhai 1.12 but kept through 1.x; pinned by Cargo.lock.
            #[allow(deprecated)]
            engine.eval_statements_raw(&mut global, caches, scope, ast.statements())
        } else {
            engine.eval_ast_with_scope::<Dynamic>(scope, ast)
        }
    });
    scope.rewind(fact_len);
    match result {
        // A field a fault made unreadable: the rule does not run on this fact.
        Ok(Err(e)) if is_unreadable(&e) => Ok(None),
        Ok(r) => r.map(Some).map_err(|e| Stop {
            message: describe(&e),
            position: e.position(),
            timed_out: matches!(*e, rhai::EvalAltResult::ErrorTerminated(..)),
        }),
        Err(Contained) => {
            // The caches may hold a half-made entry: start afresh.
            *caches = Caches::new();
            Err(Stop::new(CONTAINED_PANIC.to_string(), Position::NONE))
        }
    }
}

/// Merges failures of several evaluators (threads) into one per rule, the one told being the
/// one whose fact comes first in report order (`order`).
pub fn merge_failures(all: Vec<Vec<Failure>>, order: &SubjectOrder) -> Vec<Failure> {
    let mut merged: Vec<Failure> = Vec::new();
    for f in all.into_iter().flatten() {
        match merged
            .iter_mut()
            .find(|m| m.set == f.set && m.code == f.code)
        {
            Some(m) => m.absorb(f, order),
            None => merged.push(f),
        }
    }
    merged
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
            line: chain.last().map(|node| node.line),
            column: None,
            field: None,
        }),
        date: None,
        details: {
            let mut d = details.map(outcome_details).unwrap_or_default();
            // The field the rule tests, unless its script named another (CAS-N-ID: rpps or nir).
            if d.field.is_none() {
                d.field.clone_from(&rule.field);
            }
            d
        },
    }
}

/// The report keys a script may give in its details map: `motif`, `field`, `values` (a map
/// of organism → value) and `return_to` (a list of organisms).
fn outcome_details(m: &Map) -> Details {
    let text = |k: &str| m.get(k).filter(|v| !v.is_unit()).map(dynamic_value);
    Details {
        motif: text("motif"),
        field: text("field"),
        values: m
            .get("values")
            .and_then(|v| v.read_lock::<Map>())
            .map(|vals| {
                vals.iter()
                    .map(|(k, v)| {
                        let j = if v.is_unit() {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::String(dynamic_value(v))
                        };
                        (k.to_string(), j)
                    })
                    .collect()
            }),
        return_to: m
            .get("return_to")
            .and_then(|v| v.read_lock::<rhai::Array>())
            .map(|a| a.iter().map(dynamic_value).collect()),
    }
}

/// A script value as the report writes it: dates `AAAA-MM-JJ`, booleans `O`/`N`, the rest as
/// written (scripts write amounts with `euros()`).
fn dynamic_value(d: &Dynamic) -> String {
    if let Some(date) = d.clone().try_cast::<NaiveDate>() {
        return date.format("%Y-%m-%d").to_string();
    }
    if let Some(b) = d.clone().try_cast::<bool>() {
        return if b { "O" } else { "N" }.into();
    }
    d.to_string()
}

/// A value as guidance texts show it: dates `JJ/MM/AAAA`, amounts with a dot and their
/// decimals, booleans `O`/`N`.
pub fn text_of(v: &Value, ty: &FieldType) -> Option<String> {
    match (v, ty) {
        (Value::Absent, _) => None,
        (Value::Date(d), _) => Some(date_fr(*d)),
        (Value::Int(i), FieldType::Amount { decimals, .. }) => Some(decimal_text(*i, *decimals)),
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
                let Some(i) = rec.def.field_index(name) else {
                    continue;
                };
                if let (Some(v), Some(f)) = (rec.values.get(i), rec.def.fields.get(i)) {
                    return text_of(v, &f.ty);
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::facts::{read_file, KeyTracker};
    use crate::rules::manifest::Loader;

    /// A rule whose helper panics is stopped on each fact and reported once; the other rule of
    /// the set still gives its outcomes.
    #[test]
    fn a_panic_inside_a_rule_is_that_rule_s_failure() {
        let grammars = crate::grammar::load(Path::new("grammars")).unwrap();
        let bindings = Arc::new(Bindings::new(&grammars));
        let dir = std::env::temp_dir().join(format!("vigie-panic-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("scripts")).unwrap();
        std::fs::write(
            dir.join("ruleset.yaml"),
            "name: panique\nversion: \"1\"\ngrammars: [b2]\nrules:\n  - { code: BOOM, kind: anomaly, severity: rejet, scope: facture, script: scripts/boom.rhai, message: m }\n  - { code: TOUT, kind: anomaly, severity: info, scope: facture, script: scripts/tout.rhai, message: m }\n",
        )
        .unwrap();
        std::fs::write(dir.join("scripts/boom.rhai"), "boom()").unwrap();
        std::fs::write(dir.join("scripts/tout.rhai"), "true").unwrap();
        let mut loader = Loader::new(&grammars, &bindings);
        loader
            .engine
            .register_fn("boom", || -> bool { panic!("a helper bug") });
        let set = Arc::new(loader.load(&dir).unwrap());
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let mut ev = Evaluator::new(&grammars, &bindings, &[set], date);
        ev.sets[0]
            .runner
            .engine
            .register_fn("boom", || -> bool { panic!("a helper bug") });
        let b2 = grammars.get("b2").unwrap().clone();
        let mut units = Vec::new();
        read_file(
            &crate::facts::read::Origin::Path("tests/data/samples/lot-02-752379560.b2".into()),
            b2,
            &mut KeyTracker::default(),
            &AtomicU64::new(0),
            &mut |u| units.push(u),
        );
        let mut out = Vec::new();
        for u in &units {
            ev.evaluate(u, &mut out);
        }
        let failures = ev.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(&*failures[0].code, "BOOM");
        assert!(failures[0].count > 1);
        assert_eq!(failures[0].message, CONTAINED_PANIC);
        assert!(out.iter().any(|o| &*o.code == "TOUT"), "the other rule ran");
        assert!(!crate::panic_is_contained());
        std::fs::remove_dir_all(dir).ok();
    }

    /// A choice's key runs under its own time budget, as a rule does: a deadline left over from
    /// an earlier script does not stop it.
    #[test]
    fn a_choice_key_runs_on_its_own_clock() {
        let grammars = crate::grammar::load(Path::new("grammars")).unwrap();
        let bindings = Arc::new(Bindings::new(&grammars));
        let dir = std::env::temp_dir().join(format!("vigie-key-clock-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("scripts")).unwrap();
        // A key that costs more operations than the clock's period (1024).
        let reads = vec!["facture.tiers_payant"; 3000].join(", ");
        std::fs::write(
            dir.join("ruleset.yaml"),
            format!(
                "name: cle\nversion: \"1\"\ngrammars: [b2]\nrules:\n  - {{ code: CHOISI, kind: guidance, severity: info, scope: facture, script: scripts/oui.rhai, message: m }}\nchoices:\n  - name: CLE\n    scope: facture\n    key: 'if [{reads}].len() > 0 {{ \"k\" }} else {{ () }}'\n    table:\n      \"k\": CHOISI\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("scripts/oui.rhai"), "true").unwrap();
        let loader = Loader::new(&grammars, &bindings);
        let set = Arc::new(loader.load(&dir).unwrap());
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let mut ev = Evaluator::new(&grammars, &bindings, &[set], date);
        let b2 = grammars.get("b2").unwrap().clone();
        let mut units = Vec::new();
        read_file(
            &crate::facts::read::Origin::Path("tests/data/samples/lot-02-752379560.b2".into()),
            b2,
            &mut KeyTracker::default(),
            &AtomicU64::new(0),
            &mut |u| units.push(u),
        );
        let mut out = Vec::new();
        for u in &units {
            // The deadline of a script long finished.
            engine::start_clock(std::time::Duration::ZERO);
            ev.evaluate(u, &mut out);
        }
        assert_eq!(ev.failures().len(), 0, "{:?}", ev.failures());
        assert!(out.iter().any(|o| &*o.code == "CHOISI"), "{out:?}");
        std::fs::remove_dir_all(dir).ok();
    }
}
