//! The held side of the joins, out of memory: the nodes of the indexed grammars (PJ index,
//! NOEMIE returns) and the streamed nodes they point to (the invoice of a PJ line) are stashed
//! as bytes (facts/codec.rs, facts/stash.rs); what stays in memory is, per held node, an id,
//! where its bytes are and its join cells.
//!
//! A unit is evaluated on nodes read back from the stash: a [`Materializer`] reads a node with
//! everything its cells point to, each node once, and keeps them alive for as long as the unit
//! is (`Unit::partners`), so that a rule reads `pj.facture.pieces` as it always did.

use std::io;
use std::ops::Range;
use std::sync::{Arc, Weak};

use foldhash::HashMap;

use super::codec::{read_node, Cell, Cells};
use super::stash::{Stash, REF_BITS};
use crate::model::{ErrorCode, Grammar, GrammarSet, Linked, Node, Outcome, Unit};

/// A held unit, in reading order.
pub enum HeldUnit {
    /// Stashed at `at`; its file, grammar and ancestors are those of run `run`.
    Stashed {
        /// Its run.
        run: u32,
        /// Its root's id; with [`ALONE`], a place of its own (no join reads the root).
        root: u32,
    },
    /// Kept in memory (a gather member's).
    Kept(Box<Unit>),
}

/// What consecutive stashed units share: their file, grammar and ancestors.
pub struct Run {
    /// The file they were read from.
    pub file: Arc<str>,
    /// Its grammar.
    pub grammar: Arc<Grammar>,
    /// Their ancestors.
    pub ancestors: Vec<Arc<Node>>,
}

/// The held side once every streamed unit went by: the held units and gathered facts to
/// evaluate last, read back from the stash range by range (side by side on several workers).
pub struct Frozen<'g> {
    pub(super) set: &'g GrammarSet,
    pub(super) side: HeldSide,
    pub(super) held: Vec<HeldUnit>,
    pub(super) runs: Vec<Run>,
    pub(super) gathered: Vec<Unit>,
    /// The held units in the order they are read back: those joined to one another side by
    /// side (the PJ lines of one invoice), so that what they share is read once.
    pub(super) order: Vec<u32>,
}

/// The bit of [`HeldUnit::Stashed`]'s root that says it has no id of its own, only a place
/// (held ids stay below 2^31).
pub const ALONE: u32 = 1 << 31;

/// Nodes read back at most for one generation of held units (about 20 MB).
const GENERATION: usize = 20_000;

impl<'g> Frozen<'g> {
    /// How many units there are to evaluate: the held units, then the gathered facts.
    pub fn count(&self) -> usize {
        self.held.len() + self.gathered.len()
    }

    /// Hands `each` every unit in reading order (the CAS outputs read them so), each read
    /// back with what its links point to.
    pub fn in_reading_order(&self, each: &mut dyn FnMut(Result<Unit, Outcome>)) {
        self.read_back(0..self.count(), each);
    }

    /// Hands `each` the units of `range` (of `0..count()`), each read back with what its links
    /// point to. A unit that cannot be read back is an INTERNAL error naming its file.
    ///
    /// Units are read back in generations that share what they read (the PJ lines of one
    /// invoice point to it, and it to them: each is read once per generation, not once per
    /// line), kept alive by every unit of the generation.
    pub fn units(&self, range: Range<usize>, each: &mut dyn FnMut(Result<Unit, Outcome>)) {
        self.read_back(
            range.map(|i| self.order.get(i).map_or(i, |&h| h as usize)),
            each,
        );
    }

    /// `0..count()` cut in ranges for the workers, in order: each of at most `units` units and
    /// at most `bytes` bytes of stashed roots (a root over `bytes`, or whose length is not
    /// known, starts a range of its own). A NOEMIE file is one unit whose root reads back every
    /// return of the file and what they point to: counting units alone would hand one worker
    /// all of them at the end.
    pub fn ranges(&self, units: usize, bytes: u64) -> Vec<Range<usize>> {
        let units = units.max(1);
        let mut ranges = Vec::new();
        let (mut start, mut weight) = (0, 0u64);
        for i in 0..self.count() {
            let own = self.root_len(i).unwrap_or(bytes);
            if i > start && (i - start >= units || weight.saturating_add(own) > bytes) {
                ranges.push(start..i);
                (start, weight) = (i, 0);
            }
            weight = weight.saturating_add(own);
        }
        if start < self.count() {
            ranges.push(start..self.count());
        }
        ranges
    }

    /// The length of the stashed root of the unit read `i`-th: 0 for a unit kept in memory or
    /// a gathered fact, `None` when it is not known (a very long blob, a root with no place).
    fn root_len(&self, i: usize) -> Option<u64> {
        let h = self.order.get(i).map_or(i, |&h| h as usize);
        match self.held.get(h) {
            Some(HeldUnit::Stashed { root, .. }) => {
                let at = self.side.place_of(root & !ALONE).ok()?;
                Stash::len_of(at)
            }
            Some(HeldUnit::Kept(_)) | None => Some(0),
        }
    }

    /// Hands `each` the units of indexes `units` (held units, then gathered facts).
    fn read_back(
        &self,
        units: impl Iterator<Item = usize>,
        each: &mut dyn FnMut(Result<Unit, Outcome>),
    ) {
        let mut read = Materializer::new(&self.side, self.set);
        let mut ready: Vec<Unit> = Vec::new();
        for i in units {
            match self.held.get(i) {
                Some(HeldUnit::Kept(unit)) => {
                    self.hand_over(&mut read, &mut ready, each);
                    each(Ok((**unit).clone()));
                }
                Some(HeldUnit::Stashed { run, root }) => {
                    let Some(run) = self.runs.get(*run as usize) else {
                        continue;
                    };
                    let at = self.side.place_of(root & !ALONE);
                    match at.and_then(|at| read.parked(at)) {
                        Ok(node) => ready.push(Unit {
                            file: Arc::clone(&run.file),
                            grammar: Arc::clone(&run.grammar),
                            ancestors: run.ancestors.clone(),
                            node,
                            partners: None,
                        }),
                        Err(e) => each(Err(stash_error(&run.file, &e))),
                    }
                    if read.len() >= GENERATION {
                        self.hand_over(&mut read, &mut ready, each);
                    }
                }
                None => {
                    self.hand_over(&mut read, &mut ready, each);
                    if let Some(unit) = i
                        .checked_sub(self.held.len())
                        .and_then(|g| self.gathered.get(g))
                    {
                        each(Ok(unit.clone()));
                    }
                }
            }
        }
        self.hand_over(&mut read, &mut ready, each);
    }

    /// Hands `each` the units of a generation, which keep alive what was read for them.
    fn hand_over<'h>(
        &'h self,
        read: &mut Materializer<'h>,
        ready: &mut Vec<Unit>,
        each: &mut dyn FnMut(Result<Unit, Outcome>),
    ) {
        if ready.is_empty() {
            return;
        }
        let fresh = Materializer::new(&self.side, self.set);
        let kept: Arc<[Arc<Node>]> = std::mem::replace(read, fresh).into_kept().into();
        for mut unit in ready.drain(..) {
            unit.partners = Some(Arc::clone(&kept));
            each(Ok(unit));
        }
    }

    /// Why the held side stopped writing to disk, if it did (it then grew in memory).
    pub fn disk_failure(&self) -> Option<&str> {
        self.side.disk_failure()
    }
}

/// The order in which to read back `held`: units whose roots are joined to one another (by
/// the cells of `side`, through held or parked nodes) side by side, those pointing to the
/// same node next to each other, in reading order within; the others (a NOEMIE file, whose
/// root no join reads) after them, in reading order.
pub fn joined_order(side: &HeldSide, held: &[HeldUnit]) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..side.places.len()).map(|i| i as u32).collect();
    // Nodes pointing to one parked node (the PJ lines of an invoice) are joined through it:
    // found side by side once sorted, which costs less than a table of the parked nodes.
    let mut parked: Vec<(u64, u32)> = Vec::new();
    for id in 0..parent.len() {
        let id = id as u32;
        for cell in side.cells_of(id) {
            match cell {
                Cell::Many(ids) => ids.iter().for_each(|&o| union(&mut parent, id, o)),
                Cell::Held(o) => union(&mut parent, id, o),
                Cell::Parked(blob) => parked.push((blob, id)),
                Cell::Unset | Cell::Unreadable => {}
            }
        }
    }
    parked.sort_unstable();
    for pair in parked.windows(2) {
        if let [(a, x), (b, y)] = pair {
            if a == b {
                union(&mut parent, *x, *y);
            }
        }
    }
    drop(parked);
    // Within a group (the PJ lines of one lot), those that point to the same node (one
    // invoice) side by side.
    let first_target = |id: u32| {
        side.cells_of(id).find_map(|c| match c {
            Cell::Parked(blob) => Some(blob),
            Cell::Held(o) => Some(u64::from(o) | 1 << 63),
            Cell::Many(ids) => ids.first().map(|o| u64::from(*o) | 1 << 63),
            Cell::Unset | Cell::Unreadable => None,
        })
    };
    // (target, group, unit): 16 bytes a unit. The units whose root no join reads come last
    // (ids stay below 2^31), in reading order.
    let mut keyed: Vec<(u64, u32, u32)> = held
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            HeldUnit::Stashed { root, .. } if root & ALONE == 0 => (
                first_target(*root).unwrap_or(u64::MAX),
                find(&mut parent, *root),
                i as u32,
            ),
            _ => (0, u32::MAX, i as u32),
        })
        .collect();
    drop(parent);
    keyed.sort_unstable_by_key(|&(target, group, i)| (group, target, i));
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

/// The representative of `x`'s group (halving the path to it).
fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while let Some(&p) = parent.get(x as usize) {
        if p == x {
            break;
        }
        let up = parent.get(p as usize).copied().unwrap_or(p);
        if let Some(slot) = parent.get_mut(x as usize) {
            *slot = up;
        }
        x = up;
    }
    x
}

/// Puts `a` and `b` in one group (the smaller representative leads).
fn union(parent: &mut [u32], a: u32, b: u32) {
    let (a, b) = (find(parent, a), find(parent, b));
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    if let Some(slot) = parent.get_mut(high as usize) {
        *slot = low;
    }
}

/// The error of a held unit that could not be stashed or read back (a full disk).
pub fn stash_error(file: &Arc<str>, e: &io::Error) -> Outcome {
    Outcome::error(
        ErrorCode::Internal,
        file,
        None,
        None,
        None,
        format!(
            "erreur interne de vigie : les données de jointure de ce fichier n'ont pu être mises de côté ou relues ({e}) (à signaler)"
        ),
    )
}

/// The held nodes: their bytes in a stash, their ids, their join cells.
#[derive(Debug, Default)]
pub struct HeldSide {
    stash: Stash,
    /// Where each held node's bytes are, by id.
    places: Vec<u64>,
    /// Where each held node's cells start in `cells`, by id.
    first_cells: Vec<u32>,
    cells: Vec<Word>,
    /// The id lists of `Cell::Many` cells (one list shared by the returns of one invoice).
    lists: Vec<Arc<[u32]>>,
}

/// A join cell in one word (8 bytes a slot, where a [`Cell`] takes 24): its kind in the two
/// high bits, then an id, a list's index in [`HeldSide::lists`] or a stash reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    const UNSET: Word = Word(0);
    const UNREADABLE: Word = Word(1);
    const HELD: u64 = 1 << REF_BITS;
    const MANY: u64 = 2 << REF_BITS;
    const PARKED: u64 = 3 << REF_BITS;
    const VALUE: u64 = (1 << REF_BITS) - 1;
    /// An empty list (a return whose invoice has no PJ line), with no list of its own.
    const NONE: Word = Word(Word::MANY | Word::VALUE);
}

/// A node not yet stashed (its id reserved first, so that cells may name it).
const NOT_YET: u64 = u64::MAX;

impl HeldSide {
    /// A held side whose bytes go to `stash`.
    pub fn new(stash: Stash) -> HeldSide {
        HeldSide {
            stash,
            ..HeldSide::default()
        }
    }

    /// A new id for a node with `slots` join cells, all unset.
    pub fn reserve(&mut self, slots: usize) -> io::Result<u32> {
        // Ids stay below 2^31: an index entry's high bit says it names a list (facts/join.rs).
        let id = u32::try_from(self.places.len())
            .ok()
            .filter(|id| *id < 1 << 31)
            .ok_or_else(too_many)?;
        let cells = u32::try_from(self.cells.len()).map_err(|_| too_many())?;
        self.places.push(NOT_YET);
        self.first_cells.push(cells);
        self.cells.resize(self.cells.len() + slots, Word::UNSET);
        Ok(id)
    }

    /// Stashes `blob`; returns its offset.
    pub fn stash(&mut self, blob: &[u8]) -> io::Result<u64> {
        self.stash.put(blob)
    }

    /// Says where the bytes of node `id` are.
    pub fn place(&mut self, id: u32, at: u64) {
        if let Some(p) = self.places.get_mut(id as usize) {
            *p = at;
        }
    }

    /// Where the bytes of node `id` are.
    pub fn place_of(&self, id: u32) -> io::Result<u64> {
        self.places
            .get(id as usize)
            .copied()
            .filter(|&at| at != NOT_YET)
            .ok_or_else(|| missing("nœud gardé"))
    }

    /// Sets cell `slot` of node `id`, unless it is set already (the first join decides).
    pub fn set_cell(&mut self, id: u32, slot: usize, cell: Cell) {
        let range = self.cell_range(id);
        let Some(i) = range.start.checked_add(slot).filter(|i| range.contains(i)) else {
            return;
        };
        if self.cells.get(i) != Some(&Word::UNSET) {
            return;
        }
        let word = match cell {
            Cell::Unset => return,
            Cell::Unreadable => Word::UNREADABLE,
            Cell::Held(id) => Word(Word::HELD | u64::from(id)),
            // Stash references keep to REF_BITS (facts/stash.rs).
            Cell::Parked(at) => Word(Word::PARKED | (at & Word::VALUE)),
            Cell::Many(ids) if ids.is_empty() => Word::NONE,
            Cell::Many(ids) => {
                self.lists.push(ids);
                Word(Word::MANY | (self.lists.len() - 1) as u64)
            }
        };
        if let Some(c) = self.cells.get_mut(i) {
            *c = word;
        }
    }

    /// The cells of node `id`, by slot.
    fn cells_of(&self, id: u32) -> impl Iterator<Item = Cell> + '_ {
        let words = self.cells.get(self.cell_range(id)).unwrap_or(&[]);
        words.iter().map(|&Word(w)| match w & !Word::VALUE {
            Word::HELD => Cell::Held((w & Word::VALUE) as u32),
            Word::PARKED => Cell::Parked(w & Word::VALUE),
            _ if Word(w) == Word::NONE => Cell::Many(Arc::from([])),
            Word::MANY => usize::try_from(w & Word::VALUE)
                .ok()
                .and_then(|i| self.lists.get(i))
                .map_or(Cell::Unset, |ids| Cell::Many(Arc::clone(ids))),
            _ if Word(w) == Word::UNREADABLE => Cell::Unreadable,
            _ => Cell::Unset,
        })
    }

    /// Where the cells of node `id` are in `cells` (empty for an unknown id).
    fn cell_range(&self, id: u32) -> Range<usize> {
        let Some(&first) = self.first_cells.get(id as usize) else {
            return 0..0;
        };
        let end = self
            .first_cells
            .get(id as usize + 1)
            .map_or(self.cells.len(), |&next| next as usize);
        first as usize..end
    }

    /// Why the stash stopped writing to its file, if it did (it then keeps bytes in memory).
    pub fn disk_failure(&self) -> Option<&str> {
        self.stash.failure()
    }
}

fn too_many() -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        "plus de 2 milliards de nœuds gardés pour les jointures",
    )
}

/// An id list, and its nodes as read back.
type ListRead = (Arc<[u32]>, Arc<[Weak<Node>]>);

/// Reads held and parked nodes back, each once, with what their cells point to.
pub struct Materializer<'h> {
    held: &'h HeldSide,
    set: &'h GrammarSet,
    ids: HashMap<u32, Arc<Node>>,
    parked: HashMap<u64, Arc<Node>>,
    /// The nodes of each id list read, by the list's address (the list kept with them).
    many: HashMap<usize, ListRead>,
    bytes: Vec<u8>,
    /// Why a read failed: a node may then be half read, so nothing more is read.
    failed: Option<(io::ErrorKind, String)>,
}

impl<'h> Materializer<'h> {
    /// Reads from `held`, the nodes of grammars of `set`.
    pub fn new(held: &'h HeldSide, set: &'h GrammarSet) -> Self {
        Materializer {
            held,
            set,
            ids: HashMap::default(),
            parked: HashMap::default(),
            many: HashMap::default(),
            bytes: Vec::new(),
            failed: None,
        }
    }

    /// Says that the node parked at `at` is `node`, still in memory: cells that point to it
    /// get it rather than a copy (the invoice being evaluated, for its PJ lines).
    pub fn seed(&mut self, at: u64, node: Arc<Node>) {
        self.parked.insert(at, node);
    }

    /// The held node `id`.
    pub fn node(&mut self, id: u32) -> io::Result<Arc<Node>> {
        if let Some(n) = self.ids.get(&id) {
            return Ok(Arc::clone(n));
        }
        let at = self.held.place_of(id)?;
        self.read(at, Some(id))
    }

    /// The node stashed at `at` (a held unit's root, or a parked node).
    pub fn parked(&mut self, at: u64) -> io::Result<Arc<Node>> {
        if let Some(n) = self.parked.get(&at) {
            return Ok(Arc::clone(n));
        }
        self.read(at, None)
    }

    fn read(&mut self, at: u64, id: Option<u32>) -> io::Result<Arc<Node>> {
        if let Some((kind, why)) = &self.failed {
            return Err(io::Error::new(*kind, why.clone()));
        }
        let read = self.read_fresh(at, id);
        if let Err(e) = &read {
            self.failed = Some((e.kind(), e.to_string()));
        }
        read
    }

    fn read_fresh(&mut self, at: u64, id: Option<u32>) -> io::Result<Arc<Node>> {
        let mut bytes = std::mem::take(&mut self.bytes);
        self.held.stash.get(at, &mut bytes)?;
        let mut fills = Vec::new();
        let set = self.set;
        let read = read_node(&bytes, set, &mut |child| self.node(child), &mut fills);
        self.bytes = bytes;
        let read = read?;
        // A unit's root read by its place may have been read already by its id.
        if let Some(known) = read.id.and_then(|id| self.ids.get(&id)) {
            return Ok(Arc::clone(known));
        }
        let node = Arc::new(read.node);
        match read.id.or(id) {
            Some(id) => {
                self.ids.insert(id, Arc::clone(&node));
                let held = self.held;
                let cells: Cells = held.cells_of(id).enumerate().collect();
                self.fill(&node, cells)?;
            }
            None => {
                if let Some(known) = self.parked.get(&at) {
                    return Ok(Arc::clone(known));
                }
                self.parked.insert(at, Arc::clone(&node));
                self.fill(&node, read.cells)?;
            }
        }
        for (n, cells) in fills {
            self.fill(&n, cells)?;
        }
        Ok(node)
    }

    /// Sets the join cells of `node` (the nodes they point to read as needed).
    fn fill(&mut self, node: &Node, cells: Cells) -> io::Result<()> {
        for (slot, cell) in cells {
            if let (Some(linked), Some(lock)) = (self.linked(&cell)?, node.links.get(slot)) {
                let _ = lock.set(linked);
            }
        }
        Ok(())
    }

    /// What `cell` gives a node's `links`.
    pub fn linked(&mut self, cell: &Cell) -> io::Result<Option<Linked>> {
        Ok(Some(match cell {
            Cell::Unset => return Ok(None),
            Cell::Unreadable => Linked::Unreadable,
            Cell::Many(ids) => Linked::Many(self.many(ids)?),
            Cell::Held(id) => Linked::One(self.node(*id)?),
            Cell::Parked(at) => Linked::One(self.parked(*at)?),
        }))
    }

    /// The nodes of id list `ids`, read once for every cell that shares the list (the PJ
    /// lines of an invoice, for each of its returns).
    fn many(&mut self, ids: &Arc<[u32]>) -> io::Result<Arc<[Weak<Node>]>> {
        if ids.is_empty() {
            return Ok(Arc::from([]));
        }
        // Keyed by the list's address, which the list kept beside it holds for as long as the
        // entry is: no other list can take it.
        let at = ids.as_ptr() as usize;
        if let Some((_, nodes)) = self.many.get(&at) {
            return Ok(Arc::clone(nodes));
        }
        let nodes: Arc<[Weak<Node>]> = ids
            .iter()
            .map(|&id| self.node(id).map(|n| Arc::downgrade(&n)))
            .collect::<io::Result<_>>()?;
        self.many.insert(at, (Arc::clone(ids), Arc::clone(&nodes)));
        Ok(nodes)
    }

    /// How many nodes were read or seeded.
    pub fn len(&self) -> usize {
        self.ids.len() + self.parked.len()
    }

    /// Every node read or seeded: kept alive with the unit they were read for (the links to
    /// held nodes are weak).
    pub fn into_kept(self) -> Vec<Arc<Node>> {
        self.ids
            .into_values()
            .chain(self.parked.into_values())
            .collect()
    }
}

fn missing(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{what} introuvable parmi les données de jointure mises de côté"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_reads_back_as_it_was_set_and_the_first_join_decides() {
        let mut side = HeldSide::new(Stash::in_memory());
        let cells = [
            Cell::Unreadable,
            Cell::Held(0),
            Cell::Held(1),
            Cell::Parked(0),
            Cell::Parked((1 << REF_BITS) - 1),
            Cell::Many(Arc::from([])),
            Cell::Many(Arc::from([7, 3])),
            Cell::Unset,
        ];
        let a = side.reserve(cells.len()).expect("id");
        let b = side.reserve(1).expect("id");
        let lone = side.reserve(0).expect("id");
        for (slot, cell) in cells.iter().enumerate() {
            side.set_cell(a, slot, cell.clone());
            side.set_cell(a, slot, Cell::Held(9));
        }
        // Out of the node's range: nothing is set, in it or in the next node.
        side.set_cell(a, cells.len(), Cell::Held(5));
        side.set_cell(lone, 0, Cell::Held(5));
        let read: Vec<Cell> = side.cells_of(a).collect();
        let mut expected = cells.to_vec();
        if let Some(last) = expected.last_mut() {
            *last = Cell::Held(9);
        }
        assert_eq!(read, expected);
        assert_eq!(side.cells_of(b).collect::<Vec<_>>(), vec![Cell::Unset]);
        assert_eq!(side.cells_of(lone).count(), 0);
        assert_eq!(side.cells_of(99).count(), 0);
        assert!(side.place_of(a).is_err(), "not stashed yet");
        side.place(a, 42);
        assert_eq!(side.place_of(a).ok(), Some(42));
    }

    #[test]
    fn ranges_hold_at_most_so_many_units_and_so_many_bytes_of_roots() {
        let set = GrammarSet::default();
        let mut side = HeldSide::new(Stash::in_memory());
        // Roots of 10 bytes, one of 100 (a NOEMIE file among PJ lines) and one of 50.
        let mut held = Vec::new();
        for len in [10, 10, 100, 10, 10, 10, 50, 10] {
            let id = side.reserve(0).expect("id");
            let at = side.stash(&vec![0; len]).expect("stashed");
            side.place(id, at);
            held.push(HeldUnit::Stashed { run: 0, root: id });
        }
        let frozen = Frozen {
            set: &set,
            side,
            held,
            runs: Vec::new(),
            gathered: Vec::new(),
            order: Vec::new(),
        };
        // At most 3 units a range and at most 40 bytes (a root over it alone).
        assert_eq!(frozen.ranges(3, 40), [0..2, 2..3, 3..6, 6..7, 7..8]);
        // Exactly at the limit still fits.
        assert_eq!(frozen.ranges(8, 20), [0..2, 2..3, 3..5, 5..6, 6..7, 7..8]);
        assert_eq!(frozen.ranges(9, 1000).len(), 1, "one range of all 8");
        assert_eq!(frozen.ranges(9, 1000).first(), Some(&(0..8)));
        // Read in the order given: the large root first.
        let frozen = Frozen {
            order: vec![2, 0, 1, 3, 4, 5, 6, 7],
            ..frozen
        };
        assert_eq!(frozen.ranges(3, 40), [0..1, 1..4, 4..6, 6..7, 7..8]);
        assert_eq!(
            frozen.ranges(0, 0),
            (0..8).map(|i| i..i + 1).collect::<Vec<_>>()
        );
    }
}
