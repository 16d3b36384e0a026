//! The generic assembler: decoded records in file order → nodes following the grammar's
//! nesting, with the recovery rules of formats/b2.md expressed generically:
//! - a record opens a child group, closes an open group, or is out of place;
//! - a record that belongs to an outer group closes the inner ones (their closer is missing);
//! - a fault inside a `fragile` group makes it unreadable, and its remaining records are
//!   skipped until a record of an outer group (or a sibling's opener) resynchronises;
//! - a fault in a non-fragile group's own records disables that group's own checks only;
//! - `match` fields must be repeated by the group's other records.

use std::sync::Arc;

use super::{subject_of, KeyTracker};
use crate::grammar::decode::{Decoded, LineFault};
use crate::model::{ErrorCode, Grammar, Node, NodeState, Outcome, Record, Unit, Value};

struct Open {
    node: Node,
    /// Unreadable: the group's records are skipped until resynchronisation.
    skipping: bool,
    /// The node without children, shared as context by streamed children.
    snapshot: Option<Arc<Node>>,
}

/// Where a record goes.
enum Target {
    /// Closes the open group at this stack depth.
    Close(usize),
    /// Opens a child (group index) of the open group at this stack depth.
    OpenChild(usize, usize),
}

/// Builds nodes from one file's records. Units are handed to `emit` as soon as they close.
pub struct Assembler<'t> {
    grammar: Arc<Grammar>,
    file: Arc<str>,
    keys: &'t mut KeyTracker,
    stack: Vec<Open>,
    ended: bool,
    /// Input errors found so far.
    pub errors: Vec<Outcome>,
    /// A group whose closing record never comes is closed without fault (records built by a
    /// rule case, which gives closing records only when a rule reads them).
    pub closers_optional: bool,
    /// The file's first record was unreadable (its error already tells the header is lost).
    header_faulted: bool,
}

impl<'t> Assembler<'t> {
    pub fn new(grammar: Arc<Grammar>, file: Arc<str>, keys: &'t mut KeyTracker) -> Self {
        let mut a = Assembler {
            grammar,
            file,
            keys,
            stack: Vec::new(),
            ended: false,
            errors: Vec::new(),
            closers_optional: false,
            header_faulted: false,
        };
        if let Some(root) = a.grammar.root().filter(|r| r.open.is_none()) {
            let root = Node::new(Arc::clone(root), 0);
            a.stack.push(Open {
                node: root,
                skipping: false,
                snapshot: None,
            });
        }
        a
    }

    fn error(&mut self, fault: &LineFault, line: u32) {
        let chain: Vec<&Node> = self.stack.iter().map(|o| &o.node).collect();
        let mut e = Outcome::error(
            fault.code,
            &self.file,
            Some(line),
            fault.column,
            fault.field.as_deref(),
            fault.message.clone(),
        );
        e.subject = subject_of(&chain);
        self.errors.push(e);
    }

    fn structure(&mut self, line: u32, column: Option<u32>, field: Option<&str>, message: String) {
        let f = LineFault {
            code: ErrorCode::Structure,
            column,
            field: field.map(str::to_string),
            message,
            expected: None,
        };
        self.error(&f, line);
    }

    /// Takes the next physical line.
    pub fn push(&mut self, d: Decoded, line: u32, emit: &mut impl FnMut(Unit)) {
        if self.ended {
            self.structure(
                line,
                Some(1),
                Some("type"),
                "enregistrement après la fin du fichier".into(),
            );
            return;
        }
        let Some(ri) = d.record_index else {
            self.header_faulted |= self.stack.is_empty();
            // Unknown type or unreadable layout: an error of the innermost group.
            for f in &d.faults {
                self.error(f, line);
            }
            self.count_all();
            if let Some(top) = self.stack.last_mut() {
                if top.node.group.fragile && !top.skipping {
                    top.node.state = NodeState::Unreadable;
                    top.skipping = true;
                }
            }
            return;
        };
        if self.stack.is_empty() {
            let Some(root_group) = self.grammar.root().map(Arc::clone) else {
                return;
            };
            let mut root = Node::new(Arc::clone(&root_group), line);
            if root_group.open == Some(ri) {
                // The file's header record.
                root.records = 1;
                for f in &d.faults {
                    self.error(f, line);
                }
                if !d.faults.is_empty() || d.record.is_none() {
                    root.state = NodeState::ChecksDisabled;
                }
                root.open = d.record;
                self.stack.push(Open {
                    node: root,
                    skipping: false,
                    snapshot: None,
                });
                return;
            }
            // No header: one error (unless the first line was already one, a damaged header),
            // the file's own checks are not made, and this record is read as usual.
            if !self.header_faulted {
                self.structure(
                    line,
                    Some(1),
                    Some("type"),
                    format!(
                        "fichier sans son enregistrement d'en-tête {} : ses propres contrôles ne sont pas faits",
                        record_name(&self.grammar, root_group.open.unwrap_or(0))
                    ),
                );
            }
            root.state = NodeState::ChecksDisabled;
            self.stack.push(Open {
                node: root,
                skipping: false,
                snapshot: None,
            });
        }
        let Some(target) = self.target(ri) else {
            self.out_of_place(ri, d, line);
            return;
        };
        let depth = match target {
            Target::Close(d) | Target::OpenChild(d, _) => d,
        };
        // Inside a skipped (unreadable) group: its own records are passed over.
        if let Some(skip_depth) = self.stack.iter().position(|o| o.skipping) {
            if depth >= skip_depth {
                for f in &d.faults {
                    self.error(f, line);
                }
                self.count_all();
                return;
            }
        }
        // Groups deeper than the target are closed: their closing record is missing.
        while self.stack.len() > depth + 1 {
            let optional = self.closers_optional;
            let Some(top) = self.stack.last_mut() else {
                break;
            };
            if top.node.group.close.is_some() && !top.skipping && !optional {
                let (name, closer) = (
                    top.node.group.name.clone(),
                    record_name(&self.grammar, top.node.group.close.unwrap_or(0)),
                );
                top.node.damage();
                self.structure(
                    line,
                    Some(1),
                    Some("type"),
                    format!("{name} sans son enregistrement de fin ({closer})"),
                );
            }
            self.pop(emit);
        }
        for f in &d.faults {
            self.error(f, line);
        }
        let faulty = !d.faults.is_empty() || d.record.is_none();
        match target {
            Target::Close(_) => {
                self.count_all();
                let mismatch = d.record.as_ref().and_then(|r| self.mismatch(depth, r));
                if let Some((field, column)) = &mismatch {
                    self.structure(
                        line,
                        Some(*column),
                        Some(field),
                        format!("champ {field} différent de celui de l'en-tête du groupe"),
                    );
                }
                if let Some(top) = self.stack.last_mut() {
                    if faulty || mismatch.is_some() {
                        top.node.damage();
                    } else {
                        top.node.close = d.record;
                    }
                }
                self.pop(emit);
                if self.stack.is_empty() {
                    self.ended = true;
                }
            }
            Target::OpenChild(_, c) => {
                let mismatch = d.record.as_ref().and_then(|r| self.mismatch(depth, r));
                self.count_all();
                if let Some((field, column)) = mismatch {
                    self.structure(line, Some(column), Some(&field), format!("champ {field} différent de celui de l'en-tête du groupe (enregistrement mal placé)"));
                    self.damage_from(depth);
                    return;
                }
                let Some(group) = self.grammar.group_at(c).map(Arc::clone) else {
                    return;
                };
                let Some(parent) = self.stack.last_mut() else {
                    return;
                };
                let Some(count) = parent
                    .node
                    .child_slot(c)
                    .and_then(|ci| parent.node.counts.get_mut(ci))
                else {
                    return;
                };
                *count += 1;
                let mut node = Node::new(Arc::clone(&group), line);
                node.rank = *count;
                node.records = 1;
                node.open = d.record;
                self.stack.push(Open {
                    node,
                    skipping: false,
                    snapshot: None,
                });
                self.assign_key();
                if faulty {
                    self.damage_from(self.stack.len() - 1);
                }
                let leaf = group.close.is_none() && group.children.is_empty();
                if leaf && !self.stack.last().is_some_and(|o| o.skipping) {
                    self.pop(emit);
                }
            }
        }
    }

    /// Closes everything at the end of the file.
    pub fn finish(mut self, emit: &mut impl FnMut(Unit)) -> Vec<Outcome> {
        let last_line = self
            .stack
            .first()
            .map(|o| o.node.line + o.node.records.saturating_sub(1))
            .unwrap_or(0);
        let optional = self.closers_optional;
        while let Some(top) = self.stack.last_mut() {
            if top.node.group.close.is_some() && !top.skipping && !optional {
                let (name, closer) = (
                    top.node.group.name.clone(),
                    record_name(&self.grammar, top.node.group.close.unwrap_or(0)),
                );
                top.node.damage();
                self.structure(
                    last_line,
                    None,
                    None,
                    format!("{name} sans son enregistrement de fin ({closer}) en fin de fichier"),
                );
            }
            self.pop(emit);
        }
        self.errors
    }

    fn target(&self, ri: usize) -> Option<Target> {
        for (d, open) in self.stack.iter().enumerate().rev() {
            let g = &open.node.group;
            if g.close == Some(ri) {
                return Some(Target::Close(d));
            }
            if let Some(&c) = g.children.iter().find(|&&c| {
                self.grammar
                    .group_at(c)
                    .is_some_and(|child| child.open == Some(ri))
            }) {
                return Some(Target::OpenChild(d, c));
            }
        }
        None
    }

    /// A record that belongs nowhere open (a `4` with no open invoice, a `9` with no lot).
    fn out_of_place(&mut self, ri: usize, d: Decoded, line: u32) {
        let name = record_name(&self.grammar, ri);
        self.structure(
            line,
            Some(1),
            Some("type"),
            format!("enregistrement {name} hors de sa place"),
        );
        for f in &d.faults {
            self.error(f, line);
        }
        self.count_all();
        // If it carries the match fields of a child group of the innermost open group, the last
        // such child with the same values is the one it belonged to: unreadable.
        let Some(record) = d.record else { return };
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        for (ci, &c) in top.node.group.children.clone().iter().enumerate() {
            let Some(child) = self.grammar.group_at(c) else {
                continue;
            };
            let belongs = child.close == Some(ri)
                || child.children.iter().any(|&cc| {
                    self.grammar
                        .group_at(cc)
                        .is_some_and(|g| g.open == Some(ri))
                });
            if !belongs || child.match_fields.is_empty() {
                continue;
            }
            let Some(list) = top.node.children.get_mut(ci) else {
                continue;
            };
            if let Some(last) = list.iter_mut().rev().find(|n| {
                child.match_fields.iter().all(|m| {
                    record
                        .get(m)
                        .is_some_and(|v| v != &Value::Absent && v == n.field(m))
                })
            }) {
                if let Some(n) = Arc::get_mut(last) {
                    n.state = NodeState::Unreadable;
                }
            }
        }
    }

    /// The first `match` field of the group at `depth` that `record` carries with another value.
    fn mismatch(&self, depth: usize, record: &Record) -> Option<(String, u32)> {
        let node = &self.stack.get(depth)?.node;
        node.group.match_fields.iter().find_map(|m| {
            let i = record.def.field_index(m)?;
            let (v, def) = (record.values.get(i)?, record.def.fields.get(i)?);
            (v != &Value::Absent && node.field(m) != &Value::Absent && v != node.field(m))
                .then(|| (m.clone(), def.column()))
        })
    }

    /// A fault in the node at `depth`: the nearest fragile group at or above it becomes
    /// unreadable and skipped; with none, the node itself loses its own checks.
    fn damage_from(&mut self, depth: usize) {
        let Some(chain) = self.stack.get_mut(..=depth) else {
            return;
        };
        if let Some(o) = chain.iter_mut().rev().find(|o| o.node.group.fragile) {
            o.node.state = NodeState::Unreadable;
            o.skipping = true;
        } else if let Some(o) = chain.last_mut() {
            o.node.damage();
        }
    }

    fn count_all(&mut self) {
        for o in &mut self.stack {
            o.node.records += 1;
        }
    }

    /// Gives the new top node its occurrence rank when its group has a key.
    fn assign_key(&mut self) {
        let chain: Vec<&Node> = self.stack.iter().map(|o| &o.node).collect();
        let occurrence = self.keys.occurrence(&chain);
        if let Some(top) = self.stack.last_mut() {
            top.node.occurrence = occurrence;
        }
    }

    /// A node whose opening record lost a `match` field to a fault takes it from its closing
    /// record, which repeats it (a lot's `n_ps` and `n_lot` from its `9`): its subject, its
    /// duplicate keys and its joins are then those of an intact node. Its own checks stay off.
    /// An opening record that could not be read at all (a wrong length) is repaired the same
    /// way, as a record whose every field is faulty.
    fn repair_from_closer(&self, node: &mut Node) -> bool {
        if node.close.is_none() || node.group.match_fields.is_empty() {
            return false;
        }
        if node.open.is_none() {
            let def = node.group.open.and_then(|ri| self.grammar.record_at(ri));
            node.open = def.map(|def| Record::unreadable(Arc::clone(def), node.line));
        }
        let (Some(open), Some(close)) = (node.open.as_mut(), node.close.as_ref()) else {
            return false;
        };
        let mut repaired = false;
        for m in &node.group.match_fields {
            let Some(i) = open.def.field_index(m) else {
                continue;
            };
            if !open.is_faulty(i) {
                continue;
            }
            let Some(v) = close.get(m).filter(|v| **v != Value::Absent) else {
                continue;
            };
            if let Some(slot) = open.values.get_mut(i) {
                *slot = v.clone();
                open.faulty &= !Record::fault_bit(i);
                repaired = true;
            }
        }
        repaired
    }

    /// Gives the duplicate occurrence a repaired node and its descendants could not get when
    /// they opened (their key read a field the repair restored), in file order.
    fn assign_missing_keys(&mut self, node: &mut Node) {
        let mut above: Vec<Node> = self.stack.iter().map(|o| o.node.bare()).collect();
        assign_keys(self.keys, &mut above, node);
    }

    /// Closes the innermost group: into its parent, or out as a unit.
    fn pop(&mut self, emit: &mut impl FnMut(Unit)) {
        let Some(open) = self.stack.pop() else { return };
        let mut node = open.node;
        if self.repair_from_closer(&mut node) {
            self.assign_missing_keys(&mut node);
        }
        match self.stack.last_mut() {
            Some(parent) if parent.node.group.stream => {
                let ancestors: Vec<Arc<Node>> = self
                    .stack
                    .iter_mut()
                    .map(|o| Arc::clone(o.snapshot.get_or_insert_with(|| Arc::new(o.node.bare()))))
                    .collect();
                emit(Unit {
                    file: Arc::clone(&self.file),
                    grammar: Arc::clone(&self.grammar),
                    ancestors,
                    node: Arc::new(node),
                    partners: None,
                });
            }
            Some(parent) => {
                let slot = parent.node.child_slot(node.group.index);
                if let Some(list) = slot.and_then(|ci| parent.node.children.get_mut(ci)) {
                    list.push(Arc::new(node));
                }
            }
            None => emit(Unit {
                file: Arc::clone(&self.file),
                grammar: Arc::clone(&self.grammar),
                ancestors: Vec::new(),
                node: Arc::new(node),
                partners: None,
            }),
        }
    }
}

/// The name of record type `ri` (empty for an index the grammar does not have).
fn record_name(grammar: &Grammar, ri: usize) -> String {
    grammar
        .record_at(ri)
        .map(|r| r.name.clone())
        .unwrap_or_default()
}

/// Assigns the occurrence of `node` and of its descendants that have none yet, depth first
/// (file order); `above` holds bare copies of the ancestors.
fn assign_keys(keys: &mut KeyTracker, above: &mut Vec<Node>, node: &mut Node) {
    if node.occurrence == 0 && !node.group.key.is_empty() {
        let occurrence = {
            let refs: Vec<&Node> = above.iter().chain(std::iter::once(&*node)).collect();
            keys.occurrence(&refs)
        };
        node.occurrence = occurrence;
    }
    above.push(node.bare());
    for list in &mut node.children {
        for child in list.iter_mut() {
            // Children are not shared until their unit is handed over.
            if let Some(c) = Arc::get_mut(child) {
                assign_keys(keys, above, c);
            }
        }
    }
    above.pop();
}
