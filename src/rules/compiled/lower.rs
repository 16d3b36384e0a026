//! Rhai's AST of a rule (parsed and optimised by Rhai) lowered into the compiled form. What
//! it does not cover becomes [`Expr::Bail`]: the rule still compiles, and runs in Rhai on the
//! facts where that part is reached.

use rhai::{
    ASTFlags, Dynamic, Expr as RExpr, FnCallExpr, ImmutableString, Scope, Stmt as RStmt, StmtBlock,
    AST,
};

use super::code::{Block, Call, Const, Expr, Stmt};
use super::val::Op;
use crate::rules::bindings::Bindings;

/// What a rule's names mean: its compile scope, the fact groups of its chain, and every
/// group name of the grammars (a fact of such a name may stand in the scope at run time).
pub struct Env<'e> {
    pub bindings: &'e Bindings,
    /// The groups of the rule's chain (`lot`, `facture`, `ligne`).
    pub facts: &'e [String],
    /// Every group name of the grammar set.
    pub groups: &'e [String],
    /// The scope's entries in order: a constant's value when the compiled form can hold it
    /// (parameters, `as_of`), `None` for a variable (`constats`, the facts).
    pub entries: Vec<(String, Option<Const>)>,
}

impl<'e> Env<'e> {
    /// The names of `scope` (a rule's compile scope) for a rule of chain `facts`.
    pub fn new(
        bindings: &'e Bindings,
        facts: &'e [String],
        groups: &'e [String],
        scope: &Scope,
    ) -> Env<'e> {
        let entries = scope
            .iter()
            .map(|(name, is_constant, value)| {
                (
                    name.to_string(),
                    is_constant.then(|| constant(&value)).flatten(),
                )
            })
            .collect();
        Env {
            bindings,
            facts,
            groups,
            entries,
        }
    }
}

/// The compiled form of `ast`; `None` when the script defines functions of its own (a named
/// one could stand for a helper) or nothing of it is covered.
pub fn lower(ast: &AST, env: &Env) -> Option<Block> {
    if ast.iter_functions().any(|f| !f.name.starts_with("anon$")) {
        return None;
    }
    let mut l = Lower {
        env,
        locals: Vec::new(),
    };
    let block = l.block(ast.statements());
    (!block.is_bail()).then_some(block)
}

/// A value of the set's scope as a constant of the compiled form.
fn constant(d: &Dynamic) -> Option<Const> {
    if d.is_unit() {
        return Some(Const::Unit);
    }
    if let Ok(b) = d.as_bool() {
        return Some(Const::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Some(Const::Int(i));
    }
    if let Ok(s) = d.as_immutable_string_ref() {
        return Some(Const::Str(s.clone()));
    }
    if let Some(date) = d.read_lock::<chrono::NaiveDate>() {
        return Some(Const::Date(*date));
    }
    if let Some(items) = d.read_lock::<rhai::Array>() {
        return items
            .iter()
            .map(constant)
            .collect::<Option<_>>()
            .map(Const::Array);
    }
    None
}

struct Lower<'e> {
    env: &'e Env<'e>,
    /// The `let`s (and `const`s: `true`) in force, by slot.
    locals: Vec<(ImmutableString, bool)>,
}

impl Lower<'_> {
    fn block(&mut self, stmts: &[RStmt]) -> Block {
        let depth = self.locals.len();
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            match self.stmt(s) {
                Some(s) => out.push(s),
                // Nothing after a statement that bails is reached in compiled form.
                None => {
                    out.push(Stmt::Expr(Expr::Bail));
                    break;
                }
            }
        }
        self.locals.truncate(depth);
        Block(out)
    }

    fn sub_block(&mut self, b: &StmtBlock) -> Block {
        self.block(b.statements())
    }

    fn stmt(&mut self, s: &RStmt) -> Option<Stmt> {
        Some(match s {
            RStmt::Noop(_) => Stmt::Expr(Expr::Const(Const::Unit)),
            RStmt::Expr(e) => Stmt::Expr(self.expr(e)),
            RStmt::FnCall(f, _) => Stmt::Expr(self.call(f)),
            RStmt::Block(b) => Stmt::Expr(Expr::Block(Box::new(self.sub_block(b)))),
            RStmt::If(fc, _) => {
                let cond = self.expr(&fc.expr);
                let yes = self.sub_block(&fc.body);
                let no = self.sub_block(&fc.branch);
                Stmt::If(cond, yes, no)
            }
            RStmt::Var(v, flags, _) => {
                let value = self.expr(&v.1);
                let constant = flags.contains(ASTFlags::CONSTANT);
                self.locals.push((v.0.name.clone(), constant));
                Stmt::Let(value)
            }
            // A loop without a counter: its operations are counted as it runs.
            RStmt::For(f, _) if f.1.is_none() => {
                let list = self.expr(&f.2.expr);
                self.locals.push((f.0.name.clone(), false));
                let body = self.sub_block(&f.2.body);
                self.locals.pop();
                Stmt::For(list, body)
            }
            RStmt::Return(e, flags, _) if *flags == ASTFlags::NONE => Stmt::Return(
                e.as_deref()
                    .map_or(Expr::Const(Const::Unit), |e| self.expr(e)),
            ),
            // Other loops, assignments, `throw`, `switch`, `try`.
            _ => return None,
        })
    }

    fn expr(&mut self, e: &RExpr) -> Expr {
        match e {
            RExpr::Unit(_) => Expr::Const(Const::Unit),
            RExpr::BoolConstant(b, _) => Expr::Const(Const::Bool(*b)),
            RExpr::IntegerConstant(i, _) => Expr::Const(Const::Int(*i)),
            RExpr::StringConstant(s, _) => Expr::Const(Const::Str(s.clone())),
            RExpr::DynamicConstant(d, _) => constant(d).map_or(Expr::Bail, Expr::Const),
            RExpr::Array(items, _) => Expr::Array(items.iter().map(|i| self.expr(i)).collect()),
            RExpr::Map(m, _) => Expr::Map(
                m.0.iter()
                    .map(|(k, v)| (k.name.clone(), self.expr(v)))
                    .collect(),
            ),
            RExpr::Variable(v, _, _) if v.2.is_empty() => self.variable(&v.1),
            RExpr::Dot(bin, flags, _) if *flags == ASTFlags::NONE => {
                let base = self.expr(&bin.lhs);
                self.dot(base, &bin.rhs)
            }
            RExpr::FnCall(f, _) => self.call(f),
            RExpr::And(list, _) => Expr::And(list.iter().map(|e| self.expr(e)).collect()),
            RExpr::Or(list, _) => Expr::Or(list.iter().map(|e| self.expr(e)).collect()),
            RExpr::Stmt(b) => Expr::Block(Box::new(self.sub_block(b))),
            _ => Expr::Bail,
        }
    }

    /// A name as Rhai finds it, the latest first: a `let`, then the scope's entries — a fact
    /// of the chain, a constant of the set (unless a fact of that name could stand above it at
    /// run time), a variable the compiled form does not hold.
    fn variable(&self, name: &str) -> Expr {
        if let Some(slot) = self.locals.iter().rposition(|(l, _)| l == name) {
            return Expr::Local(slot);
        }
        let is = |list: &[String]| list.iter().any(|g| g == name);
        match self.env.entries.iter().rev().find(|(n, _)| n == name) {
            Some(_) if is(self.env.facts) => Expr::Fact(name.into()),
            Some((_, Some(c))) if !is(self.env.groups) => Expr::Const(c.clone()),
            _ => Expr::Bail,
        }
    }

    /// `base.rhs`: a property, a method, or a chain of them.
    fn dot(&mut self, base: Expr, rhs: &RExpr) -> Expr {
        match rhs {
            RExpr::Property(p, _) => match self.env.bindings.id(&p.2) {
                Some(id) => Expr::Prop(Box::new(base), id),
                None => Expr::Bail,
            },
            RExpr::MethodCall(f, _) if f.namespace.is_empty() => {
                let mut args = Vec::with_capacity(f.args.len() + 1);
                args.push(base);
                args.extend(f.args.iter().map(|a| self.expr(a)));
                if args.iter().skip(1).any(Expr::changes_locals) {
                    return Expr::Bail;
                }
                if let ([Expr::Local(slot), item], "push") = (args.as_slice(), f.name.as_str()) {
                    let constant = self.locals.get(*slot).is_none_or(|(_, c)| *c);
                    return if constant {
                        // Rhai refuses to change a constant.
                        Expr::Bail
                    } else {
                        Expr::Push(*slot, Box::new(item.clone()))
                    };
                }
                self.helper(&f.name, &f.args, args)
            }
            RExpr::Dot(bin, flags, _) if *flags == ASTFlags::NONE => {
                let inner = self.dot(base, &bin.lhs);
                self.dot(inner, &bin.rhs)
            }
            _ => Expr::Bail,
        }
    }

    /// A function call: an operator, or a helper.
    fn call(&mut self, f: &FnCallExpr) -> Expr {
        if !f.namespace.is_empty() || f.capture_parent_scope {
            return Expr::Bail;
        }
        let mut args: Vec<Expr> = f.args.iter().map(|a| self.expr(a)).collect();
        if args.iter().any(Expr::changes_locals) {
            return Expr::Bail;
        }
        if f.op_token.is_some() {
            return match (f.name.as_str(), args.len()) {
                ("!", 1) => Expr::Not(Box::new(args.remove(0))),
                ("-", 1) => Expr::Neg(Box::new(args.remove(0))),
                (name, 2) => match Op::named(name) {
                    Some(op) => {
                        let b = args.remove(1);
                        Expr::Binary(op, Box::new((args.remove(0), b)))
                    }
                    None => Expr::Bail,
                },
                _ => Expr::Bail,
            };
        }
        self.helper(&f.name, &f.args, args)
    }

    /// The helper `name` on `args` (the receiver first for a method); `written` are the
    /// arguments as written, for the field a list helper names.
    fn helper(&self, name: &str, written: &[RExpr], args: Vec<Expr>) -> Expr {
        let field = || match written.last() {
            Some(RExpr::StringConstant(s, _)) => self.env.bindings.id(s),
            _ => None,
        };
        match Call::named(name, args.len(), field) {
            Some(call) => Expr::Call(call, args),
            None => Expr::Bail,
        }
    }
}
