//! Rule sets: a folder with `ruleset.yaml` (name, version, grammars, parameters, rules,
//! decision tables) and the Rhai scripts it names. Loading reads the manifest with the located
//! YAML reader, checks every rule (see [`super::check`]) and gathers every fault of every rule
//! set; a rule set with any fault is refused whole.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{Dynamic, Engine, Scope};
use serde::de::{self, Visitor};
use serde::Deserialize;

use super::bindings::Bindings;
use super::check;
use super::engine::{self, Limits};
use super::helpers::date_fr;
use super::participation::{Participation, ParticipationSpec};
use crate::diag::{Doc, Fault, FaultKind, Faults, Lenient, Ordered, Spanned};
use crate::model::{GrammarSet, Kind, Severity, Span};

/// The manifest's file name inside a rule-set folder.
pub const MANIFEST: &str = "ruleset.yaml";

/// Top-level keys of a manifest.
const MANIFEST_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "grammars",
    "params",
    "limits",
    "rules",
    "choices",
    "participation",
];

/// A manifest, read key by key: a faulty key is one fault, and the others are still read.
struct ManifestSpec {
    name: String,
    version: String,
    description: String,
    grammars: Vec<Spanned<String>>,
    params: Ordered<Spanned<String>, Lenient<Spanned<Param>>>,
    limits: Limits,
    rules: Vec<Lenient<Spanned<RuleSpec>>>,
    choices: Vec<Lenient<Spanned<ChoiceSpec>>>,
    participation: Option<Spanned<ParticipationSpec>>,
}

impl ManifestSpec {
    /// Reads every key of `doc` on its own; `None` when a key the rest needs (name, version,
    /// grammars, rules) is missing or faulty.
    fn read(doc: &Doc, faults: &mut Vec<Fault>) -> Option<ManifestSpec> {
        let meant = doc.unknown_keys(&doc.root, MANIFEST_KEYS, faults);
        let take = |name: &'static str, required: bool, faults: &mut Vec<Fault>| {
            let node = doc.root.get(name);
            if node.is_none() && required && !meant.iter().any(|m| m == name) {
                faults.push(doc.fault(
                    FaultKind::MissingKey,
                    doc.root.span,
                    format!("clé « {name} » manquante"),
                ));
            }
            node
        };
        fn typed<T: serde::de::DeserializeOwned>(
            doc: &Doc,
            node: Option<&crate::diag::yaml::Node>,
            faults: &mut Vec<Fault>,
        ) -> Option<T> {
            doc.typed(node?).map_err(|f| faults.push(f)).ok()
        }
        let name = typed(doc, take("name", true, faults), faults);
        let version = typed(doc, take("version", true, faults), faults);
        let grammars = typed(doc, take("grammars", true, faults), faults);
        let rules = typed(doc, take("rules", true, faults), faults);
        let description = typed(doc, take("description", false, faults), faults);
        let params = typed(doc, take("params", false, faults), faults);
        let limits = typed(doc, take("limits", false, faults), faults);
        let choices = typed(doc, take("choices", false, faults), faults);
        let participation = typed(doc, take("participation", false, faults), faults);
        Some(ManifestSpec {
            name: name?,
            version: version?,
            description: description.unwrap_or_default(),
            grammars: grammars?,
            params: params.unwrap_or_default(),
            limits: limits.unwrap_or_default(),
            rules: rules?,
            choices: choices.unwrap_or_default(),
            participation,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    code: Spanned<String>,
    #[serde(default)]
    title: String,
    kind: Kind,
    severity: Severity,
    scope: Spanned<String>,
    script: Spanned<String>,
    message: Spanned<String>,
    guidance: Option<Spanned<String>>,
    from: Option<Spanned<NaiveDate>>,
    until: Option<Spanned<NaiveDate>>,
    #[serde(default)]
    damaged: bool,
    field: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceSpec {
    name: Spanned<String>,
    #[serde(default)]
    title: String,
    scope: Spanned<String>,
    key: Spanned<String>,
    table: Ordered<Spanned<String>, Spanned<Candidates>>,
    #[serde(default)]
    otherwise: Spanned<Vec<String>>,
}

/// One rule code or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Candidates {
    One(String),
    Many(Vec<String>),
}

impl Candidates {
    fn into_vec(self) -> Vec<String> {
        match self {
            Candidates::One(c) => vec![c],
            Candidates::Many(v) => v,
        }
    }
}

/// A decision table: on each fact of its scope, a Rhai expression gives a key (a NOEMIE motif),
/// the table gives candidate rules in order, and the first candidate that fires is the only
/// outcome (hit policy: first). Rules named by a choice run only through it.
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

    /// Whether the choice names rule `code`.
    pub fn names(&self, code: &str) -> bool {
        self.otherwise.iter().any(|x| x == code)
            || self.table.iter().any(|(_, v)| v.iter().any(|x| x == code))
    }
}

/// A parameter value, pushed into scripts as a constant of the same name.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    /// A number with decimals (`0.0640`), exact: a script sees a `decimal`.
    Decimal(rust_decimal::Decimal),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    /// Named values (the rates of each year: `taux: { "2025": { maladie: 0.0640 } }`).
    Map(Vec<(String, Param)>),
}

impl<'de> Deserialize<'de> for Param {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Param, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Param;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "un nombre, un texte, un booléen, une date AAAA-MM-JJ ou des valeurs nommées",
                )
            }
            fn visit_bool<E>(self, b: bool) -> Result<Param, E> {
                Ok(Param::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Param, E> {
                Ok(Param::Int(i))
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<Param, E> {
                i64::try_from(u)
                    .map(Param::Int)
                    .map_err(|_| E::custom("nombre trop grand"))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Param, E> {
                // The shortest form that reads back as `f` is the number as written
                // (`0.0640` → `0.064`), made exact here.
                f.to_string()
                    .parse()
                    .map(Param::Decimal)
                    .map_err(|_| E::custom("nombre décimal hors limites"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Param, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Param>()? {
                    entries.push((k, v));
                }
                Ok(Param::Map(entries))
            }
            fn visit_str<E>(self, s: &str) -> Result<Param, E> {
                Ok(match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    Ok(d) => Param::Date(d),
                    Err(_) => Param::Text(s.to_string()),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Param {
    /// The value a script sees.
    pub fn to_dynamic(&self) -> Dynamic {
        match self {
            Param::Int(i) => Dynamic::from(*i),
            Param::Decimal(d) => Dynamic::from(*d),
            Param::Text(s) => Dynamic::from(s.clone()),
            Param::Bool(b) => Dynamic::from(*b),
            Param::Date(d) => Dynamic::from(*d),
            Param::Map(entries) => Dynamic::from_map(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.to_dynamic()))
                    .collect(),
            ),
        }
    }

    /// The value as texts show it.
    pub fn display(&self) -> String {
        match self {
            Param::Int(i) => i.to_string(),
            Param::Decimal(d) => d.to_string(),
            Param::Text(s) => s.clone(),
            Param::Bool(b) => if *b { "O" } else { "N" }.to_string(),
            Param::Date(d) => date_fr(*d),
            Param::Map(entries) => entries
                .iter()
                .map(|(k, v)| format!("{k} : {}", v.display()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// One rule: its catalogue entry and its script.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Catalogue code.
    pub code: Arc<str>,
    /// A title for people.
    pub title: String,
    /// What its outcomes are.
    pub kind: Kind,
    /// Severity of its anomalies.
    pub severity: Severity,
    /// The grammar group it is evaluated on (`lot`, `facture`, `ligne`…).
    pub scope: String,
    /// Its script file.
    pub script_path: PathBuf,
    /// The script.
    pub source: String,
    /// Sentence for the agent, with `{placeholders}`.
    pub message: String,
    /// Text for the professional, with `{placeholders}`.
    pub guidance: Option<String>,
    /// First day in force (by the fact's date).
    pub from: Option<NaiveDate>,
    /// Last day in force.
    pub until: Option<NaiveDate>,
    /// Also runs on a node whose own checks a faulty field disabled (CAS-N-DUP: the key it
    /// reads was read). Never on an unreadable node.
    pub damaged: bool,
    /// The field it tests, under the record's own name (the `champ` of a CAS return); its
    /// script may name another in its details (`field`).
    pub field: Option<String>,
    /// Where the rule's entry starts in the manifest.
    pub span: Span,
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
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `name@version`, carried by every outcome it decides.
    pub id: Arc<str>,
    /// What it checks.
    pub description: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The grammars it reads.
    pub grammars: Vec<String>,
    /// Its parameters, as scripts see them.
    pub params: Vec<(String, Param)>,
    /// Limits its scripts run under.
    pub limits: Limits,
    /// Its rules.
    pub rules: Vec<Rule>,
    /// Its decision tables.
    pub choices: Vec<Choice>,
    /// What is paid on each fact of a scope, decided after every rule (CAS).
    pub participation: Option<Participation>,
    /// Its letter templates (`letters/*.j2`).
    pub letters: Vec<super::letters::Template>,
}

impl RuleSet {
    /// Whether the rule `code` of scope `scope` runs only through a choice.
    pub fn is_chosen(&self, code: &str, scope: &str) -> bool {
        self.choices
            .iter()
            .any(|c| c.scope == scope && c.names(code))
    }

    /// The manifest's path.
    pub fn manifest(&self) -> PathBuf {
        self.dir.join(MANIFEST)
    }
}

/// Reads the script `script` names in `set`'s folder; a file that cannot be read is a fault of
/// the manifest at that name (`who`: « règle CODE », « participation »).
pub(super) fn read_script(
    doc: &Doc,
    set: &RuleSet,
    script: &Spanned<String>,
    who: &str,
    faults: &mut Vec<Fault>,
) -> Option<(PathBuf, String)> {
    let path = set.dir.join(&script.value);
    match std::fs::read_to_string(&path) {
        Ok(source) => Some((path, source)),
        Err(e) => {
            faults.push(doc.fault(
                FaultKind::Unreadable,
                script.span,
                format!("{who} : script « {} » introuvable ({e})", script.value),
            ));
            None
        }
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
    // The findings about the fact: filled for the participation script, empty elsewhere. A
    // variable, not a constant: the optimiser would fold a constant's empty value into scripts.
    scope.push_dynamic("constats", Dynamic::from_array(rhai::Array::new()));
    for g in groups {
        scope.push_dynamic(g.clone(), Dynamic::UNIT);
    }
    scope
}

/// The groups a rule of scope `scope` sees: that group and its ancestors, root first, in the
/// first grammar of the set that has it.
pub fn scope_chain(grammars: &GrammarSet, set: &RuleSet, scope: &str) -> Option<Vec<String>> {
    set.grammars
        .iter()
        .filter_map(|g| grammars.get(g))
        .find_map(|g| {
            g.group(scope)
                .map(|group| g.ancestry(group).into_iter().map(str::to_string).collect())
        })
}

/// What loading needs: the grammars, their property table, and an engine to check scripts.
pub struct Loader<'a> {
    pub grammars: &'a GrammarSet,
    pub bindings: &'a Arc<Bindings>,
    pub engine: Engine,
    /// The engine's functions, read at the first load (after any registration).
    calls: std::cell::OnceCell<check::Calls>,
}

impl<'a> Loader<'a> {
    /// A loader checking scripts with the engine rules run on (unoptimised, to see every call
    /// as written).
    pub fn new(grammars: &'a GrammarSet, bindings: &'a Arc<Bindings>) -> Loader<'a> {
        let mut engine = engine::build(bindings, &Limits::default());
        engine.set_optimization_level(rhai::OptimizationLevel::None);
        Loader {
            grammars,
            bindings,
            engine,
            calls: std::cell::OnceCell::new(),
        }
    }

    /// Loads and checks the rule set of `dir`.
    pub fn load(&self, dir: &Path) -> Result<RuleSet, Faults> {
        let path = dir.join(MANIFEST);
        let doc = Doc::read(&path)?;
        let mut faults = Vec::new();
        let Some(spec) = ManifestSpec::read(&doc, &mut faults) else {
            return Err(Faults(faults));
        };
        check_limits(&doc, &spec.limits, &mut faults);
        let mut set = self.header(&doc, &spec, dir, &mut faults);
        for r in doc.sort_out(spec.rules, &mut faults) {
            if let Some(rule) = self.rule(&doc, &set, r, &mut faults) {
                set.rules.push(rule);
            }
        }
        // Codes whose entry was refused (already reported): a choice naming one is not faulted
        // again.
        let refused: HashSet<String> = written_codes(&doc)
            .into_iter()
            .filter(|c| !set.rules.iter().any(|r| *r.code == **c))
            .collect();
        for c in doc.sort_out(spec.choices, &mut faults) {
            if let Some(choice) = self.choice(&doc, &set, c, &refused, &mut faults) {
                set.choices.push(choice);
            }
        }
        if let Some(p) = spec.participation {
            set.participation = self.participation(&doc, &set, p, &mut faults);
        }
        set.letters = super::letters::load(dir, &mut faults);
        overlapping_versions(&doc, &set, &mut faults);
        if faults.is_empty() {
            Ok(set)
        } else {
            Err(Faults(faults))
        }
    }

    fn header(
        &self,
        doc: &Doc,
        spec: &ManifestSpec,
        dir: &Path,
        faults: &mut Vec<Fault>,
    ) -> RuleSet {
        for g in &spec.grammars {
            if self.grammars.get(g).is_none() {
                faults.push(doc.fault(
                    FaultKind::UnknownName,
                    g.span,
                    format!(
                            "grammaire inconnue « {} » (connues : {})",
                            g.value,
                            self.grammars
                                .grammars
                                .iter()
                                .map(|g| g.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                ));
            }
        }
        RuleSet {
            id: Arc::from(format!("{}@{}", spec.name, spec.version)),
            name: spec.name.clone(),
            version: spec.version.clone(),
            description: spec.description.clone(),
            dir: dir.to_path_buf(),
            grammars: spec.grammars.iter().map(|g| g.value.clone()).collect(),
            params: spec
                .params
                .0
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Lenient::Ok(p) => p.value.clone(),
                        Lenient::Bad(e) => {
                            faults.push(doc.fault(
                                e.kind,
                                e.span.unwrap_or(k.span),
                                format!("paramètre {} : {}", k.value, e.message),
                            ));
                            // Refused with the set; defined so that its scripts still compile
                            // and show their own faults, not this one again.
                            Param::Int(0)
                        }
                    };
                    (k.value.clone(), value)
                })
                .collect(),
            limits: spec.limits,
            rules: Vec::new(),
            choices: Vec::new(),
            participation: None,
            letters: Vec::new(),
        }
    }

    /// Reads and checks the script of a rule (or of the participation) the way every script is
    /// checked: names, fields, calls, placeholders of `texts`.
    pub(super) fn check_script(
        &self,
        doc: &Doc,
        set: &RuleSet,
        rule: &Rule,
        chain: &[String],
        texts: &[&Spanned<String>],
    ) -> Vec<Fault> {
        let world = check::World::new(self.grammars, self.bindings, set, chain);
        let calls = self.calls.get_or_init(|| check::Calls::of(&self.engine));
        check::script(&self.engine, calls, &world, rule, doc, texts)
    }

    fn rule(
        &self,
        doc: &Doc,
        set: &RuleSet,
        r: Spanned<RuleSpec>,
        faults: &mut Vec<Fault>,
    ) -> Option<Rule> {
        let Some(chain) = scope_chain(self.grammars, set, &r.scope) else {
            faults.push(doc.fault(
                FaultKind::UnknownName,
                r.scope.span,
                format!(
                    "règle {} : portée « {} » inconnue des grammaires {}",
                    r.code.value,
                    r.scope.value,
                    set.grammars.join(", ")
                ),
            ));
            return None;
        };
        if let (Some(f), Some(u)) = (&r.from, &r.until) {
            if f.value > u.value {
                faults.push(doc.fault(
                    FaultKind::BadValue,
                    u.span,
                    format!("règle {} : `until` précède `from`", r.code.value),
                ));
            }
        }
        let who = format!("règle {}", r.code.value);
        let (script_path, source) = read_script(doc, set, &r.script, &who, faults)?;
        let span = r.span;
        let spec = r.value;
        let rule = Rule {
            code: Arc::from(spec.code.as_str()),
            title: spec.title,
            kind: spec.kind,
            severity: spec.severity,
            scope: spec.scope.value,
            script_path,
            source,
            message: spec.message.value.clone(),
            guidance: spec.guidance.as_ref().map(|g| g.value.clone()),
            from: spec.from.map(|f| f.value),
            until: spec.until.map(|u| u.value),
            damaged: spec.damaged,
            field: spec.field.clone(),
            span,
        };
        let texts: Vec<&Spanned<String>> = std::iter::once(&spec.message)
            .chain(spec.guidance.as_ref())
            .collect();
        faults.extend(self.check_script(doc, set, &rule, &chain, &texts));
        Some(rule)
    }

    fn choice(
        &self,
        doc: &Doc,
        set: &RuleSet,
        c: Spanned<ChoiceSpec>,
        refused: &HashSet<String>,
        faults: &mut Vec<Fault>,
    ) -> Option<Choice> {
        let before = faults.len();
        let ChoiceSpec {
            name,
            title,
            scope,
            key,
            table: spec_table,
            otherwise,
        } = c.value;
        let name = name.value;
        match scope_chain(self.grammars, set, &scope) {
            None => faults.push(doc.fault(
                FaultKind::UnknownName,
                scope.span,
                format!("choix {name} : portée « {} » inconnue", scope.value),
            )),
            Some(chain) => {
                let compile = compile_scope(set, &chain, NaiveDate::MIN);
                if let Err(e) = self
                    .engine
                    .compile_expression_with_scope(&compile, key.as_str())
                {
                    faults.push(doc.fault(
                        FaultKind::Script,
                        key.span,
                        format!("choix {name} : clé « {} » : {e}", key.value),
                    ));
                }
            }
        }
        let known = |code: &str| {
            refused.contains(code)
                || set
                    .rules
                    .iter()
                    .any(|r| &*r.code == code && r.scope == scope.value)
        };
        let absent = |code: &str, span| {
            doc.fault(
                FaultKind::UnknownName,
                span,
                format!(
                    "choix {name} : règle « {code} » de portée « {} » absente du jeu",
                    scope.value
                ),
            )
        };
        let mut table = Vec::new();
        for (k, v) in spec_table.0 {
            let span = v.span;
            let codes = v.value.into_vec();
            if codes.is_empty() {
                faults.push(doc.fault(
                    FaultKind::MissingKey,
                    span,
                    format!("choix {name} : « {} » donne au moins une règle", k.value),
                ));
            }
            faults.extend(codes.iter().filter(|c| !known(c)).map(|c| absent(c, span)));
            table.push((k.value, codes));
        }
        faults.extend(
            otherwise
                .iter()
                .filter(|c| !known(c))
                .map(|c| absent(c, otherwise.span)),
        );
        (faults.len() == before).then(|| Choice {
            name: Arc::from(name.as_str()),
            title,
            scope: scope.value,
            key: key.value,
            table,
            otherwise: otherwise.value,
        })
    }
}

/// Limits above their ceiling, or at zero, are faults of the manifest.
fn check_limits(doc: &Doc, limits: &Limits, faults: &mut Vec<Fault>) {
    let node = doc.root.get("limits");
    for (name, value, ceiling) in limits.named() {
        if value == 0 || value > ceiling {
            let span = node
                .and_then(|n| n.get(name))
                .or(node)
                .map_or(doc.root.span, |n| n.span);
            faults.push(doc.fault(
                FaultKind::BadValue,
                span,
                format!("`{name}` : entre 1 et {ceiling} (pour que rien ne bloque l'analyse)"),
            ));
        }
    }
}

/// Every rule code written in the manifest, whether or not its entry could be read.
fn written_codes(doc: &Doc) -> HashSet<String> {
    let mut codes = HashSet::new();
    if let Some(crate::diag::yaml::Value::Seq(items)) = doc.root.get("rules").map(|r| &r.value) {
        codes.extend(
            items
                .iter()
                .filter_map(|i| i.get("code").and_then(|c| c.as_str()).map(str::to_string)),
        );
    }
    codes
}

/// Versions of one code must not be in force on the same date for the same scope (one code
/// may be checked on several scopes: CAS-N-ID on each organism's records).
fn overlapping_versions(doc: &Doc, set: &RuleSet, faults: &mut Vec<Fault>) {
    let lo = |x: Option<NaiveDate>| x.unwrap_or(NaiveDate::MIN);
    let hi = |x: Option<NaiveDate>| x.unwrap_or(NaiveDate::MAX);
    for (i, a) in set.rules.iter().enumerate() {
        for b in set.rules.iter().skip(i + 1) {
            if a.code == b.code
                && a.scope == b.scope
                && lo(a.from) <= hi(b.until)
                && lo(b.from) <= hi(a.until)
            {
                faults.push(doc.fault(
                    FaultKind::VersionOverlap,
                    b.span,
                    format!(
                        "règle {} : deux versions en vigueur à la même date sur la portée {} (from/until)",
                        b.code, b.scope
                    ),
                ));
            }
        }
    }
}

/// The rule-set folders under `dir`: `dir` itself when it holds a manifest, else each
/// sub-folder that does, sorted.
pub fn rule_set_dirs(dir: &Path) -> Result<Vec<PathBuf>, Fault> {
    if dir.join(MANIFEST).is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Fault::file(
            FaultKind::Unreadable,
            dir,
            format!("dossier de règles illisible : {e}"),
        )
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(MANIFEST).is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(Fault::file(
            FaultKind::Empty,
            dir,
            format!("aucun jeu de règles ({MANIFEST}) ici ni dans ses sous-dossiers"),
        ));
    }
    Ok(dirs)
}

/// Loads every rule set under `dir` (see [`rule_set_dirs`]), and checks that every grammar
/// name a rule reads is readable from a script. Every fault of every set is gathered.
pub fn load_all(
    dir: &Path,
    grammars: &GrammarSet,
    bindings: &Arc<Bindings>,
) -> Result<Vec<Arc<RuleSet>>, Faults> {
    let dirs = rule_set_dirs(dir)?;
    let mut faults = Bindings::check_names(grammars);
    let loader = Loader::new(grammars, bindings);
    let mut sets = Vec::new();
    let mut ids = HashSet::new();
    for d in dirs {
        match loader.load(&d) {
            Ok(s) if !ids.insert(Arc::clone(&s.id)) => faults.push(Fault::file(
                FaultKind::Duplicate,
                &s.manifest(),
                format!("jeu {} chargé deux fois", s.id),
            )),
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
