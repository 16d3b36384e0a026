//! The compiled form's tree: every name resolved when the rule set is loaded (locals to
//! slots, facts to their group, parameters to constants, properties to ids, helpers to Rust
//! functions), so that running it looks nothing up.

use chrono::NaiveDate;
use rhai::ImmutableString;

use super::val::Op;

/// A constant: a literal of the script or a parameter of the rule set.
#[derive(Debug, Clone)]
pub enum Const {
    Unit,
    Bool(bool),
    Int(i64),
    Date(NaiveDate),
    Str(ImmutableString),
    Array(Vec<Const>),
}

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Const(Const),
    /// A `let` of the script, by slot.
    Local(usize),
    /// The fact of the group of this name in the rule's chain (`facture`, `lot`).
    Fact(ImmutableString),
    /// A property of a fact, by id.
    Prop(Box<Expr>, usize),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Binary(Op, Box<(Expr, Expr)>),
    /// A helper or a method, its receiver first.
    Call(Call, Vec<Expr>),
    /// `list.push(x)` on a local list.
    Push(usize, Box<Expr>),
    Array(Vec<Expr>),
    Map(Vec<(ImmutableString, Expr)>),
    /// A block or an `if` used as a value.
    Block(Box<Block>),
    /// What the compiled form does not cover: reaching it runs the rule in Rhai.
    Bail,
}

/// Statements, the locals they declare dropped at the end.
#[derive(Debug, Clone, Default)]
pub struct Block(pub Vec<Stmt>);

/// A statement.
#[derive(Debug, Clone)]
pub enum Stmt {
    /// `let` (its slot is the next one).
    Let(Expr),
    Expr(Expr),
    If(Expr, Block, Block),
    /// `for x in list { … }`: `x` is the next slot.
    For(Expr, Block),
    Return(Expr),
}

/// The helpers and methods the compiled form runs itself (the same Rust functions Rhai
/// calls), each with the argument count it is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Len,
    IsEmpty,
    Contains,
    SubString,
    /// `list.sum("field")`, `min`, `max`: the field's property id.
    Sum(usize),
    Min(usize),
    Max(usize),
    ParseInt,
    NirWellFormed,
    NirKey,
    Luhn,
    RoundDiv,
    Euros,
    AddMonths,
    AddDays,
    DaysBetween,
    WorkingDaysAfter,
    TypeOf,
}

impl Call {
    /// The helper or method `name` called with `args` arguments (the receiver counted), when
    /// the compiled form runs it; `field` resolves the field a list helper names.
    pub fn named(name: &str, args: usize, field: impl Fn() -> Option<usize>) -> Option<Call> {
        Some(match (name, args) {
            ("len", 1) => Call::Len,
            ("is_empty", 1) => Call::IsEmpty,
            ("contains", 2) => Call::Contains,
            ("sub_string", 3) => Call::SubString,
            ("sum", 2) => Call::Sum(field()?),
            ("min", 2) => Call::Min(field()?),
            ("max", 2) => Call::Max(field()?),
            ("parse_int", 1) => Call::ParseInt,
            ("nir_well_formed", 1) => Call::NirWellFormed,
            ("nir_key", 1) => Call::NirKey,
            ("luhn", 1) => Call::Luhn,
            ("round_div", 2) => Call::RoundDiv,
            ("euros", 1) => Call::Euros,
            ("add_months", 2) => Call::AddMonths,
            ("add_days", 2) => Call::AddDays,
            ("days_between", 2) => Call::DaysBetween,
            ("working_days_after", 2) => Call::WorkingDaysAfter,
            ("type_of", 1) => Call::TypeOf,
            _ => return None,
        })
    }
}

impl Expr {
    /// Whether evaluating it may change a local (a `push`, a block): Rhai evaluates a call's
    /// arguments before it reads a variable receiver, so such an argument must not be lowered.
    pub fn changes_locals(&self) -> bool {
        match self {
            Expr::Push(..) | Expr::Block(_) => true,
            Expr::Const(_) | Expr::Local(_) | Expr::Fact(_) | Expr::Bail => false,
            Expr::Prop(e, _) | Expr::Not(e) | Expr::Neg(e) => e.changes_locals(),
            Expr::And(list) | Expr::Or(list) | Expr::Call(_, list) | Expr::Array(list) => {
                list.iter().any(Expr::changes_locals)
            }
            Expr::Binary(_, pair) => pair.0.changes_locals() || pair.1.changes_locals(),
            Expr::Map(entries) => entries.iter().any(|(_, e)| e.changes_locals()),
        }
    }

    /// Nodes in this expression: a bound on the operations Rhai counts to run it.
    pub fn size(&self) -> usize {
        1 + match self {
            Expr::Const(_) | Expr::Local(_) | Expr::Fact(_) | Expr::Bail => 0,
            Expr::Prop(e, _) | Expr::Not(e) | Expr::Neg(e) | Expr::Push(_, e) => e.size(),
            Expr::And(list) | Expr::Or(list) | Expr::Call(_, list) | Expr::Array(list) => {
                list.iter().map(Expr::size).sum()
            }
            Expr::Binary(_, pair) => pair.0.size() + pair.1.size(),
            Expr::Map(entries) => entries.iter().map(|(_, e)| e.size()).sum(),
            Expr::Block(b) => b.size(),
        }
    }
}

impl Block {
    /// Nodes in this block.
    pub fn size(&self) -> usize {
        self.0
            .iter()
            .map(|s| match s {
                Stmt::Let(e) | Stmt::Expr(e) | Stmt::Return(e) => 1 + e.size(),
                Stmt::If(c, yes, no) => 1 + c.size() + yes.size() + no.size(),
                Stmt::For(list, body) => 1 + list.size() + body.size(),
            })
            .sum()
    }

    /// Whether every path of this block bails at once (nothing compiled).
    pub fn is_bail(&self) -> bool {
        matches!(self.0.as_slice(), [Stmt::Expr(Expr::Bail)])
    }
}
