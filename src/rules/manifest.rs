//! Rule sets: a folder with `ruleset.yaml` (name, version, grammars, parameters, rules) and the
//! Rhai scripts it names. Loading validates everything and gathers every fault; a rule set with
//! any fault is refused whole.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{Dynamic, Engine, Scope, AST};
use serde::Deserialize;

use super::engine::{self, Limits};
use crate::diag::{Fault, Faults};
use crate::grammar::GrammarSet;
use crate::outcome::{Kind, Severity};

/// The manifest's file name inside a rule-set folder.
pub const MANIFEST: &str = "ruleset.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestSpec {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    grammars: Vec<String>,
    #[serde(default)]
    params: serde_yaml::Mapping,
    #[serde(default)]
    limits: Limits,
    rules: Vec<serde_yaml::Value>,
    #[serde(default)]
    choices: Vec<ChoiceSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceSpec {
    name: String,
    #[serde(default)]
    title: String,
    scope: String,
    key: String,
    table: serde_yaml::Mapping,
    #[serde(default)]
    otherwise: Vec<String>,
}

/// A decision table: on each fact of its scope, a Rhai expression gives a key (a NOEMIE motif),
/// the table gives candidate rules in order, and the first candidate that fires is the only
/// outcome. Rules named by a choice run only through it.
#[derive(Debug, Clone)]
pub struct Choice {
    pub name: Arc<str>,
    pub title: String,
    pub scope: String,
    /// Rhai expression giving the key; `()` chooses nothing.
    pub key: String,
    /// Key value → candidate rule codes, in order.
    pub table: Vec<(String, Vec<String>)>,
    /// Candidates for a key the table does not list.
    pub otherwise: Vec<String>,
}

impl Choice {
    /// The candidates for `key`.
    pub fn candidates(&self, key: &str) -> &[String] {
        self.table
            .iter()
            .find(|(k, _)| k == key)
            .map_or(self.otherwise.as_slice(), |(_, c)| c.as_slice())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    code: String,
    #[serde(default)]
    title: String,
    kind: Kind,
    severity: Severity,
    scope: String,
    script: String,
    message: String,
    guidance: Option<String>,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
    #[serde(default)]
    damaged: bool,
}

/// A parameter value, pushed into scripts as a constant of the same name.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
}

impl Param {
    pub fn to_dynamic(&self) -> Dynamic {
        match self {
            Param::Int(i) => Dynamic::from(*i),
            Param::Float(f) => Dynamic::from(*f),
            Param::Text(s) => Dynamic::from(s.clone()),
            Param::Bool(b) => Dynamic::from(*b),
            Param::Date(d) => Dynamic::from(*d),
        }
    }

    pub fn display(&self) -> String {
        match self {
            Param::Int(i) => i.to_string(),
            Param::Float(f) => f.to_string(),
            Param::Text(s) => s.clone(),
            Param::Bool(b) => if *b { "O" } else { "N" }.to_string(),
            Param::Date(d) => super::helpers::date_fr(*d),
        }
    }
}

/// One rule: its catalogue entry and its script.
#[derive(Debug, Clone)]
pub struct Rule {
    pub code: Arc<str>,
    pub title: String,
    pub kind: Kind,
    pub severity: Severity,
    /// The grammar group it is evaluated on (`lot`, `facture`, `ligne`…).
    pub scope: String,
    pub script_path: PathBuf,
    pub source: String,
    /// Sentence for the agent, with `{placeholders}`.
    pub message: String,
    /// Text for the professional, with `{placeholders}`.
    pub guidance: Option<String>,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Also runs on a node whose own checks a faulty field disabled (CAS-N-DUP: the key it
    /// reads was read). Never on an unreadable node.
    pub damaged: bool,
}

impl Rule {
    /// Whether the rule is in force for a fact dated `date`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= date) && self.until.is_none_or(|u| date <= u)
    }
}

/// A loaded, validated rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub name: String,
    pub version: String,
    /// `name@version`, carried by every outcome it decides.
    pub id: Arc<str>,
    pub description: String,
    pub dir: PathBuf,
    pub grammars: Vec<String>,
    pub params: Vec<(String, Param)>,
    pub limits: Limits,
    pub rules: Vec<Rule>,
    pub choices: Vec<Choice>,
}

impl RuleSet {
    /// Whether the rule `code` of scope `scope` runs only through a choice.
    pub fn is_chosen(&self, code: &str, scope: &str) -> bool {
        self.choices.iter().any(|c| {
            c.scope == scope
                && (c.otherwise.iter().any(|x| x == code)
                    || c.table.iter().any(|(_, v)| v.iter().any(|x| x == code)))
        })
    }
}

/// The names a script may use besides helpers: the parameters, `as_of`, and the groups of its
/// scope and their ancestors, as a scope to compile against (strict variables).
pub fn compile_scope(set: &RuleSet, groups: &[String], as_of: NaiveDate) -> Scope<'static> {
    let mut scope = Scope::new();
    for (name, p) in &set.params {
        scope.push_constant_dynamic(name.clone(), p.to_dynamic());
    }
    scope.push_constant("as_of", as_of);
    for g in groups {
        scope.push_dynamic(g.clone(), Dynamic::UNIT);
    }
    scope
}

/// The groups a rule of scope `scope` sees: that group and its ancestors, root first.
pub fn scope_chain(grammars: &GrammarSet, set: &RuleSet, scope: &str) -> Option<Vec<String>> {
    for gname in &set.grammars {
        let Some(g) = grammars.get(gname) else {
            continue;
        };
        if let Some(group) = g.group(scope) {
            let mut chain = vec![group.name.clone()];
            let mut p = group.parent;
            while let Some(i) = p {
                chain.push(g.groups[i].name.clone());
                p = g.groups[i].parent;
            }
            chain.reverse();
            return Some(chain);
        }
    }
    None
}

fn param(v: &serde_yaml::Value) -> Option<Param> {
    Some(match v {
        serde_yaml::Value::Bool(b) => Param::Bool(*b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => Param::Int(i),
            None => Param::Float(n.as_f64()?),
        },
        serde_yaml::Value::String(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Param::Date(d),
            Err(_) => Param::Text(s.clone()),
        },
        _ => return None,
    })
}

/// Loads the rule set of `dir`, validating it against `grammars` and compiling every script
/// with `engine` (scripts are compiled again by each evaluator: this pass finds the faults).
pub fn load(
    dir: &Path,
    grammars: &GrammarSet,
    engine_for_check: Option<&Engine>,
) -> Result<RuleSet, Faults> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Faults(vec![Fault::new(
            &path,
            None,
            None,
            format!("manifeste illisible : {e}"),
        )])
    })?;
    let spec: ManifestSpec =
        serde_yaml::from_str(&text).map_err(|e| Faults(vec![Fault::yaml(&path, &e)]))?;
    let mut faults = Vec::new();
    for g in &spec.grammars {
        if grammars.get(g).is_none() {
            faults.push(Fault::at(
                &path,
                &text,
                &["grammars:"],
                format!("grammaire inconnue « {g} »"),
            ));
        }
    }
    let mut params = Vec::new();
    for (k, v) in &spec.params {
        match (k.as_str(), param(v)) {
            (Some(k), Some(p)) => params.push((k.to_string(), p)),
            _ => faults.push(Fault::at(
                &path,
                &text,
                &["params:", &format!("{}:", k.as_str().unwrap_or("?"))],
                "un paramètre est un nombre, un texte, un booléen ou une date AAAA-MM-JJ",
            )),
        }
    }
    let mut set = RuleSet {
        id: Arc::from(format!("{}@{}", spec.name, spec.version)),
        name: spec.name,
        version: spec.version,
        description: spec.description,
        dir: dir.to_path_buf(),
        grammars: spec.grammars,
        params,
        limits: spec.limits,
        rules: Vec::new(),
        choices: Vec::new(),
    };
    let owned_engine;
    let engine = match engine_for_check {
        Some(e) => e,
        None => {
            owned_engine = engine::build(grammars, &set.limits);
            &owned_engine
        }
    };
    for (i, raw) in spec.rules.iter().enumerate() {
        let code_hint = raw.get("code").and_then(|c| c.as_str()).map(str::to_string);
        let anchor = code_hint.as_ref().map(|c| format!("code: {c}"));
        let anchors: Vec<&str> = anchor.iter().map(String::as_str).collect();
        let r: RuleSpec = match serde_yaml::from_value(raw.clone()) {
            Ok(r) => r,
            Err(e) => {
                let what = code_hint.clone().unwrap_or_else(|| format!("n° {}", i + 1));
                faults.push(Fault::at(
                    &path,
                    &text,
                    &anchors,
                    format!("règle {what} : {e}"),
                ));
                continue;
            }
        };
        let at = |key: &str, msg: String| {
            let mut a = anchors.clone();
            let k = format!("{key}:");
            a.push(&k);
            Fault::at(&path, &text, &a, msg)
        };
        let Some(chain) = scope_chain(grammars, &set, &r.scope) else {
            faults.push(at(
                "scope",
                format!(
                    "règle {} : portée « {} » inconnue des grammaires {}",
                    r.code,
                    r.scope,
                    set.grammars.join(", ")
                ),
            ));
            continue;
        };
        if let (Some(f), Some(u)) = (r.from, r.until) {
            if f > u {
                faults.push(at(
                    "until",
                    format!("règle {} : `until` précède `from`", r.code),
                ));
            }
        }
        let script_path = dir.join(&r.script);
        let source = match std::fs::read_to_string(&script_path) {
            Ok(s) => s,
            Err(e) => {
                faults.push(at(
                    "script",
                    format!(
                        "règle {} : script « {} » introuvable ({e})",
                        r.code, r.script
                    ),
                ));
                continue;
            }
        };
        let rule = Rule {
            code: Arc::from(r.code.as_str()),
            title: r.title,
            kind: r.kind,
            severity: r.severity,
            scope: r.scope,
            script_path,
            source,
            message: r.message,
            guidance: r.guidance,
            from: r.from,
            until: r.until,
            damaged: r.damaged,
        };
        if let Err(mut f) = check_script(engine, &set, &rule, &chain) {
            faults.append(&mut f);
        }
        set.rules.push(rule);
    }
    for c in &spec.choices {
        match choice(engine, grammars, &set, c) {
            Ok(c) => set.choices.push(c),
            Err(msgs) => faults.extend(msgs.into_iter().map(|m| {
                Fault::at(
                    &path,
                    &text,
                    &[&format!("name: {}", c.name)],
                    format!("choix {} : {m}", c.name),
                )
            })),
        }
    }
    // Versions of one code must not be in force on the same date for the same scope (one code
    // may be checked on several scopes: CAS-N-ID on each organism's records).
    for (i, a) in set.rules.iter().enumerate() {
        for b in &set.rules[i + 1..] {
            let lo = |x: Option<NaiveDate>| x.unwrap_or(NaiveDate::MIN);
            let hi = |x: Option<NaiveDate>| x.unwrap_or(NaiveDate::MAX);
            if a.code == b.code
                && a.scope == b.scope
                && lo(a.from) <= hi(b.until)
                && lo(b.from) <= hi(a.until)
            {
                faults.push(Fault::at(
                    &path,
                    &text,
                    &[&format!("code: {}", b.code)],
                    format!(
                        "règle {} : deux versions en vigueur à la même date (from/until)",
                        b.code
                    ),
                ));
            }
        }
    }
    if faults.is_empty() {
        Ok(set)
    } else {
        Err(Faults(faults))
    }
}

/// Validates a choice: its scope, its key expression, its candidates (rules of that scope).
fn choice(
    engine: &Engine,
    grammars: &GrammarSet,
    set: &RuleSet,
    c: &ChoiceSpec,
) -> Result<Choice, Vec<String>> {
    let mut errors = Vec::new();
    let chain = scope_chain(grammars, set, &c.scope);
    match &chain {
        None => errors.push(format!("portée « {} » inconnue", c.scope)),
        Some(chain) => {
            let scope = compile_scope(set, chain, NaiveDate::MIN);
            if let Err(e) = engine.compile_expression_with_scope(&scope, &c.key) {
                errors.push(format!("clé « {} » : {e}", c.key));
            }
        }
    }
    let mut table = Vec::new();
    for (k, v) in &c.table {
        let key = match k {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Number(n) => n.to_string(),
            _ => {
                errors.push("les clés de `table` sont des textes".into());
                continue;
            }
        };
        let codes: Vec<String> = match v {
            serde_yaml::Value::String(s) => vec![s.clone()],
            serde_yaml::Value::Sequence(seq) if seq.iter().all(|x| x.is_string()) => seq
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => {
                errors.push(format!("« {key} » : une règle ou une liste de règles"));
                continue;
            }
        };
        table.push((key, codes));
    }
    for code in table.iter().flat_map(|(_, v)| v).chain(&c.otherwise) {
        if !set
            .rules
            .iter()
            .any(|r| *r.code == **code && r.scope == c.scope)
        {
            errors.push(format!(
                "règle « {code} » de portée « {} » absente du jeu",
                c.scope
            ));
        }
    }
    if table.iter().any(|(_, v)| v.is_empty()) {
        errors.push("une clé de `table` donne au moins une règle".into());
    }
    if errors.is_empty() {
        Ok(Choice {
            name: Arc::from(c.name.as_str()),
            title: c.title.clone(),
            scope: c.scope.clone(),
            key: c.key.clone(),
            table,
            otherwise: c.otherwise.clone(),
        })
    } else {
        Err(errors)
    }
}

/// Compiles a script against its scope and walks it for calls to unknown functions.
fn check_script(
    engine: &Engine,
    set: &RuleSet,
    rule: &Rule,
    chain: &[String],
) -> Result<AST, Vec<Fault>> {
    let scope = compile_scope(
        set,
        chain,
        NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date"),
    );
    let ast = engine
        .compile_with_scope(&scope, &rule.source)
        .map_err(|e| {
            let p = e.position();
            vec![Fault::new(
                &rule.script_path,
                p.line(),
                p.position(),
                format!("règle {} : {}", rule.code, e.err_type()),
            )]
        })?;
    let known = known_functions(engine);
    let own: HashSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
    let mut faults = Vec::new();
    ast.walk(&mut |path| {
        if let Some(rhai::ASTNode::Expr(
            rhai::Expr::FnCall(f, pos) | rhai::Expr::MethodCall(f, pos),
        )) = path.last()
        {
            if f.op_token.is_none()
                && !known.contains(f.name.as_str())
                && !own.contains(f.name.as_str())
            {
                faults.push(Fault::new(
                    &rule.script_path,
                    pos.line(),
                    pos.position(),
                    format!(
                        "règle {} : fonction inconnue « {} » (voir docs/rules.md)",
                        rule.code, f.name
                    ),
                ));
            }
        }
        true
    });
    if faults.is_empty() {
        Ok(ast)
    } else {
        Err(faults)
    }
}

/// Names of every function the engine knows: helpers, standard library, keywords.
pub fn known_functions(engine: &Engine) -> HashSet<String> {
    let mut names: HashSet<String> = engine
        .gen_fn_signatures(true)
        .iter()
        .filter_map(|s| {
            let s = s.trim_start_matches("pub ").trim_start_matches("fn ");
            s.split('(').next().map(|n| n.trim().to_string())
        })
        .collect();
    for k in [
        "print",
        "debug",
        "type_of",
        "Fn",
        "call",
        "curry",
        "is_def_var",
        "is_def_fn",
        "is_shared",
        "eval",
        "throw",
    ] {
        names.insert(k.to_string());
    }
    names
}

/// Loads every rule set under `dir`: `dir` itself when it holds a manifest, else each
/// sub-folder that does.
pub fn load_all(dir: &Path, grammars: &GrammarSet) -> Result<Vec<Arc<RuleSet>>, Faults> {
    let dirs: Vec<PathBuf> = if dir.join(MANIFEST).is_file() {
        vec![dir.to_path_buf()]
    } else {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| {
                Faults(vec![Fault::new(
                    dir,
                    None,
                    None,
                    format!("dossier de règles illisible : {e}"),
                )])
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(MANIFEST).is_file())
            .collect();
        v.sort();
        v
    };
    if dirs.is_empty() {
        return Err(Faults(vec![Fault::new(
            dir,
            None,
            None,
            format!("aucun jeu de règles ({MANIFEST}) ici"),
        )]));
    }
    let mut sets = Vec::new();
    let mut faults = Vec::new();
    for d in dirs {
        match load(&d, grammars, None) {
            Ok(s) => sets.push(Arc::new(s)),
            Err(mut f) => faults.append(&mut f.0),
        }
    }
    if faults.is_empty() {
        Ok(sets)
    } else {
        Err(Faults(faults))
    }
}
