//! Running the compiled form on one fact: a walk over the tree with the facts of the chain,
//! the rule's locals and the set's limits.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::ImmutableString;

use super::code::{Block, Call, Const, Expr, Stmt};
use super::val::{apply, equal, Bail, Val};
use crate::model::{alive, Linked, Node, Value};
use crate::rules::bindings::Bindings;
use crate::rules::engine::{read, Limits, Read};
use crate::rules::helpers::{calendar, dates, identifiers, money};

/// Where a compiled rule runs.
pub struct Frame<'a> {
    pub bindings: &'a Bindings,
    pub limits: &'a Limits,
    /// The facts, root first (the rule's own last).
    pub chain: &'a [Arc<Node>],
    /// The `let`s in force, by slot.
    pub locals: Vec<Val<'a>>,
    /// The operations Rhai could have counted so far: the rule bails before it could pass
    /// its set's limit (each turn of a loop adds its body).
    pub spent: u64,
    /// The time the rule may take; looked at by loops only (nothing else can last).
    pub budget: Duration,
    /// When the first loop must have ended, set when it starts.
    pub deadline: Option<Instant>,
}

/// Turns of a loop between two looks at the clock.
const TURNS_PER_CLOCK: usize = 256;

/// How a walk stops early: a `return`, or a bail.
pub enum Flow<'a> {
    Return(Val<'a>),
    Bail,
}

impl From<Bail> for Flow<'_> {
    fn from(_: Bail) -> Self {
        Flow::Bail
    }
}

type Walk<'a> = Result<Val<'a>, Flow<'a>>;

impl<'a> Frame<'a> {
    /// The value of `block`: its last statement's, or what it returns.
    pub fn run(&mut self, block: &'a Block) -> Result<Val<'a>, Bail> {
        match self.block(block) {
            Ok(v) | Err(Flow::Return(v)) => Ok(v),
            Err(Flow::Bail) => Err(Bail),
        }
    }

    fn block(&mut self, block: &'a Block) -> Walk<'a> {
        let depth = self.locals.len();
        let mut last = Val::Unit;
        for s in &block.0 {
            last = match s {
                Stmt::Let(e) => {
                    let v = self.expr(e)?;
                    self.locals.push(v);
                    Val::Unit
                }
                Stmt::Expr(e) => self.expr(e)?,
                Stmt::If(c, yes, no) => {
                    if self.expr(c)?.truth()? {
                        self.block(yes)?
                    } else {
                        self.block(no)?
                    }
                }
                Stmt::For(list, body) => {
                    self.each(list, body)?;
                    Val::Unit
                }
                Stmt::Return(e) => return Err(Flow::Return(self.expr(e)?)),
            };
        }
        self.locals.truncate(depth);
        Ok(last)
    }

    /// `for x in list { body }` over a list of facts or values.
    fn each(&mut self, list: &'a Expr, body: &'a Block) -> Result<(), Flow<'a>> {
        let items: Vec<Val<'a>> = match self.expr(list)? {
            Val::Facts(nodes) => nodes.iter().map(|n| Val::Fact(n, false)).collect(),
            Val::Array(items) => items,
            // Owned facts cannot be lent to the body: Rhai's business.
            _ => return Err(Flow::Bail),
        };
        let turn = super::operations(body.size() + 1);
        let deadline = *self
            .deadline
            .get_or_insert_with(|| Instant::now() + self.budget);
        for (n, item) in items.into_iter().enumerate() {
            self.spent = self.spent.saturating_add(turn);
            if self.spent > self.limits.max_operations {
                return Err(Flow::Bail);
            }
            // Out of time: Rhai runs the rule again on a clock of its own, and decides.
            if n % TURNS_PER_CLOCK == TURNS_PER_CLOCK - 1 && Instant::now() > deadline {
                return Err(Flow::Bail);
            }
            self.locals.push(item);
            self.block(body)?;
            self.locals.pop();
        }
        Ok(())
    }

    fn expr(&mut self, e: &'a Expr) -> Walk<'a> {
        Ok(match e {
            Expr::Const(c) => self.fits(constant(c))?,
            Expr::Local(slot) => self.locals.get(*slot).cloned().ok_or(Bail)?,
            Expr::Fact(name) => {
                let node = self
                    .chain
                    .iter()
                    .rev()
                    .find(|n| n.group.name == name.as_str());
                Val::Fact(node.ok_or(Bail)?, false)
            }
            Expr::Prop(base, id) => {
                let base = self.expr(base)?;
                self.fits(self.property(&base, *id)?)?
            }
            Expr::Not(e) => Val::Bool(!self.expr(e)?.truth()?),
            Expr::Neg(e) => Val::Int(self.expr(e)?.int()?.checked_neg().ok_or(Bail)?),
            Expr::And(list) => {
                for e in list {
                    if !self.expr(e)?.truth()? {
                        return Ok(Val::Bool(false));
                    }
                }
                Val::Bool(true)
            }
            Expr::Or(list) => {
                for e in list {
                    if self.expr(e)?.truth()? {
                        return Ok(Val::Bool(true));
                    }
                }
                Val::Bool(false)
            }
            Expr::Binary(op, pair) => {
                let a = self.expr(&pair.0)?;
                let b = self.expr(&pair.1)?;
                apply(*op, a, b, self.limits.max_string_size)?
            }
            // The arms below live apart, so that the frame of this hot walk stays small.
            Expr::Call(call, args) => return self.helper(*call, args),
            Expr::Push(slot, item) => return self.push(*slot, item),
            Expr::Array(items) => return self.array(items),
            Expr::Map(entries) => return self.map(entries),
            Expr::Block(b) => self.block(b)?,
            Expr::Bail => return Err(Flow::Bail),
        })
    }

    /// A helper's call: at most 3 arguments (`Call::named`), so no list is allocated.
    #[inline(never)]
    fn helper(&mut self, call: Call, args: &'a [Expr]) -> Walk<'a> {
        let mut values = [Val::Unit, Val::Unit, Val::Unit];
        if args.len() > values.len() {
            return Err(Flow::Bail);
        }
        for (slot, a) in values.iter_mut().zip(args) {
            *slot = self.expr(a)?;
        }
        Ok(self.fits(self.call(call, values)?)?)
    }

    /// `list.push(item)` on the list of local `slot`.
    #[inline(never)]
    fn push(&mut self, slot: usize, item: &'a Expr) -> Walk<'a> {
        let item = self.expr(item)?;
        match self.locals.get_mut(slot) {
            Some(Val::Array(list)) => list.push(item),
            _ => return Err(Flow::Bail),
        }
        // The whole list is held against the limits after a push, as Rhai does.
        if self
            .locals
            .get(slot)
            .is_none_or(|list| self.too_large(list))
        {
            return Err(Flow::Bail);
        }
        Ok(Val::Unit)
    }

    /// `[a, b, …]`.
    #[inline(never)]
    fn array(&mut self, items: &'a [Expr]) -> Walk<'a> {
        let mut list = Vec::with_capacity(items.len());
        for i in items {
            list.push(self.expr(i)?);
        }
        Ok(self.fits(Val::Array(list))?)
    }

    /// `#{ key: value, … }`.
    #[inline(never)]
    fn map(&mut self, entries: &'a [(ImmutableString, Expr)]) -> Walk<'a> {
        let mut map = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            map.push((k.as_str(), self.expr(v)?));
        }
        Ok(self.fits(Val::Map(map))?)
    }

    /// `v`, unless its lists, maps or texts, nested ones counted, pass the set's limits
    /// (Rhai would stop the rule: it decides).
    fn fits(&self, v: Val<'a>) -> Result<Val<'a>, Bail> {
        if self.too_large(&v) {
            return Err(Bail);
        }
        Ok(v)
    }

    /// Whether `v`'s totals pass a limit of the set.
    fn too_large(&self, v: &Val) -> bool {
        match v {
            Val::Unit | Val::Bool(_) | Val::Int(_) | Val::Date(_) | Val::Fact(..) => return false,
            Val::Str(s) => return s.len() > self.limits.max_string_size,
            _ => {}
        }
        let (arrays, maps, strings) = v.sizes();
        let l = self.limits;
        arrays > l.max_array_size || maps > l.max_map_size || strings > l.max_string_size
    }

    /// Property `id` of `base`, as the interpreter's getter reads it.
    fn property(&self, base: &Val<'a>, id: usize) -> Result<Val<'a>, Bail> {
        let Val::Fact(node, close) = *base else {
            return Err(Bail);
        };
        Ok(match read(node, close, self.bindings, id) {
            Read::Value(v) => value(v),
            Read::Int(i) => Val::Int(i),
            Read::Bool(b) => Val::Bool(b),
            Read::Children(list) => Val::Facts(list),
            Read::Single(child) => child.map_or(Val::Unit, |c| Val::Fact(c, false)),
            Read::Close(true) => Val::Fact(node, true),
            Read::Close(false) | Read::Link(None) => Val::Unit,
            Read::Link(Some(Linked::One(other))) => Val::Fact(other, false),
            Read::Link(Some(Linked::Many(list))) => Val::Linked(alive(list).collect()),
            // Faults: the interpreter's business.
            Read::Link(Some(Linked::Unreadable)) | Read::Unreadable | Read::Missing => {
                return Err(Bail)
            }
        })
    }

    fn call(&self, call: Call, args: [Val<'a>; 3]) -> Result<Val<'a>, Bail> {
        let mut args = args.into_iter();
        let mut next = || args.next().ok_or(Bail);
        Ok(match call {
            Call::Len => match next()? {
                Val::Str(s) => Val::Int(count(s.chars().count())?),
                Val::Facts(list) => Val::Int(count(list.len())?),
                Val::Linked(list) => Val::Int(count(list.len())?),
                Val::Array(list) => Val::Int(count(list.len())?),
                Val::Map(map) => Val::Int(count(map.len())?),
                _ => return Err(Bail),
            },
            Call::IsEmpty => match next()? {
                Val::Str(s) => Val::Bool(s.is_empty()),
                Val::Facts(list) => Val::Bool(list.is_empty()),
                Val::Linked(list) => Val::Bool(list.is_empty()),
                Val::Array(list) => Val::Bool(list.is_empty()),
                Val::Map(map) => Val::Bool(map.is_empty()),
                _ => return Err(Bail),
            },
            Call::Contains => contains(next()?, &next()?)?,
            Call::SubString => sub_string(next()?, next()?.int()?, next()?.int()?)?,
            Call::Sum(id) => Val::Int(self.sum(&next()?, id)?),
            Call::Min(id) => self.extreme(&next()?, id, false)?,
            Call::Max(id) => self.extreme(&next()?, id, true)?,
            Call::ParseInt => Val::Int(next()?.text()?.trim().parse().map_err(|_| Bail)?),
            Call::NirWellFormed => Val::Bool(identifiers::nir_well_formed(next()?.text()?)),
            Call::NirKey => identifiers::nir_key(next()?.text()?).map_or(Val::Unit, Val::Int),
            Call::Luhn => Val::Bool(identifiers::luhn(next()?.text()?)),
            Call::RoundDiv => {
                Val::Int(money::round_div(next()?.int()?, next()?.int()?).map_err(|_| Bail)?)
            }
            Call::Euros => Val::Str(Cow::Owned(money::euros(next()?.int()?))),
            Call::AddMonths => {
                Val::Date(calendar::add_months(next()?.date()?, next()?.int()?).ok_or(Bail)?)
            }
            Call::AddDays => {
                Val::Date(calendar::add_days(next()?.date()?, next()?.int()?).ok_or(Bail)?)
            }
            Call::DaysBetween => {
                let (a, b) = (next()?.date()?, next()?.date()?);
                Val::Int((b - a).num_days())
            }
            Call::WorkingDaysAfter => {
                let (a, b) = (next()?.date()?, next()?.date()?);
                Val::Int(dates::working_days_after(a, b).map_err(|_| Bail)?)
            }
            Call::TypeOf => Val::Str(Cow::Borrowed(next()?.type_name())),
        })
    }

    /// The values of field `id` over a list of facts, absent ones left out.
    fn values(
        &self,
        list: &Val<'a>,
        id: usize,
    ) -> Result<impl Iterator<Item = Result<&'a Value, Bail>> + use<'a, '_>, Bail> {
        let Val::Facts(list) = *list else {
            return Err(Bail);
        };
        let bindings = self.bindings;
        Ok(list
            .iter()
            .map(move |n| match read(n, false, bindings, id) {
                Read::Value(v) => Ok(v),
                _ => Err(Bail),
            })
            .filter(|v| !matches!(v, Ok(Value::Absent))))
    }

    /// `list.sum(field)`, as the interpreter's helper adds.
    fn sum(&self, list: &Val<'a>, id: usize) -> Result<i64, Bail> {
        let mut total = 0i64;
        for v in self.values(list, id)? {
            match v? {
                Value::Int(n) => total = total.checked_add(*n).ok_or(Bail)?,
                _ => return Err(Bail),
            }
        }
        Ok(total)
    }

    /// `list.min(field)` or `list.max(field)`: the first of the least (greatest) values.
    fn extreme(&self, list: &Val<'a>, id: usize, want_max: bool) -> Result<Val<'a>, Bail> {
        let mut best: Option<&'a Value> = None;
        for v in self.values(list, id)? {
            let v = v?;
            let better = match best {
                None => true,
                Some(b) => {
                    let order = match (v, b) {
                        (Value::Int(x), Value::Int(y)) => x.cmp(y),
                        (Value::Date(x), Value::Date(y)) => x.cmp(y),
                        (Value::Text(x), Value::Text(y)) => x.cmp(y),
                        _ => return Err(Bail),
                    };
                    order.is_ne() && order.is_gt() == want_max
                }
            };
            if better {
                best = Some(v);
            }
        }
        Ok(best.map_or(Val::Unit, value))
    }
}

/// A count as Rhai's integer.
fn count(n: usize) -> Result<i64, Bail> {
    i64::try_from(n).map_err(|_| Bail)
}

fn constant(c: &Const) -> Val<'_> {
    match c {
        Const::Unit => Val::Unit,
        Const::Bool(b) => Val::Bool(*b),
        Const::Int(i) => Val::Int(*i),
        Const::Date(d) => Val::Date(*d),
        Const::Str(s) => Val::Str(Cow::Borrowed(s.as_str())),
        Const::Array(items) => Val::Array(items.iter().map(constant).collect()),
    }
}

/// A field value as the interpreter's `to_dynamic` gives it.
fn value(v: &Value) -> Val<'_> {
    match v {
        Value::Absent => Val::Unit,
        Value::Text(s) => Val::Str(Cow::Borrowed(s)),
        Value::Int(i) => Val::Int(*i),
        Value::Date(d) => Val::Date(*d),
        Value::Bool(b) => Val::Bool(*b),
    }
}

/// `list.contains(x)` (by `==`) or `text.contains(part)`.
fn contains<'a>(within: Val<'a>, x: &Val<'a>) -> Result<Val<'a>, Bail> {
    Ok(Val::Bool(match within {
        Val::Array(items) => {
            let mut found = false;
            for i in &items {
                if equal(i, x)? {
                    found = true;
                    break;
                }
            }
            found
        }
        Val::Str(s) => s.contains(x.text()?),
        _ => return Err(Bail),
    }))
}

/// `text.sub_string(start, len)` as Rhai cuts it, by characters, for a start from the
/// beginning (a negative start counts from the end: Rhai's business).
fn sub_string(text: Val<'_>, start: i64, len: i64) -> Result<Val<'_>, Bail> {
    let Val::Str(s) = text else {
        return Err(Bail);
    };
    let start = usize::try_from(start).map_err(|_| Bail)?;
    if s.is_empty() || len <= 0 {
        return Ok(Val::Str(Cow::Borrowed("")));
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let mut bounds = s
        .char_indices()
        .map(|(i, _)| i)
        .chain([s.len()])
        .skip(start);
    let Some(from) = bounds.next() else {
        return Ok(Val::Str(Cow::Borrowed("")));
    };
    let to = bounds.nth(len.saturating_sub(1)).unwrap_or(s.len());
    Ok(Val::Str(match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(from..to).ok_or(Bail)?),
        Cow::Owned(o) => Cow::Owned(o.get(from..to).ok_or(Bail)?.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(s: &str, start: i64, len: i64) -> String {
        match sub_string(Val::Str(Cow::Borrowed(s)), start, len) {
            Ok(Val::Str(s)) => s.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    /// `sub_string` as Rhai documents it: by characters, clamped at the end.
    #[test]
    fn sub_string_cuts_as_rhai_does() {
        assert_eq!(cut("hello, world!", 3, 4), "lo, ");
        assert_eq!(cut("751234567", 2, 1), "1");
        assert_eq!(cut("abc", 1, 10), "bc");
        assert_eq!(cut("abc", 3, 1), "");
        assert_eq!(cut("abc", 5, 1), "");
        assert_eq!(cut("abc", 0, 0), "");
        assert_eq!(cut("éàü", 1, 1), "à");
        assert!(sub_string(Val::Str(Cow::Borrowed("abc")), -1, 1).is_err());
    }
}
