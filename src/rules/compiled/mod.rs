//! The compiled form of a rule. Its script is parsed and checked by Rhai (the language and
//! its error messages stay Rhai's), then lowered into vigie's own tree — locals to slots,
//! facts to their group, parameters to constants, properties to ids, helpers to the Rust
//! functions Rhai calls — and walked with texts and lists borrowed from the facts, without
//! Rhai's dynamic dispatch or a value copied into a `Dynamic`.
//!
//! It covers what rules do on every fact: reads, comparisons, arithmetic, `if`, `let`,
//! `return`, lists and maps, the helpers. Whatever it does not cover (loops, closures, a
//! function of the script, a fault in a field, a type Rhai would refuse) *bails*: the rule
//! then runs on that fact in Rhai's interpreter, which stays the reference. A rule is only
//! compiled when its size keeps it far below its set's operation limit, so that nothing Rhai
//! would stop runs to the end here. `tests/compiled.rs` proves both give the same outcomes.

mod code;
mod lower;
mod run;
mod val;

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Map, Scope, AST};

use crate::model::Node;
use crate::rules::bindings::Bindings;
use crate::rules::engine::Limits;
pub use val::Bail;
use val::Val;

/// Operations Rhai may count for one node of the tree, with a margin: it counts at most about
/// 4 (a statement or an operator 1, a call 2 and a method 4 besides their arguments, a property
/// step 2).
const OPERATIONS_PER_NODE: usize = 8;

/// A rule in compiled form.
#[derive(Debug, Clone)]
pub struct Compiled {
    block: code::Block,
    /// The operations Rhai could count running it once, loops aside.
    bound: u64,
}

impl Compiled {
    /// The compiled form of `ast`, a rule of the groups `facts` compiled against `scope`
    /// (its set's compile scope), `groups` every group name of the grammars; `None` when nothing of it is covered or it could come near
    /// `limits.max_operations`.
    pub fn new(
        ast: &AST,
        bindings: &Bindings,
        (facts, groups): (&[String], &[String]),
        scope: &Scope,
        limits: &Limits,
    ) -> Option<Compiled> {
        let env = lower::Env::new(bindings, facts, groups, scope);
        let block = lower::lower(ast, &env)?;
        let bound = operations(block.size());
        (bound <= limits.max_operations).then_some(Compiled { block, bound })
    }

    /// Runs the rule on the fact ending `chain`: its firings (details maps, as Rhai's value
    /// gives them), or a bail (also when a loop outlasts `budget`).
    pub fn run(
        &self,
        chain: &[Arc<Node>],
        bindings: &Bindings,
        limits: &Limits,
        budget: Duration,
    ) -> Result<Vec<Option<Map>>, Bail> {
        let mut frame = run::Frame {
            bindings,
            limits,
            chain,
            locals: Vec::new(),
            spent: self.bound,
            budget,
            deadline: None,
        };
        let value = frame.run(&self.block)?;
        let mut firings = Vec::new();
        fired(value, &mut firings)?;
        Ok(firings)
    }
}

/// The operations Rhai could count for `nodes` nodes of the tree.
fn operations(nodes: usize) -> u64 {
    u64::try_from(nodes.saturating_mul(OPERATIONS_PER_NODE)).unwrap_or(u64::MAX)
}

/// What a rule's value says, as the interpreter reads it: not fired (`false`, `()`), fired
/// (`true`, a details map), or an array of these.
fn fired(v: Val, out: &mut Vec<Option<Map>>) -> Result<(), Bail> {
    match v {
        Val::Unit | Val::Bool(false) => {}
        Val::Bool(true) => out.push(None),
        Val::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.into(), dynamic(v)?);
            }
            out.push(Some(map));
        }
        Val::Array(items) => {
            for item in items {
                fired(item, out)?;
            }
        }
        _ => return Err(Bail),
    }
    Ok(())
}

/// A value of a details map as the interpreter holds it.
fn dynamic(v: Val) -> Result<Dynamic, Bail> {
    Ok(match v {
        Val::Unit => Dynamic::UNIT,
        Val::Bool(b) => Dynamic::from(b),
        Val::Int(i) => Dynamic::from(i),
        Val::Date(d) => Dynamic::from(d),
        Val::Str(s) => Dynamic::from(rhai::ImmutableString::from(&*s)),
        Val::Array(items) => {
            Dynamic::from_array(items.into_iter().map(dynamic).collect::<Result<_, _>>()?)
        }
        Val::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.into(), dynamic(v)?);
            }
            Dynamic::from_map(map)
        }
        Val::Fact(..) | Val::Facts(_) | Val::Linked(_) => return Err(Bail),
    })
}
