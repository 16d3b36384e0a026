//! Decoded records and the nodes (lot, invoice, line…) the assembler builds from them.

use std::sync::{Arc, OnceLock, Weak};

use super::schema::{Grammar, GroupDef, RecordDef};
use super::value::Value;

/// Properties every node has besides its fields: a grammar may not name a field so.
pub const COMPUTED_PROPERTIES: [&str; 4] = ["records", "occurrence", "line", "intact"];

/// One decoded line: its type's definition, its values (in the definition's field order) and
/// the physical line it came from.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its record type.
    pub def: Arc<RecordDef>,
    /// Its values, in the record type's field order; a faulty field is `Absent`.
    pub values: Box<[Value]>,
    /// The physical line it was read from (1-based).
    pub line: u32,
    /// Bit `i` set: field `i` could not be read (a fault, not an empty zone).
    pub faulty: u128,
}

impl Record {
    /// A record of type `def` that could not be read at all: every field faulty.
    pub fn unreadable(def: Arc<RecordDef>, line: u32) -> Record {
        let values = vec![Value::Absent; def.fields.len()].into_boxed_slice();
        let faulty = (0..def.fields.len()).fold(0, |m, i| m | Record::fault_bit(i));
        Record {
            def,
            values,
            line,
            faulty,
        }
    }

    /// Whether field `i` could not be read.
    pub fn is_faulty(&self, i: usize) -> bool {
        self.faulty & Record::fault_bit(i) != 0
    }

    /// The mask of field `i`, to set in `faulty` (fields past the 128th are not marked).
    pub fn fault_bit(i: usize) -> u128 {
        u32::try_from(i)
            .ok()
            .and_then(|i| 1u128.checked_shl(i))
            .unwrap_or(0)
    }

    /// The value of the field called `name`, if this record type has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.def.field_index(name).and_then(|i| self.values.get(i))
    }
}

/// Whether a node may be analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Read without fault: every rule of its scope runs.
    Sound,
    /// Its own header or trailer is faulty or missing: its own rules are not evaluated, its
    /// readable children are (a lot whose `9` is damaged).
    ChecksDisabled,
    /// A fault inside makes it unreadable: no rule sees it or its children (an invoice with a
    /// bad line). It still exists for counters, duplicates and joins.
    Unreadable,
}

/// A group of records assembled following the grammar's nesting (a file, a lot, an invoice, a
/// line): its opening record, its children per child group, its closing record.
#[derive(Debug, Clone)]
pub struct Node {
    /// The group it is a node of.
    pub group: Arc<GroupDef>,
    /// The opening record, when the group has one and it was read.
    pub open: Option<Record>,
    /// The closing record, kept only when it was read without fault.
    pub close: Option<Record>,
    /// Children per child group, in `group.children` order. Empty for a streamed group.
    pub children: Vec<Vec<Arc<Node>>>,
    /// Children opened per child group, faulty ones included (kept for streamed groups too).
    pub counts: Vec<u32>,
    /// Physical records from the opening to the closing record, both included, faulty ones too.
    pub records: u32,
    /// Whether it may be analysed.
    pub state: NodeState,
    /// 1 for the first node with its key over the whole run, 2 for the first repeat…; 0 when
    /// the group has no key or the key could not be read.
    pub occurrence: u32,
    /// Physical line of the opening record (or of the first record seen).
    pub line: u32,
    /// 1-based rank among the parent's children of the same group (a line's number).
    pub rank: u32,
    /// The related nodes the joins give it, per link slot of its group (`facture.pieces`,
    /// `pj.facture`); unset when the node takes no part in the join (a repeated key). The
    /// joins (facts/join.rs) decide them; the node only holds them, so that every worker
    /// reads them without a lookup.
    pub links: Vec<OnceLock<Linked>>,
}

/// The nodes a join relates a node to.
#[derive(Debug, Clone)]
pub enum Linked {
    /// The indexed nodes with the same key (the PJ lines of an invoice), possibly none; one
    /// list may be shared by several nodes (the returns of one invoice). Weak:
    /// a PJ line points back to its invoice, so strong pointers both ways would never be
    /// freed; the unit read keeps them alive (`Unit::partners`).
    Many(Arc<[Weak<Node>]>),
    /// The one node this node belongs with (the invoice of a PJ line, the record of an
    /// organism for a doctor and year).
    One(Arc<Node>),
    /// A part of the key could not be read (a fault in this node's record or in a header
    /// above it): whether the other side exists is unknown.
    Unreadable,
}

impl Node {
    /// A node with no records yet.
    pub fn new(group: Arc<GroupDef>, line: u32) -> Node {
        let n = group.children.len();
        let links = (0..group.links.len()).map(|_| OnceLock::new()).collect();
        Node {
            links,
            group,
            open: None,
            close: None,
            children: vec![Vec::new(); n],
            counts: vec![0; n],
            records: 0,
            state: NodeState::Sound,
            occurrence: 0,
            line,
            rank: 1,
        }
    }

    /// The value of an opening-record field, `Absent` when missing.
    pub fn field(&self, name: &str) -> &Value {
        self.open
            .as_ref()
            .and_then(|r| r.get(name))
            .unwrap_or(&Value::Absent)
    }

    /// Whether opening-record field `name` could not be read: its record was unreadable, or
    /// that field was.
    pub fn field_faulty(&self, name: &str) -> bool {
        match &self.open {
            Some(r) => r.def.field_index(name).is_some_and(|i| r.is_faulty(i)),
            None => self.group.open.is_some(),
        }
    }

    /// A copy without children (an ancestor in a unit, a lot a PJ line points to).
    pub fn bare(&self) -> Node {
        Node {
            group: Arc::clone(&self.group),
            open: self.open.clone(),
            close: self.close.clone(),
            children: vec![Vec::new(); self.children.len()],
            counts: self.counts.clone(),
            records: self.records,
            state: self.state,
            occurrence: self.occurrence,
            line: self.line,
            rank: self.rank,
            links: self.links.clone(),
        }
    }

    /// Marks the node as damaged: a fragile group becomes unreadable, another one keeps its
    /// children but loses its own checks.
    pub fn damage(&mut self) {
        if self.group.fragile {
            self.state = NodeState::Unreadable;
        } else if self.state == NodeState::Sound {
            self.state = NodeState::ChecksDisabled;
        }
    }

    /// The index of child group `group` (an index of the grammar) in this node's lists.
    pub fn child_slot(&self, group: usize) -> Option<usize> {
        self.group.children.iter().position(|&c| c == group)
    }
}

/// The nodes of a link that are still alive.
pub fn alive(list: &[Weak<Node>]) -> impl Iterator<Item = Arc<Node>> + '_ {
    list.iter().filter_map(Weak::upgrade)
}

/// A unit of work for the rules: a node and everything under it, with the opening records of
/// its ancestors as context. Streamed groups hand each child over as one unit (a lot), then
/// themselves (the file, with counters but no children).
#[derive(Debug, Clone)]
pub struct Unit {
    /// The input it was read from.
    pub file: Arc<str>,
    /// The grammar of that input.
    pub grammar: Arc<Grammar>,
    /// Ancestors from the root down, without their children.
    pub ancestors: Vec<Arc<Node>>,
    /// The node handed over, with its children.
    pub node: Arc<Node>,
    /// The nodes of the other side of a join that its links point to, read back for it (and
    /// for the units read back with it) and kept alive as long as it is: a link to the held
    /// side is weak.
    pub partners: Option<Arc<[Arc<Node>]>>,
}
