//! What `vigie rules check` knows of a rule's world, and the faults a rule author can make in
//! it: a script that does not compile or uses `eval`, a call to a function vigie does not
//! register (as an expression or as a statement), a fact field that the grammars of the
//! rule's scope do not have (with the closest name), a date compared with a text (always
//! false), a `{placeholder}` in a message or guidance that nothing fills.
//!
//! Fact fields are checked by following what each variable holds: the groups of the rule's
//! scope chain (`lot`, `facture`…), their lists (`facture.lignes`), closing records
//! (`lot.fin`), joins (`facture.pieces`), `for` loops over lists and `let` copies.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

use super::bindings::{Bindings, GroupProp};
use super::manifest::{compile_scope, Rule, RuleSet};
use crate::diag::suggest::closest;
use crate::diag::{Doc, Fault, FaultKind, Spanned};
use crate::model::{
    FieldType, Grammar, GrammarSet, GroupDef, RecordDef, Span, COMPUTED_PROPERTIES,
};

/// What an expression holds, as far as a static reading can tell.
#[derive(Debug, Clone)]
enum Ty {
    Unknown,
    /// A node of a group.
    Node(Arc<Grammar>, Arc<GroupDef>),
    /// The closing record of a node of a group.
    Close(Arc<Grammar>, Arc<GroupDef>),
    /// A list of nodes of a group.
    List(Arc<Grammar>, Arc<GroupDef>),
    /// A date value.
    Date,
    /// Any other value.
    Value,
}

/// The rule's world: its set, its scope chain, what the grammars say of each group.
pub struct World<'a> {
    grammars: &'a GrammarSet,
    bindings: &'a Bindings,
    set: &'a RuleSet,
    /// The groups of the scope chain, root first, with their grammar.
    chain: Vec<(Arc<Grammar>, Arc<GroupDef>)>,
}

impl<'a> World<'a> {
    /// The world of a rule of `set` whose scope chain is `chain` (group names, root first).
    pub fn new(
        grammars: &'a GrammarSet,
        bindings: &'a Bindings,
        set: &'a RuleSet,
        chain: &[String],
    ) -> World<'a> {
        let grammar = set
            .grammars
            .iter()
            .filter_map(|g| grammars.get(g))
            .find(|g| chain.last().is_some_and(|last| g.group(last).is_some()));
        let chain = grammar
            .map(|g| {
                chain
                    .iter()
                    .filter_map(|n| g.group(n).map(|gr| (Arc::clone(g), Arc::clone(gr))))
                    .collect()
            })
            .unwrap_or_default();
        World {
            grammars,
            bindings,
            set,
            chain,
        }
    }

    fn names(&self) -> Vec<String> {
        self.chain.iter().map(|(_, g)| g.name.clone()).collect()
    }

    fn record(&self, g: &Grammar, index: Option<usize>) -> Option<Arc<RecordDef>> {
        index.and_then(|i| g.record_at(i)).cloned()
    }

    fn value_ty(f: &FieldType) -> Ty {
        match f {
            FieldType::Date(_) => Ty::Date,
            _ => Ty::Value,
        }
    }

    /// The target of link slot `slot` of `group`: the other side's group, and whether the
    /// property holds a list.
    fn link_target(&self, g: &Grammar, group: &GroupDef, slot: usize) -> Ty {
        for l in &self.grammars.links {
            for (me, other, many) in [(&l.from, &l.to, true), (&l.to, &l.from, false)] {
                if me.grammar == g.name && me.group == group.index && me.slot == Some(slot) {
                    let Some(og) = self.grammars.get(&other.grammar) else {
                        continue;
                    };
                    let Some(ogr) = og.group_at(other.group) else {
                        continue;
                    };
                    let (og, ogr) = (Arc::clone(og), Arc::clone(ogr));
                    return if many {
                        Ty::List(og, ogr)
                    } else {
                        Ty::Node(og, ogr)
                    };
                }
            }
        }
        for gather in &self.grammars.gathers {
            if gather.grammar.name == g.name {
                if let Some(m) = gather.members.iter().find(|m| m.slot == slot) {
                    if let Some(mg) = self.grammars.get(&m.grammar) {
                        if let Some(mgr) = mg.group_at(m.group) {
                            return Ty::Node(Arc::clone(mg), Arc::clone(mgr));
                        }
                    }
                }
            }
        }
        Ty::Unknown
    }

    /// Reading property `name` on `ty`: its type, or the names that could have been meant.
    fn property(&self, ty: &Ty, name: &str) -> Result<Ty, Vec<String>> {
        match ty {
            Ty::Node(g, group) => {
                if let Some(f) = self
                    .record(g, group.open)
                    .and_then(|r| r.field(name).map(|f| f.ty.clone()))
                {
                    return Ok(Self::value_ty(&f));
                }
                let prop = self
                    .bindings
                    .id(name)
                    .map(|id| self.bindings.group_prop(group.id, id));
                let child =
                    |ci: usize| group.children.get(ci).and_then(|&c| g.group_at(c)).cloned();
                match prop {
                    Some(GroupProp::Children(ci)) => {
                        Ok(child(ci).map_or(Ty::Unknown, |c| Ty::List(Arc::clone(g), c)))
                    }
                    Some(GroupProp::Single(ci)) => {
                        Ok(child(ci).map_or(Ty::Unknown, |c| Ty::Node(Arc::clone(g), c)))
                    }
                    Some(GroupProp::Close) => Ok(Ty::Close(Arc::clone(g), Arc::clone(group))),
                    Some(GroupProp::Link(slot)) => Ok(self.link_target(g, group, slot)),
                    Some(
                        GroupProp::Records
                        | GroupProp::Occurrence
                        | GroupProp::Line
                        | GroupProp::Intact,
                    ) => Ok(Ty::Value),
                    Some(GroupProp::None) | None => Err(self.readable(g, group)),
                }
            }
            Ty::Close(g, group) => {
                let rec = self.record(g, group.close);
                match rec.as_ref().and_then(|r| r.field(name)) {
                    Some(f) => Ok(Self::value_ty(&f.ty)),
                    None => Err(rec
                        .map(|r| r.fields.iter().map(|f| f.name.clone()).collect())
                        .unwrap_or_default()),
                }
            }
            _ => Ok(Ty::Unknown),
        }
    }

    /// Every property readable on a node of `group`.
    fn readable(&self, g: &Grammar, group: &GroupDef) -> Vec<String> {
        let mut names: Vec<String> = self
            .record(g, group.open)
            .map(|r| r.fields.iter().map(|f| f.name.clone()).collect())
            .unwrap_or_default();
        names.extend(
            group
                .children
                .iter()
                .filter_map(|&c| g.group_at(c))
                .map(|c| c.plural.clone()),
        );
        if group.close.is_some() {
            names.push(group.close_as.clone());
        }
        names.extend(group.links.iter().cloned());
        names.extend(COMPUTED_PROPERTIES.iter().map(|s| s.to_string()));
        names
    }

    /// The names a placeholder may take besides the script's details: subject keys, fields of
    /// the chain's records, parameters.
    fn placeholder_names(&self) -> HashSet<String> {
        let mut names = HashSet::new();
        for (g, group) in &self.chain {
            names.extend(group.subject.iter().map(|(k, _)| k.to_string()));
            for r in [group.open, group.close]
                .into_iter()
                .filter_map(|i| self.record(g, i))
            {
                names.extend(r.fields.iter().map(|f| f.name.clone()));
            }
        }
        names.extend(self.set.params.iter().map(|(k, _)| k.clone()));
        names
    }
}

/// Every fault of one rule: its script, then its texts (`texts`, located in `doc`).
pub fn script(
    engine: &Engine,
    calls: &Calls,
    world: &World,
    rule: &Rule,
    doc: &Doc,
    texts: &[&Spanned<String>],
) -> Vec<Fault> {
    let at = |kind, pos: Position, len: usize, msg: String| {
        let span = Span::new(
            pos.line().and_then(|l| u32::try_from(l).ok()).unwrap_or(1),
            pos.position()
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(1),
            u32::try_from(len).unwrap_or(1),
        );
        Fault::at(
            kind,
            &rule.script_path,
            &rule.source,
            span,
            format!("règle {} : {msg}", rule.code),
        )
    };
    let scope = compile_scope(world.set, &world.names(), NaiveDate::MIN);
    let ast = match engine.compile_with_scope(&scope, &rule.source) {
        Ok(ast) => ast,
        Err(e) => {
            let text = e.err_type().to_string();
            let kind = if text.contains("'eval'")
                || text.contains("eval") && rule.source.contains("eval")
            {
                FaultKind::Forbidden
            } else {
                FaultKind::Script
            };
            let msg = if kind == FaultKind::Forbidden {
                "`eval` est interdit dans une règle : le script doit être lisible tel quel"
                    .to_string()
            } else {
                text
            };
            return vec![at(kind, e.position(), 1, msg)];
        }
    };
    let mut faults = Vec::new();
    unknown_calls(calls, &ast, &mut |pos, bad| {
        let fault = match bad {
            BadCall::Eval => at(
                FaultKind::Forbidden,
                pos,
                2,
                "`eval` est interdit dans une règle, même par `Fn(\"eval\")`".into(),
            ),
            BadCall::Unknown(name) => at(
                FaultKind::UnknownFunction,
                pos,
                name.chars().count(),
                format!("fonction inconnue « {name} » (voir docs/rules.md)"),
            ),
            BadCall::Arity { name, given, takes } => at(
                FaultKind::UnknownFunction,
                pos,
                name.chars().count(),
                format!(
                    "« {name} » reçoit {given} argument(s) mais en prend {}",
                    takes
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(" ou ")
                ),
            ),
        };
        faults.push(fault);
    });
    let mut typer = Typer {
        world,
        vars: world
            .chain
            .iter()
            .map(|(g, gr)| (gr.name.clone(), Ty::Node(Arc::clone(g), Arc::clone(gr))))
            .collect(),
        faults: Vec::new(),
        detail_keys: HashSet::new(),
    };
    typer.block(ast.statements());
    for (kind, pos, len, msg) in std::mem::take(&mut typer.faults) {
        faults.push(at(kind, pos, len, msg));
    }
    let mut known = world.placeholder_names();
    known.extend(typer.detail_keys.iter().cloned());
    for t in texts {
        placeholders(doc, t, &known, rule, &mut faults);
    }
    faults
}

/// Calls every function call of `ast` (expressions and statements) that the engine and the
/// script itself do not define.
/// A call `rules check` refuses.
enum BadCall<'a> {
    /// A function vigie does not register, nor the script define.
    Unknown(&'a str),
    /// `eval`, through `Fn("eval")`.
    Eval,
    /// A registered function given a count of arguments none of its forms takes.
    Arity {
        name: &'a str,
        given: usize,
        takes: Vec<usize>,
    },
}

/// The functions an engine registers, and how many arguments each of their forms takes: read
/// once per load from the engine's signatures, then looked up for every call of every script.
pub struct Calls {
    known: HashSet<String>,
    arity: HashMap<String, HashSet<usize>>,
}

impl Calls {
    /// The calls `engine` knows.
    pub fn of(engine: &Engine) -> Calls {
        Calls {
            known: known_functions(engine),
            arity: arities(engine),
        }
    }
}

fn unknown_calls(calls: &Calls, ast: &AST, report: &mut dyn FnMut(Position, BadCall)) {
    let (known, arity) = (&calls.known, &calls.arity);
    let own: HashSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(f, pos) | Expr::MethodCall(f, pos))) => Some((f, *pos)),
            Some(ASTNode::Stmt(Stmt::FnCall(f, pos))) => Some((f, *pos)),
            _ => None,
        };
        if let Some((f, pos)) = call {
            if f.name == "Fn"
                && matches!(f.args.first(), Some(Expr::StringConstant(s, _)) if s.as_str() == "eval")
            {
                report(pos, BadCall::Eval);
            } else if f.op_token.is_none()
                && !known.contains(f.name.as_str())
                && !own.contains(f.name.as_str())
            {
                report(pos, BadCall::Unknown(f.name.as_str()));
            } else if let (Some(ASTNode::Expr(Expr::FnCall(..)) | ASTNode::Stmt(_)), Some(counts)) =
                (path.last(), arity.get(f.name.as_str()))
            {
                // A registered function called with a count of arguments none of its forms
                // takes (`luhn(a, b)`); method calls pass the object too and are left alone.
                if f.op_token.is_none()
                    && !own.contains(f.name.as_str())
                    && !counts.contains(&f.args.len())
                {
                    let mut takes: Vec<usize> = counts.iter().copied().collect();
                    takes.sort_unstable();
                    report(
                        pos,
                        BadCall::Arity {
                            name: f.name.as_str(),
                            given: f.args.len(),
                            takes,
                        },
                    );
                }
            }
        }
        true
    });
}

/// How many arguments each function the engine registers takes (all its overloads).
fn arities(engine: &Engine) -> HashMap<String, HashSet<usize>> {
    let mut out: HashMap<String, HashSet<usize>> = HashMap::new();
    for sig in engine.gen_fn_signatures(true) {
        let s = sig.trim_start_matches("pub ").trim_start_matches("fn ");
        let Some((name, rest)) = s.split_once('(') else {
            continue;
        };
        let mut depth = 0i32;
        let mut commas = 0usize;
        let mut params = String::new();
        for c in rest.chars() {
            match c {
                '(' | '<' | '[' => depth += 1,
                ')' if depth == 0 => break,
                ')' | '>' | ']' => depth -= 1,
                ',' if depth == 0 => commas += 1,
                _ => {}
            }
            params.push(c);
        }
        let count = if params.trim().is_empty() {
            0
        } else {
            commas + 1
        };
        out.entry(name.trim().to_string())
            .or_default()
            .insert(count);
    }
    out
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
        "throw",
    ] {
        names.insert(k.to_string());
    }
    names
}

type Found = (FaultKind, Position, usize, String);

/// Follows what variables hold through a script, and reports fact fields that do not exist
/// and dates compared with texts.
struct Typer<'w, 'a> {
    world: &'w World<'a>,
    vars: HashMap<String, Ty>,
    faults: Vec<Found>,
    /// Keys of the maps the script builds (its details, which fill placeholders).
    detail_keys: HashSet<String>,
}

impl Typer<'_, '_> {
    fn block(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Var(x, _, _) => {
                let ty = self.expr(&x.1);
                self.vars.insert(x.0.name.to_string(), ty);
            }
            Stmt::For(x, _) => {
                let (var, counter, flow) = &**x;
                let ty = match self.expr(&flow.expr) {
                    Ty::List(g, gr) => Ty::Node(g, gr),
                    _ => Ty::Unknown,
                };
                self.vars.insert(var.name.to_string(), ty);
                if let Some(c) = counter {
                    self.vars.insert(c.name.to_string(), Ty::Value);
                }
                self.block(flow.body.statements());
            }
            Stmt::If(flow, _)
            | Stmt::While(flow, _)
            | Stmt::Do(flow, _, _)
            | Stmt::TryCatch(flow, _) => {
                self.expr(&flow.expr);
                self.block(flow.body.statements());
                self.block(flow.branch.statements());
            }
            Stmt::Switch(x, _) => {
                self.expr(&x.0);
                for b in x.1.expressions.iter() {
                    self.expr(&b.lhs);
                    self.expr(&b.rhs);
                }
            }
            Stmt::Assignment(x) => {
                // `details.limite = …` or `details["ecart"] = …` builds a detail key.
                match &x.1.lhs {
                    Expr::Dot(d, _, _) => {
                        if let Expr::Property(p, _) = &d.rhs {
                            self.detail_keys.insert(p.2.to_string());
                        }
                    }
                    Expr::Index(i, _, _) => {
                        if let Expr::StringConstant(k, _) = &i.rhs {
                            self.detail_keys.insert(k.to_string());
                        }
                    }
                    _ => {}
                }
                self.expr(&x.1.lhs);
                self.expr(&x.1.rhs);
            }
            Stmt::FnCall(f, pos) => {
                self.call(&f.name, &f.args, *pos);
            }
            Stmt::Block(b) => self.block(b.statements()),
            Stmt::Expr(e) => {
                self.expr(e);
            }
            Stmt::BreakLoop(Some(e), _, _) | Stmt::Return(Some(e), _, _) => {
                self.expr(e);
            }
            _ => {}
        }
    }

    fn call(&mut self, name: &str, args: &[Expr], pos: Position) -> Ty {
        let tys: Vec<Ty> = args.iter().map(|a| self.expr(a)).collect();
        if matches!(name, "==" | "!=" | "<" | "<=" | ">" | ">=") {
            if let [a, b] = args {
                let text =
                    |e: &Expr| matches!(e, Expr::StringConstant(..) | Expr::InterpolatedString(..));
                let date = |i: usize| matches!(tys.get(i), Some(Ty::Date));
                if (date(0) && text(b)) || (date(1) && text(a)) {
                    self.faults.push((
                        FaultKind::DateComparedWithText,
                        pos,
                        name.len(),
                        "une date comparée à un texte est toujours fausse ; écrivez la date avec date(a, m, j)".into(),
                    ));
                }
            }
        }
        // sum/min/max/count over a list read a field by name: check the name.
        if let (Some(Ty::List(g, gr)), Some(Expr::StringConstant(field, fpos))) =
            (tys.first(), args.get(1))
        {
            if matches!(name, "sum" | "min" | "max") {
                self.check_field(&Ty::Node(Arc::clone(g), Arc::clone(gr)), field, *fpos);
            }
        }
        if let (Some(Ty::Node(..)), Some(Expr::StringConstant(list, lpos))) =
            (tys.first(), args.get(1))
        {
            if name == "count" {
                if let Some(ty) = tys.first() {
                    self.check_field(ty, list, *lpos);
                }
            }
        }
        Ty::Value
    }

    fn check_field(&mut self, on: &Ty, name: &str, pos: Position) -> Ty {
        match self.world.property(on, name) {
            Ok(t) => t,
            Err(candidates) => {
                let hint = closest(name, candidates.iter().map(String::as_str))
                    .map(|c| format!(" ; vouliez-vous dire « {c} » ?"))
                    .unwrap_or_default();
                let what = match on {
                    Ty::Node(_, g) => format!("un fait {}", g.name),
                    Ty::Close(_, g) => format!("l'enregistrement de fin d'un {}", g.name),
                    _ => "ce fait".into(),
                };
                self.faults.push((
                    FaultKind::UnknownField,
                    pos,
                    name.chars().count(),
                    format!("« {name} » n'existe pas sur {what}{hint}"),
                ));
                Ty::Unknown
            }
        }
    }

    fn expr(&mut self, e: &Expr) -> Ty {
        match e {
            Expr::Variable(x, _, _) => self.vars.get(x.1.as_str()).cloned().unwrap_or(Ty::Unknown),
            Expr::Dot(x, _, _) => {
                let base = self.expr(&x.lhs);
                self.chain(base, &x.rhs)
            }
            Expr::Index(x, _, _) => {
                let list = self.expr(&x.lhs);
                self.element(list, &x.rhs)
            }
            Expr::FnCall(f, pos) => self.call(&f.name, &f.args, *pos),
            Expr::MethodCall(f, _) => {
                for a in f.args.iter() {
                    self.expr(a);
                }
                Ty::Unknown
            }
            Expr::Map(x, _) => {
                for (id, v) in x.0.iter() {
                    self.detail_keys.insert(id.name.to_string());
                    self.expr(v);
                }
                Ty::Value
            }
            Expr::Array(items, _) | Expr::InterpolatedString(items, _) => {
                for i in items.iter() {
                    self.expr(i);
                }
                Ty::Value
            }
            Expr::And(items, _) | Expr::Or(items, _) | Expr::Coalesce(items, _) => {
                for i in items.iter() {
                    self.expr(i);
                }
                Ty::Value
            }
            Expr::Stmt(b) => {
                self.block(b.statements());
                Ty::Unknown
            }
            _ => Ty::Unknown,
        }
    }

    /// The right-hand side of a dot on a value of type `base`.
    fn chain(&mut self, base: Ty, rhs: &Expr) -> Ty {
        match rhs {
            Expr::Property(p, pos) => self.check_field(&base, p.2.as_str(), *pos),
            Expr::Dot(x, _, _) => {
                let next = self.step(base, &x.lhs);
                self.chain(next, &x.rhs)
            }
            Expr::Index(x, _, _) => {
                let list = self.step(base, &x.lhs);
                self.element(list, &x.rhs)
            }
            other => self.step(base, other),
        }
    }

    /// `list[index]` and what follows it (`list[0].field`: the chain goes on on the element).
    fn element(&mut self, list: Ty, rhs: &Expr) -> Ty {
        let item = match list {
            Ty::List(g, gr) => Ty::Node(g, gr),
            _ => Ty::Unknown,
        };
        match rhs {
            Expr::Dot(d, _, _) => {
                self.expr(&d.lhs);
                self.chain(item, &d.rhs)
            }
            Expr::Index(i, _, _) => {
                self.expr(&i.lhs);
                self.element(Ty::Unknown, &i.rhs)
            }
            index => {
                self.expr(index);
                item
            }
        }
    }

    fn step(&mut self, base: Ty, e: &Expr) -> Ty {
        match e {
            Expr::Property(p, pos) => self.check_field(&base, p.2.as_str(), *pos),
            Expr::MethodCall(f, _) => {
                for a in f.args.iter() {
                    self.expr(a);
                }
                if let (Ty::List(g, gr), Some(Expr::StringConstant(field, fpos))) =
                    (&base, f.args.first())
                {
                    if matches!(f.name.as_str(), "sum" | "min" | "max") {
                        self.check_field(&Ty::Node(Arc::clone(g), Arc::clone(gr)), field, *fpos);
                    }
                }
                if let (Ty::Node(..), Some(Expr::StringConstant(list, lpos))) =
                    (&base, f.args.first())
                {
                    if f.name == "count" {
                        self.check_field(&base, list, *lpos);
                    }
                }
                Ty::Unknown
            }
            other => {
                self.expr(other);
                Ty::Unknown
            }
        }
    }
}

/// Faults for the `{placeholders}` of `text` that no name in `known` fills.
fn placeholders(
    doc: &Doc,
    text: &Spanned<String>,
    known: &HashSet<String>,
    rule: &Rule,
    faults: &mut Vec<Fault>,
) {
    let mut rest = text.value.as_str();
    while let Some(start) = rest.find('{') {
        let after = rest.get(start + 1..).unwrap_or_default();
        let Some(end) = after.find('}') else { break };
        let name = after.get(..end).unwrap_or_default();
        if !known.contains(name) {
            let hint = closest(name, known.iter().map(String::as_str))
                .map(|c| format!(" ; vouliez-vous dire « {c} » ?"))
                .unwrap_or_default();
            faults.push(doc.fault(
                FaultKind::UnknownPlaceholder,
                placeholder_span(doc, text.span, name),
                format!(
                    "règle {} : « {{{name}}} » ne correspond à aucun champ, paramètre, clé de sujet ni détail du script{hint}",
                    rule.code
                ),
            ));
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
}

/// Where `{name}` is written, when it is on the text's first line; the text's start otherwise.
fn placeholder_span(doc: &Doc, text: Span, name: &str) -> Span {
    let needle = format!("{{{name}}}");
    let line = usize::try_from(text.line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .and_then(|l| doc.text.lines().nth(l));
    let from = usize::try_from(text.column.saturating_sub(1)).unwrap_or(0);
    let found = line.and_then(|l| {
        let tail: String = l.chars().skip(from).collect();
        tail.find(&needle)
            .map(|byte| tail.get(..byte).map_or(0, |p| p.chars().count()))
    });
    match found {
        Some(offset) => Span::new(
            text.line,
            text.column
                .saturating_add(u32::try_from(offset).unwrap_or(0)),
            u32::try_from(needle.chars().count()).unwrap_or(1),
        ),
        None => text,
    }
}
