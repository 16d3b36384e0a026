//! The values of the compiled form and Rhai's operators on them. Each operator gives what
//! Rhai gives for the types it covers (`rhai::func::builtin`, vigie's date operators); for
//! any other combination it bails, and Rhai decides.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::model::Node;

/// Why the compiled form gave up on a fact: the rule runs there in Rhai's interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

/// A value while a compiled rule runs. Texts and lists are borrowed from the facts.
#[derive(Debug, Clone)]
pub enum Val<'a> {
    Unit,
    Bool(bool),
    Int(i64),
    Date(NaiveDate),
    Str(Cow<'a, str>),
    /// A fact: a node, or its closing record (`true`).
    Fact(&'a Node, bool),
    /// A list of facts (`facture.lignes`): an array for Rhai.
    Facts(&'a [Arc<Node>]),
    /// The facts a join relates (`facture.pieces`), held while the rule runs.
    Linked(Vec<Arc<Node>>),
    Array(Vec<Val<'a>>),
    Map(Vec<(&'a str, Val<'a>)>),
}

/// The Rhai type a value has: values of different types are never equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Unit,
    Bool,
    Int,
    Date,
    Str,
    Fact,
    Array,
    Map,
}

impl Val<'_> {
    fn type_of(&self) -> Type {
        match self {
            Val::Unit => Type::Unit,
            Val::Bool(_) => Type::Bool,
            Val::Int(_) => Type::Int,
            Val::Date(_) => Type::Date,
            Val::Str(_) => Type::Str,
            Val::Fact(..) => Type::Fact,
            Val::Facts(_) | Val::Linked(_) | Val::Array(_) => Type::Array,
            Val::Map(_) => Type::Map,
        }
    }

    /// What Rhai's `type_of` names this value.
    pub fn type_name(&self) -> &'static str {
        match self.type_of() {
            Type::Unit => "()",
            Type::Bool => "bool",
            Type::Int => "i64",
            Type::Date => "Date",
            Type::Str => "string",
            Type::Fact => "Fact",
            Type::Array => "array",
            Type::Map => "map",
        }
    }

    /// The items of lists, the entries of maps and the bytes of texts in this value, nested
    /// ones included: the totals Rhai holds against a set's limits.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let nested = |v: &Val, (a, m, s): (usize, usize, usize)| {
            let (na, nm, ns) = v.sizes();
            (a + na, m + nm, s + ns)
        };
        match self {
            Val::Str(s) => (0, 0, s.len()),
            Val::Facts(list) => (list.len(), 0, 0),
            Val::Linked(list) => (list.len(), 0, 0),
            Val::Array(items) => items
                .iter()
                .fold((0, 0, 0), |(a, m, s), v| nested(v, (a + 1, m, s))),
            Val::Map(entries) => entries
                .iter()
                .fold((0, 0, 0), |(a, m, s), (_, v)| nested(v, (a, m + 1, s))),
            _ => (0, 0, 0),
        }
    }

    /// The boolean a condition or `!`, `&&`, `||` needs.
    pub fn truth(&self) -> Result<bool, Bail> {
        match self {
            Val::Bool(b) => Ok(*b),
            _ => Err(Bail),
        }
    }

    /// The text a helper taking a string needs.
    pub fn text(&self) -> Result<&str, Bail> {
        match self {
            Val::Str(s) => Ok(s),
            _ => Err(Bail),
        }
    }

    /// The integer a helper taking a number needs.
    pub fn int(&self) -> Result<i64, Bail> {
        match self {
            Val::Int(i) => Ok(*i),
            _ => Err(Bail),
        }
    }

    /// The date a helper taking a date needs.
    pub fn date(&self) -> Result<NaiveDate, Bail> {
        match self {
            Val::Date(d) => Ok(*d),
            _ => Err(Bail),
        }
    }
}

/// A comparison or arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Op {
    /// The operator Rhai names `name`.
    pub fn named(name: &str) -> Option<Op> {
        Some(match name {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Rem,
            _ => return None,
        })
    }
}

/// `a op b` as Rhai computes it; `max_string` bounds a text `+` builds.
pub fn apply<'a>(op: Op, a: Val<'a>, b: Val<'a>, max_string: usize) -> Result<Val<'a>, Bail> {
    match op {
        Op::Eq => equal(&a, &b).map(Val::Bool),
        Op::Ne => equal(&a, &b).map(|e| Val::Bool(!e)),
        Op::Lt => compare(&a, &b, Ordering::is_lt).map(Val::Bool),
        Op::Le => compare(&a, &b, Ordering::is_le).map(Val::Bool),
        Op::Gt => compare(&a, &b, Ordering::is_gt).map(Val::Bool),
        Op::Ge => compare(&a, &b, Ordering::is_ge).map(Val::Bool),
        Op::Add => add(a, b, max_string),
        Op::Sub | Op::Mul | Op::Div | Op::Rem => {
            let (x, y) = (a.int()?, b.int()?);
            let r = match op {
                Op::Sub => x.checked_sub(y),
                Op::Mul => x.checked_mul(y),
                Op::Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            r.map(Val::Int).ok_or(Bail)
        }
    }
}

/// `==`: values of one type compared, values of different types never equal (Rhai's
/// default), `() == ()`.
pub fn equal(a: &Val, b: &Val) -> Result<bool, Bail> {
    Ok(match (a, b) {
        (Val::Unit, Val::Unit) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Date(x), Val::Date(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        _ if a.type_of() != b.type_of() => false,
        // Facts, arrays and maps compared with each other: Rhai's own business.
        _ => return Err(Bail),
    })
}

/// `<`, `<=`, `>`, `>=`: numbers, texts and dates of one type; `()` with `()` and values of
/// different types are never ordered (Rhai's default: `false`).
fn compare(a: &Val, b: &Val, holds: fn(Ordering) -> bool) -> Result<bool, Bail> {
    let order = match (a, b) {
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        (Val::Date(x), Val::Date(y)) => x.cmp(y),
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Unit, Val::Unit) => return Ok(false),
        _ if a.type_of() != b.type_of() => return Ok(false),
        _ => return Err(Bail),
    };
    Ok(holds(order))
}

/// `+`: numbers add, texts join (`()` joined to a text gives the text).
fn add<'a>(a: Val<'a>, b: Val<'a>, max_string: usize) -> Result<Val<'a>, Bail> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => x.checked_add(y).map(Val::Int).ok_or(Bail),
        (Val::Str(x), Val::Str(y)) => {
            if x.len() + y.len() > max_string {
                return Err(Bail);
            }
            Ok(Val::Str(Cow::Owned(x.into_owned() + y.as_ref())))
        }
        (Val::Str(s), Val::Unit) | (Val::Unit, Val::Str(s)) => Ok(Val::Str(s)),
        _ => Err(Bail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Rhai answers for values of different types and for `()`, pinned.
    #[test]
    fn different_types_are_never_equal_nor_ordered() {
        let s = || Val::Str(Cow::Borrowed("a"));
        assert_eq!(equal(&s(), &Val::Unit), Ok(false));
        assert_eq!(equal(&Val::Int(0), &Val::Unit), Ok(false));
        assert_eq!(equal(&Val::Unit, &Val::Unit), Ok(true));
        assert_eq!(compare(&Val::Unit, &Val::Unit, Ordering::is_le), Ok(false));
        assert_eq!(compare(&s(), &Val::Int(1), Ordering::is_lt), Ok(false));
        assert_eq!(equal(&Val::Array(vec![]), &Val::Array(vec![])), Err(Bail));
        assert!(matches!(
            apply(Op::Add, Val::Unit, s(), 10),
            Ok(Val::Str(t)) if t == "a"
        ));
        assert_eq!(
            apply(Op::Div, Val::Int(1), Val::Int(0), 10).err(),
            Some(Bail)
        );
    }
}
