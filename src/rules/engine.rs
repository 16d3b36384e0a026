//! The Rhai engine rules run on: facts exposed as a `Fact` type whose properties are the
//! grammar's field names (one getter per name, registered at start-up from the grammars, so a
//! new grammar field is usable without recompiling), helpers, and limits.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, OptimizationLevel};

use super::bindings::{Bindings, GroupProp};
use super::fault::{fault, unreadable};
use super::helpers;
use crate::model::{alive, Linked, Node, NodeState, Value};

/// Limits every script runs under; a runaway script is stopped, not waited for. Each rule
/// set has its own; none may exceed [`Limits::CEILING`] (a manifest asking more is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Operations per evaluation of one rule on one fact.
    pub max_operations: u64,
    /// Milliseconds per evaluation of one rule on one fact.
    pub max_milliseconds: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Nesting of expressions.
    pub max_expr_depth: usize,
    /// Characters of a string a script builds.
    pub max_string_size: usize,
    /// Items of an array a script builds.
    pub max_array_size: usize,
    /// Entries of a map a script builds.
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 50_000,
            max_milliseconds: 200,
            max_call_levels: 16,
            max_expr_depth: 64,
            max_string_size: 10_000,
            max_array_size: 10_000,
            max_map_size: 1_000,
        }
    }
}

impl Limits {
    /// The most any rule set may ask: beyond, a script could exhaust the stack, the memory or
    /// the day.
    pub const CEILING: Limits = Limits {
        max_operations: 10_000_000,
        max_milliseconds: 10_000,
        max_call_levels: 64,
        max_expr_depth: 256,
        max_string_size: 10_000_000,
        max_array_size: 1_000_000,
        max_map_size: 100_000,
    };

    /// Each limit with its name, its value and its ceiling.
    pub fn named(&self) -> [(&'static str, u64, u64); 7] {
        let c = Limits::CEILING;
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        [
            ("max_operations", self.max_operations, c.max_operations),
            (
                "max_milliseconds",
                self.max_milliseconds,
                c.max_milliseconds,
            ),
            (
                "max_call_levels",
                n(self.max_call_levels),
                n(c.max_call_levels),
            ),
            (
                "max_expr_depth",
                n(self.max_expr_depth),
                n(c.max_expr_depth),
            ),
            (
                "max_string_size",
                n(self.max_string_size),
                n(c.max_string_size),
            ),
            (
                "max_array_size",
                n(self.max_array_size),
                n(c.max_array_size),
            ),
            ("max_map_size", n(self.max_map_size), n(c.max_map_size)),
        ]
    }

    /// These limits, none above the ceiling nor at zero.
    pub fn capped(&self) -> Limits {
        let c = Limits::CEILING;
        Limits {
            max_operations: self.max_operations.clamp(1, c.max_operations),
            max_milliseconds: self.max_milliseconds.clamp(1, c.max_milliseconds),
            max_call_levels: self.max_call_levels.clamp(1, c.max_call_levels),
            max_expr_depth: self.max_expr_depth.clamp(1, c.max_expr_depth),
            max_string_size: self.max_string_size.clamp(1, c.max_string_size),
            max_array_size: self.max_array_size.clamp(1, c.max_array_size),
            max_map_size: self.max_map_size.clamp(1, c.max_map_size),
        }
    }

    /// The time a rule may take on one fact.
    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.max_milliseconds)
    }
}

thread_local! {
    /// When the script running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Starts the clock of the next script run on this thread.
pub fn start_clock(budget: Duration) {
    DEADLINE.with(|d| d.set(Instant::now().checked_add(budget)));
}

/// Operations between two looks at the clock.
const CLOCK_EVERY: u64 = 1024;

/// A node (or its closing record) as rules see it.
#[derive(Debug, Clone)]
pub struct Fact {
    pub node: Arc<Node>,
    /// Reads the node's closing record instead of its opening one (`lot.fin`).
    pub close: bool,
}

impl Fact {
    pub fn new(node: Arc<Node>) -> Fact {
        Fact { node, close: false }
    }

    fn record_name(&self) -> &str {
        let rec = if self.close {
            self.node.close.as_ref()
        } else {
            self.node.open.as_ref()
        };
        rec.map_or(self.node.group.name.as_str(), |r| r.def.name.as_str())
    }

    /// Reads property `prop` (an id of `b`) named `name`.
    fn get(&self, b: &Bindings, prop: usize, name: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        let fact = |node: &Arc<Node>| Dynamic::from(Fact::new(Arc::clone(node)));
        Ok(match read(&self.node, self.close, b, prop) {
            Read::Value(v) => to_dynamic(v),
            Read::Int(i) => Dynamic::from(i),
            Read::Bool(v) => Dynamic::from(v),
            Read::Children(list) => Dynamic::from_array(list.iter().map(fact).collect()),
            Read::Single(child) => child.map_or(Dynamic::UNIT, fact),
            Read::Close(false) | Read::Link(None) => Dynamic::UNIT,
            Read::Close(true) => Dynamic::from(Fact {
                node: Arc::clone(&self.node),
                close: true,
            }),
            Read::Link(Some(Linked::One(other))) => fact(other),
            Read::Link(Some(Linked::Many(list))) => {
                Dynamic::from_array(alive(list).map(|o| Dynamic::from(Fact::new(o))).collect())
            }
            Read::Link(Some(Linked::Unreadable)) | Read::Unreadable => return Err(unreadable()),
            Read::Missing => {
                return Err(fault(format!(
                    "« {name} » n'existe pas sur un enregistrement {}",
                    self.record_name()
                )))
            }
        })
    }
}

/// What a property gives on a node (or its closing record), before it becomes a value of a
/// script: the one reading shared by the interpreter's getters and the compiled form.
#[derive(Debug, Clone, Copy)]
pub enum Read<'a> {
    /// A field of the record.
    Value(&'a Value),
    /// A computed number (`records`, `occurrence`, `line`).
    Int(i64),
    /// A computed yes/no (`intact`).
    Bool(bool),
    /// A list of children.
    Children(&'a [Arc<Node>]),
    /// The child of a `single` group, if any.
    Single(Option<&'a Arc<Node>>),
    /// The closing record: whether it was read.
    Close(bool),
    /// A join's result, `None` when the node takes no part in it.
    Link(Option<&'a Linked>),
    /// A field a fault made unreadable.
    Unreadable,
    /// No such property on this record or group.
    Missing,
}

/// Reads property `prop` (an id of `b`) on `node`'s opening record, or its closing one.
pub fn read<'a>(node: &'a Node, close: bool, b: &Bindings, prop: usize) -> Read<'a> {
    let rec = if close {
        node.close.as_ref()
    } else {
        node.open.as_ref()
    };
    match rec {
        Some(r) => {
            if let Some(i) = b.field_slot(r.def.id, prop) {
                if r.is_faulty(i) {
                    return Read::Unreadable;
                }
                if let Some(v) = r.values.get(i) {
                    return Read::Value(v);
                }
            }
        }
        // The opening record could not be read at all: its fields are unreadable.
        None if !close && b.is_open_field(node.group.id, prop) => return Read::Unreadable,
        None => {}
    }
    if close {
        return Read::Missing;
    }
    match b.group_prop(node.group.id, prop) {
        GroupProp::Children(ci) => {
            Read::Children(node.children.get(ci).map_or(&[][..], Vec::as_slice))
        }
        GroupProp::Single(ci) => Read::Single(node.children.get(ci).and_then(|c| c.first())),
        GroupProp::Close => Read::Close(node.close.is_some()),
        GroupProp::Records => Read::Int(i64::from(node.records)),
        GroupProp::Occurrence => Read::Int(i64::from(node.occurrence)),
        GroupProp::Line => Read::Int(i64::from(node.line)),
        GroupProp::Intact => Read::Bool(node.state == NodeState::Sound),
        GroupProp::Link(slot) => Read::Link(node.links.get(slot).and_then(|l| l.get())),
        GroupProp::None => Read::Missing,
    }
}

/// A field value as a script sees it: absent → `()`, text → string, amounts → integer cents.
pub fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Absent => Dynamic::UNIT,
        Value::Text(s) => Dynamic::from(ImmutableString::from(&**s)),
        Value::Int(i) => Dynamic::from(*i),
        Value::Date(d) => Dynamic::from(*d),
        Value::Bool(b) => Dynamic::from(*b),
    }
}

/// Builds an engine knowing every property of `bindings`, the helpers, and `limits`.
pub fn build(bindings: &Arc<Bindings>, limits: &Limits) -> Engine {
    let mut e = Engine::new();
    e.set_optimization_level(OptimizationLevel::Simple)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size);
    // Stopped by time as well as by operations: a script under its operation limit can still
    // build huge values slowly.
    e.on_progress(|ops| {
        if ops % CLOCK_EVERY != 0 {
            return None;
        }
        let late = DEADLINE
            .with(|d| d.get())
            .is_some_and(|d| Instant::now() > d);
        late.then_some(Dynamic::UNIT)
    });
    e.on_print(|_| {}).on_debug(|_, _, _| {});
    // A rule must be readable as written: `eval` would escape every check.
    e.disable_symbol("eval");
    e.register_type_with_name::<Fact>("Fact");
    for (id, name) in bindings.names.iter().enumerate() {
        let name_c = name.clone();
        let b = Arc::clone(bindings);
        e.register_get(name, move |f: &mut Fact| f.get(&b, id, &name_c));
    }
    register_fact_helpers(&mut e, bindings);
    helpers::register(&mut e);
    e
}

fn prop_id(b: &Bindings, name: &str) -> Result<usize, Box<EvalAltResult>> {
    b.id(name)
        .ok_or_else(|| fault(format!("aucune grammaire n'a de champ « {name} »")))
}

/// Native helpers over facts and lists of facts, so loops run in Rust.
fn register_fact_helpers(e: &mut Engine, bindings: &Arc<Bindings>) {
    let i = Arc::clone(bindings);
    e.register_fn(
        "count",
        move |f: &mut Fact, list: &str| -> Result<i64, Box<EvalAltResult>> {
            match i.group_prop(f.node.group.id, prop_id(&i, list)?) {
                GroupProp::Children(ci) | GroupProp::Single(ci) => {
                    Ok(f.node.counts.get(ci).copied().map_or(0, i64::from))
                }
                _ => Err(fault(format!(
                    "« {list} » n'est pas une liste de {}",
                    f.node.group.name
                ))),
            }
        },
    );
    let i = Arc::clone(bindings);
    e.register_fn(
        "sum",
        move |list: &mut Array, field: &str| -> Result<i64, Box<EvalAltResult>> {
            let id = prop_id(&i, field)?;
            let mut total = 0i64;
            for item in list.iter() {
                let v = read_fact(item, |f| f.get(&i, id, field))?;
                if let Ok(n) = v.as_int() {
                    total = total
                        .checked_add(n)
                        .ok_or_else(|| fault(format!("sum : « {field} » dépasse la capacité")))?;
                } else if !v.is_unit() {
                    return Err(fault(format!("sum : « {field} » n'est pas un nombre")));
                }
            }
            Ok(total)
        },
    );
    for (name, want_max) in [("min", false), ("max", true)] {
        let i = Arc::clone(bindings);
        e.register_fn(
            name,
            move |list: &mut Array, field: &str| -> Result<Dynamic, Box<EvalAltResult>> {
                let id = prop_id(&i, field)?;
                let mut best: Option<Dynamic> = None;
                for item in list.iter() {
                    let v = read_fact(item, |f| f.get(&i, id, field))?;
                    if v.is_unit() {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some(b) => {
                            let ord = compare(&v, b, field)?;
                            ord.is_gt() == want_max && ord.is_ne()
                        }
                    };
                    if better {
                        best = Some(v);
                    }
                }
                Ok(best.unwrap_or(Dynamic::UNIT))
            },
        );
    }
}

/// Runs `read` on the fact `d` holds, read in place (not copied out of the list).
fn read_fact<T>(
    d: &Dynamic,
    read: impl FnOnce(&Fact) -> Result<T, Box<EvalAltResult>>,
) -> Result<T, Box<EvalAltResult>> {
    match d.read_lock::<Fact>() {
        Some(fact) => read(&fact),
        None => Err(fault(
            "la liste doit contenir des faits (lignes, factures…)",
        )),
    }
}

fn compare(
    a: &Dynamic,
    b: &Dynamic,
    field: &str,
) -> Result<std::cmp::Ordering, Box<EvalAltResult>> {
    if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        return Ok(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (
        a.read_lock::<chrono::NaiveDate>(),
        b.read_lock::<chrono::NaiveDate>(),
    ) {
        return Ok(x.cmp(&y));
    }
    if let (Ok(x), Ok(y)) = (a.as_immutable_string_ref(), b.as_immutable_string_ref()) {
        return Ok(x.cmp(&y));
    }
    Err(fault(format!("« {field} » : valeurs non comparables")))
}
