//! A node as bytes and back, every field a rule can read kept exactly: its records and their
//! faults, its children, counters, state, occurrence, line, rank and join cells. The held side
//! of the joins (facts/held.rs) stashes nodes this way (facts/stash.rs).
//!
//! A node that has an id of the held side is written alone: its parent names it by that id,
//! and its join cells stay in memory (they are set after it was stashed). A node without an id
//! (an invoice a PJ line points to) carries its cells.

use std::io;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};

use crate::model::{Grammar, GrammarSet, Node, NodeState, Record, Value};

/// A join cell as it is kept out of the node (`Node::links` holds the nodes themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The node takes no part in that join.
    Unset,
    /// A part of the key could not be read.
    Unreadable,
    /// The held nodes of these ids (the PJ lines of an invoice).
    Many(Arc<[u32]>),
    /// The held node of this id.
    Held(u32),
    /// A node stashed at this offset (the invoice of a PJ line).
    Parked(u64),
}

/// The cells a node carries, by slot (unset ones left out).
pub type Cells = Vec<(usize, Cell)>;

const NO_ID: u32 = u32::MAX;

/// Writes `node` (of `grammar`, the `grammar_at`-th of its set) into `out`. `child_id` names
/// the children written alone; `cells` gives the cells of a node without an id.
pub fn write_node(
    out: &mut Vec<u8>,
    (grammar_at, grammar): (usize, &Grammar),
    node: &Node,
    id: Option<u32>,
    child_id: &dyn Fn(&Node) -> Option<u32>,
    cells: &dyn Fn(&Node) -> Cells,
) -> io::Result<()> {
    put_u16(out, grammar_at)?;
    write_tree(out, grammar, node, id, child_id, cells)
}

fn write_tree(
    out: &mut Vec<u8>,
    grammar: &Grammar,
    node: &Node,
    id: Option<u32>,
    child_id: &dyn Fn(&Node) -> Option<u32>,
    cells: &dyn Fn(&Node) -> Cells,
) -> io::Result<()> {
    out.extend_from_slice(&id.unwrap_or(NO_ID).to_le_bytes());
    put_u16(out, node.group.index)?;
    for n in [node.records, node.occurrence, node.line, node.rank] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.push(match node.state {
        NodeState::Sound => 0,
        NodeState::ChecksDisabled => 1,
        NodeState::Unreadable => 2,
    });
    put_u16(out, node.counts.len())?;
    for c in &node.counts {
        out.extend_from_slice(&c.to_le_bytes());
    }
    for rec in [&node.open, &node.close] {
        write_record(out, grammar, rec.as_ref())?;
    }
    if id.is_none() {
        let cells = cells(node);
        put_u16(out, cells.len())?;
        for (slot, cell) in &cells {
            put_u16(out, *slot)?;
            write_cell(out, cell)?;
        }
    }
    put_u16(out, node.children.len())?;
    for list in &node.children {
        put_u32(out, list.len())?;
        for child in list {
            match child_id(child) {
                Some(id) => {
                    out.push(1);
                    out.extend_from_slice(&id.to_le_bytes());
                }
                None => {
                    out.push(0);
                    write_tree(out, grammar, child, None, child_id, cells)?;
                }
            }
        }
    }
    Ok(())
}

fn write_record(out: &mut Vec<u8>, grammar: &Grammar, rec: Option<&Record>) -> io::Result<()> {
    let Some(rec) = rec else {
        out.push(0);
        return Ok(());
    };
    out.push(1);
    let def = grammar
        .records
        .iter()
        .position(|d| Arc::ptr_eq(d, &rec.def))
        .ok_or_else(|| invalid("type d'enregistrement hors de sa grammaire"))?;
    put_u16(out, def)?;
    out.extend_from_slice(&rec.line.to_le_bytes());
    out.extend_from_slice(&rec.faulty.to_le_bytes());
    put_u16(out, rec.values.len())?;
    for v in rec.values.iter() {
        match v {
            Value::Absent => out.push(0),
            Value::Text(t) => {
                out.push(1);
                put_u32(out, t.len())?;
                out.extend_from_slice(t.as_bytes());
            }
            Value::Int(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Date(d) => {
                out.push(3);
                out.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
            }
            Value::Bool(b) => out.push(if *b { 5 } else { 4 }),
        }
    }
    Ok(())
}

fn write_cell(out: &mut Vec<u8>, cell: &Cell) -> io::Result<()> {
    match cell {
        Cell::Unset => out.push(0),
        Cell::Unreadable => out.push(1),
        Cell::Many(ids) => {
            out.push(2);
            put_u32(out, ids.len())?;
            for id in ids.iter() {
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
        Cell::Held(id) => {
            out.push(3);
            out.extend_from_slice(&id.to_le_bytes());
        }
        Cell::Parked(at) => {
            out.push(4);
            out.extend_from_slice(&at.to_le_bytes());
        }
    }
    Ok(())
}

fn put_u16(out: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let n = u16::try_from(n).map_err(|_| invalid("nombre trop grand"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let n = u32::try_from(n).map_err(|_| invalid("nombre trop grand"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// A node read back: the node (its cells unset), its id, the cells it carried.
pub struct ReadBack {
    /// The node, its join cells not set yet.
    pub node: Node,
    /// Its id of the held side, if it has one (its cells are kept there).
    pub id: Option<u32>,
    /// The cells it carried (a node without an id).
    pub cells: Cells,
}

/// Reads a node written by [`write_node`]. `child` gives the children written alone by
/// their id; the descendants read here that carry cells are added to `fills`, for the caller
/// to set once every node exists (cells may point back to the node being read).
pub fn read_node(
    bytes: &[u8],
    set: &GrammarSet,
    child: &mut dyn FnMut(u32) -> io::Result<Arc<Node>>,
    fills: &mut Vec<(Arc<Node>, Cells)>,
) -> io::Result<ReadBack> {
    let mut r = Reader { bytes };
    let grammar = set
        .grammars
        .get(usize::from(r.u16()?))
        .ok_or_else(|| invalid("grammaire inconnue"))?;
    let read = r.tree(grammar, child, fills)?;
    if !r.bytes.is_empty() {
        return Err(invalid("octets en trop"));
    }
    Ok(read)
}

struct Reader<'b> {
    bytes: &'b [u8],
}

impl<'b> Reader<'b> {
    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| invalid("données coupées"))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn slice(&mut self, n: usize) -> io::Result<&'b [u8]> {
        if n > self.bytes.len() {
            return Err(invalid("données coupées"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(u8::from_le_bytes(self.take()?))
    }

    fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn len(&mut self) -> io::Result<usize> {
        usize::try_from(self.u32()?).map_err(|_| invalid("longueur"))
    }

    fn tree(
        &mut self,
        grammar: &Grammar,
        child: &mut dyn FnMut(u32) -> io::Result<Arc<Node>>,
        fills: &mut Vec<(Arc<Node>, Cells)>,
    ) -> io::Result<ReadBack> {
        let id = Some(self.u32()?).filter(|&id| id != NO_ID);
        let group = grammar
            .groups
            .get(usize::from(self.u16()?))
            .ok_or_else(|| invalid("groupe inconnu"))?;
        let mut node = Node::new(Arc::clone(group), 0);
        node.records = self.u32()?;
        node.occurrence = self.u32()?;
        node.line = self.u32()?;
        node.rank = self.u32()?;
        node.state = match self.u8()? {
            0 => NodeState::Sound,
            1 => NodeState::ChecksDisabled,
            2 => NodeState::Unreadable,
            _ => return Err(invalid("état inconnu")),
        };
        let counts = usize::from(self.u16()?);
        node.counts.clear();
        for _ in 0..counts {
            node.counts.push(self.u32()?);
        }
        node.open = self.record(grammar)?;
        node.close = self.record(grammar)?;
        let mut cells = Vec::new();
        if id.is_none() {
            for _ in 0..self.u16()? {
                let slot = usize::from(self.u16()?);
                cells.push((slot, self.cell()?));
            }
        }
        let groups = usize::from(self.u16()?);
        node.children = Vec::with_capacity(groups);
        for _ in 0..groups {
            let n = self.len()?;
            let mut list = Vec::with_capacity(n.min(self.bytes.len()));
            for _ in 0..n {
                let c = match self.u8()? {
                    0 => {
                        let read = self.tree(grammar, child, fills)?;
                        let c = Arc::new(read.node);
                        if !read.cells.is_empty() {
                            fills.push((Arc::clone(&c), read.cells));
                        }
                        c
                    }
                    1 => child(self.u32()?)?,
                    _ => return Err(invalid("enfant inconnu")),
                };
                list.push(c);
            }
            node.children.push(list);
        }
        Ok(ReadBack { node, id, cells })
    }

    fn record(&mut self, grammar: &Grammar) -> io::Result<Option<Record>> {
        if self.u8()? == 0 {
            return Ok(None);
        }
        let def = grammar
            .records
            .get(usize::from(self.u16()?))
            .ok_or_else(|| invalid("type d'enregistrement inconnu"))?;
        let line = self.u32()?;
        let faulty = u128::from_le_bytes(self.take()?);
        let n = usize::from(self.u16()?);
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            values.push(self.value()?);
        }
        let values = values.into_boxed_slice();
        Ok(Some(Record {
            def: Arc::clone(def),
            values,
            line,
            faulty,
        }))
    }

    fn value(&mut self) -> io::Result<Value> {
        Ok(match self.u8()? {
            0 => Value::Absent,
            1 => {
                let n = self.len()?;
                let text = std::str::from_utf8(self.slice(n)?).map_err(|_| invalid("texte"))?;
                Value::Text(text.into())
            }
            2 => Value::Int(i64::from_le_bytes(self.take()?)),
            3 => NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(self.take()?))
                .map(Value::Date)
                .ok_or_else(|| invalid("date"))?,
            4 => Value::Bool(false),
            5 => Value::Bool(true),
            _ => return Err(invalid("valeur inconnue")),
        })
    }

    fn cell(&mut self) -> io::Result<Cell> {
        Ok(match self.u8()? {
            0 => Cell::Unset,
            1 => Cell::Unreadable,
            2 => {
                let n = self.len()?;
                let ids = (0..n.min(self.bytes.len()))
                    .map(|_| self.u32())
                    .collect::<io::Result<Arc<[u32]>>>()?;
                if ids.len() != n {
                    return Err(invalid("données coupées"));
                }
                Cell::Many(ids)
            }
            3 => Cell::Held(self.u32()?),
            4 => Cell::Parked(u64::from_le_bytes(self.take()?)),
            _ => return Err(invalid("cellule inconnue")),
        })
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("données de jointure mises de côté illisibles : {what}"),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::facts::read::Origin;
    use crate::facts::{read_file, KeyTracker};
    use crate::model::{Linked, Unit};

    /// Everything a rule can read of a node, its descendants and its cells, as text.
    fn shown(node: &Node) -> String {
        let cells: Vec<String> = node
            .links
            .iter()
            .map(|c| match c.get() {
                None => "-".into(),
                Some(Linked::Unreadable) => "?".into(),
                Some(Linked::Many(list)) => format!("{} nodes", list.len()),
                Some(Linked::One(n)) => format!("one {}", n.line),
            })
            .collect();
        let children: Vec<String> = node.children.iter().flatten().map(|c| shown(c)).collect();
        format!(
            "{} {:?} {:?} {:?} records={} state={:?} occ={} line={} rank={} counts={:?} cells={cells:?} [{}]",
            node.group.name,
            node.open.as_ref().map(|r| (&r.def.name, &r.values, r.line, r.faulty)),
            node.close.as_ref().map(|r| (&r.def.name, &r.values, r.line, r.faulty)),
            node.group.index,
            node.records,
            node.state,
            node.occurrence,
            node.line,
            node.rank,
            node.counts,
            children.join(", ")
        )
    }

    #[test]
    fn every_node_of_the_examples_and_the_damaged_samples_reads_back_as_it_was_written() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let set = crate::grammar::load::load(&root.join("grammars")).unwrap();
        let mut files: Vec<_> = ["examples", "tests/data/joins", "tests/data/broken"]
            .iter()
            .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
            .flatten()
            .flat_map(|e| {
                let p = e.unwrap().path();
                match std::fs::read_dir(&p) {
                    Ok(inner) => inner.map(|f| f.unwrap().path()).collect(),
                    Err(_) => vec![p],
                }
            })
            .collect();
        files.sort();
        let mut units: Vec<Unit> = Vec::new();
        let mut keys = KeyTracker::default();
        for f in &files {
            let origin = Origin::Path(f.clone());
            let Ok(grammar) = crate::facts::read::detect(&origin, &set, None) else {
                continue;
            };
            read_file(&origin, grammar, &mut keys, &AtomicU64::new(0), &mut |u| {
                units.push(u)
            });
        }
        assert!(units.len() > 100, "{} units", units.len());
        let mut nodes = 0;
        for u in &units {
            // A cell of each kind on the root, carried by the bytes.
            let cells: Cells = vec![
                (0, Cell::Unreadable),
                (1, Cell::Many(vec![3, 1, 4].into())),
                (2, Cell::Held(7)),
                (3, Cell::Parked(1 << 40 | 12)),
            ];
            let at = set
                .grammars
                .iter()
                .position(|g| Arc::ptr_eq(g, &u.grammar))
                .unwrap();
            let mut blob = Vec::new();
            write_node(
                &mut blob,
                (at, &u.grammar),
                &u.node,
                None,
                &|_| None,
                &|n| {
                    if std::ptr::eq(n, &*u.node) {
                        cells.clone()
                    } else {
                        Cells::new()
                    }
                },
            )
            .unwrap();
            let mut fills = Vec::new();
            let back = read_node(&blob, &set, &mut |_| unreachable!(), &mut fills).unwrap();
            assert_eq!(shown(&back.node), shown(&u.node));
            assert_eq!(back.cells, cells);
            assert_eq!(back.id, None);
            nodes += 1;
            // Cut short, the bytes are an error, never a panic or a shorter node.
            for cut in [1, blob.len() / 2, blob.len() - 1] {
                let short = blob.get(..cut).unwrap();
                assert!(read_node(short, &set, &mut |_| unreachable!(), &mut fills).is_err());
            }
        }
        assert_eq!(nodes, units.len());
    }

    #[test]
    fn a_child_written_alone_is_named_by_its_id() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let set = crate::grammar::load::load(&root.join("grammars")).unwrap();
        let origin = Origin::Path(root.join("examples/retour-01.noemie"));
        let grammar = crate::facts::read::detect(&origin, &set, None).unwrap();
        let mut units = Vec::new();
        let mut keys = KeyTracker::default();
        read_file(&origin, grammar, &mut keys, &AtomicU64::new(0), &mut |u| {
            units.push(u)
        });
        let unit = units.first().unwrap();
        let children: Vec<Arc<Node>> = unit.node.children.iter().flatten().cloned().collect();
        assert!(!children.is_empty());
        let at = set
            .grammars
            .iter()
            .position(|g| Arc::ptr_eq(g, &unit.grammar))
            .unwrap();
        let id_of = |n: &Node| {
            children
                .iter()
                .position(|c| std::ptr::eq(&**c, n))
                .map(|i| i as u32)
        };
        let mut blob = Vec::new();
        write_node(
            &mut blob,
            (at, &unit.grammar),
            &unit.node,
            Some(99),
            &id_of,
            &|_| Cells::new(),
        )
        .unwrap();
        let mut asked = Vec::new();
        let back = read_node(
            &blob,
            &set,
            &mut |id| {
                asked.push(id);
                children
                    .get(id as usize)
                    .cloned()
                    .ok_or_else(|| invalid("id"))
            },
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(back.id, Some(99));
        assert_eq!(asked, (0..children.len() as u32).collect::<Vec<_>>());
        assert_eq!(shown(&back.node), shown(&unit.node));
    }
}
