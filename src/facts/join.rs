//! Joins at analysis time (grammars/joins.yaml): index the held side, link the streamed side
//! as it goes by, gather facts across organisms.
//!
//! The flow is in four steps, the same for `vigie analyze` and for rule cases:
//! 1. units of the grammars a join indexes (PJ index, NOEMIE returns) are **held**: each of
//!    their nodes a join reads gets an id, is indexed by key and stashed out of memory
//!    (facts/held.rs); units of gather members (CAS files, small) are kept as they are;
//! 2. [`Joiner::seal`] links held sides together (a return with its PJ lines) and builds
//!    gathered facts;
//! 3. streamed units (B2 lots) are **linked** one by one and evaluated at once; they are not
//!    kept: a streamed node a held node points to (the invoice of a PJ line) is stashed too;
//! 4. the held units are read back range by range, each with what its links point to (those
//!    joined to one another side by side), and evaluated last with the gathered facts, when
//!    every link is known ([`Joiner::freeze`]).
//!
//! Not carried over from the held side in memory, for joins the shipped `joins.yaml` does not
//! declare: a held node on the `from` side of a link is given whole to the nodes it claims
//! (never without its children), and a gather member that is also a side of a link is
//! gathered as it was read (its join properties unset in the gathered fact).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;

use super::codec::{write_node, Cell, Cells};
use super::held::{
    joined_order, stash_error, Frozen, HeldSide, HeldUnit, Materializer, Run, ALONE,
};
use super::keys::{join_key, key_faulty, JoinKey, KeyMap, KeySpace};
use super::stash::Stash;
use super::KeyTracker;
use crate::model::{
    Grammar, GrammarSet, LinkDef, Linked, Node, NodeState, Outcome, Record, Unit, Value, ValuePath,
};

/// The index of a link's held side: key → ids of the held nodes, in reading order. A key with
/// one id keeps it in its entry; one with several, the index of its list (high bit set).
#[derive(Debug, Default)]
struct Index {
    keys: KeyMap,
    lists: Vec<Vec<u32>>,
}

/// The bit of an index entry that says it names a list, not an id.
const LIST: u32 = 1 << 31;

impl Index {
    /// Adds held node `id` (ids are below [`LIST`]) to the ids of `key`.
    fn push(&mut self, key: &JoinKey, id: u32) {
        let (entry, new) = self.keys.slot(key.as_key(), id);
        if new {
            return;
        }
        if *entry & LIST != 0 {
            if let Some(list) = self.lists.get_mut((*entry & !LIST) as usize) {
                list.push(id);
            }
            return;
        }
        // Lists are fewer than half the ids, which stay below LIST.
        let Some(at) = u32::try_from(self.lists.len()).ok().filter(|at| *at < LIST) else {
            return;
        };
        self.lists.push(vec![*entry, id]);
        *entry = LIST | at;
    }

    /// The ids of `key` (none: empty).
    fn ids(&self, key: &JoinKey) -> Arc<[u32]> {
        match self.keys.get(key.as_key()) {
            None => Arc::from([]),
            Some(e) if e & LIST != 0 => self
                .lists
                .get((e & !LIST) as usize)
                .map_or_else(|| Arc::from([]), |l| l.as_slice().into()),
            Some(id) => Arc::from([id]),
        }
    }
}

/// What a group takes part in.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// The indexed side of link `l`.
    To(usize),
    /// The streamed side of link `l`.
    From(usize),
    /// Member `m` of gather `g`.
    Member(usize, usize),
}

/// A held node on the streamed side of a link (a return, for its PJ lines): linked at seal.
struct HeldFrom {
    id: u32,
    link: usize,
    key: JoinKey,
}

/// Runs the joins of a grammar set over one analysis.
pub struct Joiner<'g> {
    set: &'g GrammarSet,
    /// Roles per grammar name: (group index, role).
    roles: HashMap<String, Vec<(usize, Role)>>,
    /// Per link, the key space in which "first of its key" is decided (links sharing their
    /// `from` group and key share it).
    claim_space: Vec<usize>,
    /// Per link, the index of its held side (links with the same `to` side share one).
    index_of: Vec<usize>,
    index: Vec<Index>,
    claims: KeyTracker,
    side: HeldSide,
    held: Vec<HeldUnit>,
    runs: Vec<Run>,
    held_from: Vec<HeldFrom>,
    /// Per gather, the members met in held units.
    found: Vec<Vec<Found>>,
    gathered: Vec<Unit>,
    /// What went wrong stashing or reading back (INTERNAL errors).
    errors: Vec<Outcome>,
}

/// Marks the link property `slot` of `node` as unreadable: its key lost a part to a fault.
fn unreadable_link(node: &Node, slot: Option<usize>) {
    if let Some(cell) = slot.and_then(|s| node.links.get(s)) {
        let _ = cell.set(Linked::Unreadable);
    }
}

/// Calls `f` on every node of `unit` down to `max_depth`, with its chain from the root.
fn each_node<'u>(unit: &'u Unit, max_depth: usize, f: &mut dyn FnMut(&[&'u Node], &'u Arc<Node>)) {
    fn rec<'u>(
        node: &'u Arc<Node>,
        chain: &mut Vec<&'u Node>,
        max_depth: usize,
        f: &mut dyn FnMut(&[&'u Node], &'u Arc<Node>),
    ) {
        chain.push(node);
        f(chain, node);
        if node.group.depth < max_depth {
            for list in &node.children {
                for c in list {
                    rec(c, chain, max_depth, f);
                }
            }
        }
        chain.pop();
    }
    let mut chain: Vec<&Node> = unit.ancestors.iter().map(|a| &**a).collect();
    rec(&unit.node, &mut chain, max_depth, f);
}

/// A node's address, to find it again among the nodes of a unit.
fn addr(node: &Node) -> usize {
    std::ptr::from_ref(node) as usize
}

impl<'g> Joiner<'g> {
    /// Joins the grammars of `set`, the held side kept in memory.
    pub fn new(set: &'g GrammarSet) -> Joiner<'g> {
        Joiner::stashing(set, Stash::in_memory())
    }

    /// Joins the grammars of `set`, the held side kept in `stash`.
    pub fn stashing(set: &'g GrammarSet, stash: Stash) -> Joiner<'g> {
        let mut roles: HashMap<String, Vec<(usize, Role)>> = HashMap::new();
        for (li, l) in set.links.iter().enumerate() {
            roles
                .entry(l.to.grammar.clone())
                .or_default()
                .push((l.to.group, Role::To(li)));
            roles
                .entry(l.from.grammar.clone())
                .or_default()
                .push((l.from.group, Role::From(li)));
        }
        for (gi, g) in set.gathers.iter().enumerate() {
            for (mi, m) in g.members.iter().enumerate() {
                roles
                    .entry(m.grammar.clone())
                    .or_default()
                    .push((m.group, Role::Member(gi, mi)));
            }
        }
        let same_claim = |a: &LinkDef, b: &LinkDef| {
            a.from.grammar == b.from.grammar
                && a.from.group == b.from.group
                && a.from.key == b.from.key
        };
        let same_index = |a: &LinkDef, b: &LinkDef| {
            a.to.grammar == b.to.grammar && a.to.group == b.to.group && a.to.key == b.to.key
        };
        let first_alike = |li: usize, alike: &dyn Fn(&LinkDef, &LinkDef) -> bool| {
            let l = set.links.get(li)?;
            set.links.iter().take(li + 1).position(|o| alike(o, l))
        };
        let claim_space = (0..set.links.len())
            .map(|li| first_alike(li, &same_claim).unwrap_or(li))
            .collect();
        let index_of = (0..set.links.len())
            .map(|li| first_alike(li, &same_index).unwrap_or(li))
            .collect();
        Joiner {
            set,
            roles,
            claim_space,
            index_of,
            index: (0..set.links.len()).map(|_| Index::default()).collect(),
            claims: KeyTracker::default(),
            side: HeldSide::new(stash),
            held: Vec::new(),
            runs: Vec::new(),
            held_from: Vec::new(),
            found: vec![Vec::new(); set.gathers.len()],
            gathered: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// A joiner that joins nothing: every unit goes by as it is read, none is held (the
    /// store's ingest, which keeps files one by one and joins at reconcile).
    pub fn none(set: &'g GrammarSet) -> Joiner<'g> {
        let mut j = Joiner::new(set);
        j.roles.clear();
        j
    }

    /// Whether files of `grammar` are held until every streamed file has gone by: the
    /// indexed side of a link, or a member of a gather.
    pub fn holds(&self, grammar: &str) -> bool {
        self.roles.get(grammar).is_some_and(|r| {
            r.iter()
                .any(|(_, role)| matches!(role, Role::To(_) | Role::Member(..)))
        })
    }

    /// Whether units of `grammar` are stashed: a side of a link (a gather member that is not
    /// is kept in memory as it is).
    fn stashes(&self, grammar: &str) -> bool {
        self.roles.get(grammar).is_some_and(|r| {
            r.iter()
                .any(|(_, role)| matches!(role, Role::To(_) | Role::From(_)))
        })
    }

    /// What went wrong stashing or reading back the held side, as INTERNAL errors.
    pub fn take_errors(&mut self) -> Vec<Outcome> {
        std::mem::take(&mut self.errors)
    }

    fn max_depth(&self, grammar: &str, pick: impl Fn(&Role) -> bool) -> Option<usize> {
        let g = self.set.get(grammar)?;
        self.roles
            .get(grammar)?
            .iter()
            .filter(|(_, r)| pick(r))
            .filter_map(|(gi, _)| g.group_at(*gi).map(|group| group.depth))
            .max()
    }

    /// Keeps a unit of a held grammar: stashed and indexed (an indexed side), or kept as it is
    /// (a gather member).
    pub fn hold(&mut self, unit: Unit) {
        self.meet_members(&unit);
        if !self.stashes(&unit.grammar.name) {
            self.held.push(HeldUnit::Kept(Box::new(unit)));
            return;
        }
        if let Err(e) = self.stash_unit(&unit) {
            self.errors.push(stash_error(&unit.file, &e));
        }
    }

    /// Gives an id to each node of `unit` a join reads, indexes it, and stashes the unit.
    fn stash_unit(&mut self, unit: &Unit) -> io::Result<()> {
        let roles = self
            .roles
            .get(&unit.grammar.name)
            .cloned()
            .unwrap_or_default();
        let mut ids: HashMap<usize, u32> = HashMap::new();
        let mut failed = None;
        each_node(unit, usize::MAX, &mut |chain, node| {
            let at = node.group.index;
            let joined = roles
                .iter()
                .any(|(g, r)| *g == at && matches!(r, Role::To(_) | Role::From(_)));
            if failed.is_some() || (node.links.is_empty() && !joined) {
                return;
            }
            match self.side.reserve(node.links.len()) {
                Ok(id) => {
                    ids.insert(addr(node), id);
                    self.index_node(id, &roles, chain, node);
                }
                Err(e) => failed = Some(e),
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let grammar_at = self.grammar_at(&unit.grammar)?;
        let child_id = |n: &Node| ids.get(&addr(n)).copied();
        let no_cells = |_: &Node| Cells::new();
        let mut blob = Vec::new();
        let mut written = Ok(None);
        each_node(unit, usize::MAX, &mut |_, node| {
            let Some(id) = child_id(node) else {
                return;
            };
            let Ok(root_at) = written else {
                return;
            };
            blob.clear();
            written = write_node(&mut blob, grammar_at, node, Some(id), &child_id, &no_cells)
                .and_then(|()| self.side.stash(&blob))
                .map(|at| {
                    self.side.place(id, at);
                    root_at.or(Arc::ptr_eq(node, &unit.node).then_some(at))
                });
        });
        // A root with an id is read back from its own bytes; another one is written now, at a
        // place of its own.
        let root = match (child_id(&unit.node), written?) {
            (Some(id), Some(_)) => id,
            (root_id, _) => {
                blob.clear();
                write_node(
                    &mut blob, grammar_at, &unit.node, root_id, &child_id, &no_cells,
                )?;
                let at = self.side.stash(&blob)?;
                let place = self.side.reserve(0)?;
                self.side.place(place, at);
                place | ALONE
            }
        };
        let run = self.run_of(unit)?;
        self.held.push(HeldUnit::Stashed { run, root });
        Ok(())
    }

    /// Indexes held node `id` for the links it is the indexed side of, and notes those it is
    /// the streamed side of, to link at seal.
    fn index_node(&mut self, id: u32, roles: &[(usize, Role)], chain: &[&Node], node: &Node) {
        let mut indexed: Vec<usize> = Vec::new();
        for (gi, role) in roles {
            if node.group.index != *gi {
                continue;
            }
            match *role {
                Role::To(li) => {
                    let Some(link) = self.set.links.get(li) else {
                        continue;
                    };
                    // A line with a faulty field is "not used" (scor.md): it matches nothing.
                    if node.state != NodeState::Sound {
                        continue;
                    }
                    let ix = self.index_of.get(li).copied().unwrap_or(li);
                    if let Some(key) = join_key(&link.to.key, chain) {
                        if indexed.contains(&ix) {
                            continue;
                        }
                        indexed.push(ix);
                        if let Some(index) = self.index.get_mut(ix) {
                            index.push(&key, id);
                        }
                    } else if key_faulty(&link.to.key, chain) {
                        if let Some(slot) = link.to.slot {
                            self.side.set_cell(id, slot, Cell::Unreadable);
                        }
                    }
                }
                Role::From(li) => {
                    let Some(link) = self.set.links.get(li) else {
                        continue;
                    };
                    if let Some(key) = join_key(&link.from.key, chain) {
                        self.held_from.push(HeldFrom { id, link: li, key });
                    } else if key_faulty(&link.from.key, chain) {
                        if let Some(slot) = link.from.slot {
                            self.side.set_cell(id, slot, Cell::Unreadable);
                        }
                    }
                }
                Role::Member(..) => {}
            }
        }
    }

    /// The position of `grammar` in the set, and the grammar.
    fn grammar_at<'a>(&self, grammar: &'a Arc<Grammar>) -> io::Result<(usize, &'a Grammar)> {
        self.set
            .grammars
            .iter()
            .position(|g| Arc::ptr_eq(g, grammar))
            .map(|at| (at, &**grammar))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "grammaire hors du jeu"))
    }

    /// The run of `unit`: the last one when the unit shares its file, grammar and ancestors.
    fn run_of(&mut self, unit: &Unit) -> io::Result<u32> {
        let same = |r: &Run| {
            Arc::ptr_eq(&r.file, &unit.file)
                && Arc::ptr_eq(&r.grammar, &unit.grammar)
                && r.ancestors.len() == unit.ancestors.len()
                && r.ancestors
                    .iter()
                    .zip(&unit.ancestors)
                    .all(|(a, b)| Arc::ptr_eq(a, b))
        };
        if !self.runs.last().is_some_and(same) {
            self.runs.push(Run {
                file: Arc::clone(&unit.file),
                grammar: Arc::clone(&unit.grammar),
                ancestors: unit.ancestors.clone(),
            });
        }
        u32::try_from(self.runs.len() - 1)
            .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "trop de fichiers gardés"))
    }

    /// Links held sides together (a return with its PJ lines) and builds the gathered facts.
    pub fn seal(&mut self) {
        let held_from = std::mem::take(&mut self.held_from);
        let mut firsts = Firsts::default();
        let mut shared: HashMap<(usize, &JoinKey), Arc<[u32]>> = HashMap::new();
        for from in &held_from {
            let (Some(link), Some(&space)) = (
                self.set.links.get(from.link),
                self.claim_space.get(from.link),
            ) else {
                continue;
            };
            if firsts.node != Some(from.id) {
                firsts = Firsts {
                    node: Some(from.id),
                    ..Firsts::default()
                };
            }
            if !link.every && !self.first_of_key(&mut firsts, space, &from.key) {
                continue;
            }
            let ix = self.index_of.get(from.link).copied().unwrap_or(from.link);
            // Returns repeated for one invoice (`every`) share its PJ lines' ids.
            let matches = match shared.get(&(ix, &from.key)) {
                Some(ids) => Arc::clone(ids),
                None => {
                    let ids = self.matches(ix, &from.key);
                    shared.insert((ix, &from.key), Arc::clone(&ids));
                    ids
                }
            };
            if let Some(back) = link.to.slot {
                for &m in matches.iter() {
                    self.side.set_cell(m, back, Cell::Held(from.id));
                }
            }
            if let Some(slot) = link.from.slot {
                self.side.set_cell(from.id, slot, Cell::Many(matches));
            }
        }
        self.gathered = self.gather();
    }

    /// Whether a node with `key` is the first of its key in claim space `space`: decided once
    /// per node and space (links sharing a space share the decision), counted in `firsts`.
    fn first_of_key(&mut self, firsts: &mut Firsts, space: usize, key: &JoinKey) -> bool {
        if let Some((_, first)) = firsts.decided.iter().find(|(s, _)| *s == space) {
            return *first;
        }
        let first = self.claims.see_key(KeySpace::Link(space), key) == 1;
        firsts.decided.push((space, first));
        first
    }

    /// The ids of the held nodes index `ix` holds under `key` (none: empty).
    fn matches(&self, ix: usize, key: &JoinKey) -> Arc<[u32]> {
        self.index
            .get(ix)
            .map_or_else(|| Arc::from([]), |index| index.ids(key))
    }

    /// Links the nodes of a unit that are the streamed side of a link: the first node of each
    /// key gets the indexed nodes of that key (read back, kept with the unit), and they get
    /// it (stashed, for when they are evaluated).
    pub fn link(&mut self, unit: &mut Unit) {
        let Some(depth) = self.max_depth(&unit.grammar.name, |r| matches!(r, Role::From(_))) else {
            return;
        };
        let Some(roles) = self.roles.get(&unit.grammar.name).cloned() else {
            return;
        };
        let mut claimed = Claimed::default();
        let grammar = Arc::clone(&unit.grammar);
        let mut bare_unit_node: Option<Arc<Node>> = None;
        each_node(unit, depth, &mut |chain, node| {
            let mut firsts = Firsts::default();
            for (gi, role) in &roles {
                let Role::From(li) = *role else { continue };
                if node.group.index != *gi {
                    continue;
                }
                let (Some(link), Some(&space)) = (self.set.links.get(li), self.claim_space.get(li))
                else {
                    continue;
                };
                let Some(key) = join_key(&link.from.key, chain) else {
                    if key_faulty(&link.from.key, chain) {
                        unreadable_link(node, link.from.slot);
                    }
                    continue;
                };
                if !link.every && !self.first_of_key(&mut firsts, space, &key) {
                    continue;
                }
                let ix = self.index_of.get(li).copied().unwrap_or(li);
                let matches = self.matches(ix, &key);
                match link.to.slot {
                    Some(back) if !matches.is_empty() => {
                        // A node handed over as a unit of a streamed parent (a lot) is kept
                        // without its children: the PJ line needs the lot, not its invoices.
                        let bare = node
                            .group
                            .parent
                            .is_some_and(|p| grammar.group_at(p).is_some_and(|g| g.stream))
                            && node.children.iter().any(|c| !c.is_empty());
                        let partner = if bare {
                            Arc::clone(bare_unit_node.get_or_insert_with(|| Arc::new(node.bare())))
                        } else {
                            Arc::clone(node)
                        };
                        claimed.backs.push(Back {
                            partner,
                            source: addr(node),
                            slot: back,
                            ids: matches.clone(),
                        });
                    }
                    _ => {}
                }
                if let Some(slot) = link.from.slot {
                    claimed
                        .many_at
                        .insert((addr(node), slot), claimed.many.len());
                    claimed.many.push((Arc::clone(node), slot, matches));
                }
            }
        });
        if let Err(e) = self.settle(unit, claimed) {
            self.errors.push(stash_error(&unit.file, &e));
        }
    }

    /// Stashes the partners held nodes point back to, then reads the held nodes back for the
    /// streamed nodes that claimed them; what was read back is kept with `unit`.
    fn settle(&mut self, unit: &mut Unit, claimed: Claimed) -> io::Result<()> {
        if claimed.backs.is_empty() && claimed.many.iter().all(|(_, _, ids)| ids.is_empty()) {
            for (node, slot, _) in &claimed.many {
                if let Some(cell) = node.links.get(*slot) {
                    let _ = cell.set(Linked::Many(Arc::from([])));
                }
            }
            return Ok(());
        }
        let grammar_at = self.grammar_at(&unit.grammar)?;
        let mut parked: HashMap<usize, (u64, Arc<Node>)> = HashMap::new();
        let mut blob = Vec::new();
        for Back {
            partner,
            source,
            slot: back,
            ids,
        } in &claimed.backs
        {
            let at = match parked.get(&addr(partner)) {
                Some((at, _)) => *at,
                None => {
                    let cells = |n: &Node| {
                        let of = if std::ptr::eq(n, &**partner) {
                            *source
                        } else {
                            addr(n)
                        };
                        claimed.cells_of(of, n)
                    };
                    blob.clear();
                    write_node(&mut blob, grammar_at, partner, None, &|_| None, &cells)?;
                    let at = self.side.stash(&blob)?;
                    parked.insert(addr(partner), (at, Arc::clone(partner)));
                    at
                }
            };
            for &id in ids.iter() {
                self.side.set_cell(id, *back, Cell::Parked(at));
            }
        }
        let mut read = Materializer::new(&self.side, self.set);
        for (at, node) in parked.into_values() {
            read.seed(at, node);
        }
        let mut failed = Ok(());
        for (node, slot, ids) in &claimed.many {
            match read.linked(&Cell::Many(ids.clone())) {
                Ok(Some(linked)) => {
                    if let Some(cell) = node.links.get(*slot) {
                        let _ = cell.set(linked);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    failed = Err(e);
                    break;
                }
            }
        }
        // What was read back stays with the unit, whatever failed after.
        unit.partners = Some(read.into_kept().into());
        failed
    }

    /// The members of the gathers met in `unit`, noted for [`Joiner::seal`].
    fn meet_members(&mut self, unit: &Unit) {
        for (gi, g) in self.set.gathers.iter().enumerate() {
            let Some(depth) = self.max_depth(
                &unit.grammar.name,
                |r| matches!(r, Role::Member(x, _) if *x == gi),
            ) else {
                continue;
            };
            let Some(roles) = self.roles.get(&unit.grammar.name) else {
                continue;
            };
            let Some(found) = self.found.get_mut(gi) else {
                continue;
            };
            each_node(unit, depth, &mut |chain, node| {
                for (group, role) in roles {
                    let Role::Member(x, mi) = role else { continue };
                    if *x != gi || node.group.index != *group {
                        continue;
                    }
                    let Some(member) = g.members.get(*mi) else {
                        continue;
                    };
                    let key: Option<Vec<Option<String>>> = member
                        .key
                        .iter()
                        .map(|p| match p {
                            None => Some(None),
                            Some(p) => read(p, chain).map(Some),
                        })
                        .collect();
                    if let Some(key) = key {
                        found.push((*mi, key, Arc::clone(&unit.file), Arc::clone(node)));
                    }
                }
            });
        }
    }

    /// One fact per gather key, in key order, after the held units.
    fn gather(&self) -> Vec<Unit> {
        let mut out = Vec::new();
        for (gi, g) in self.set.gathers.iter().enumerate() {
            let (Some(group), Some(def)) = (g.grammar.root(), g.grammar.records.first()) else {
                continue;
            };
            let parts = def.fields.len();
            // (member, partial key, file, node) in file order.
            let found: &[Found] = self.found.get(gi).map_or(&[], Vec::as_slice);
            // Every value of each key part, for members that lack that part.
            let mut values: Vec<std::collections::BTreeSet<String>> =
                vec![Default::default(); parts];
            for (_, key, _, _) in found {
                for (i, v) in key.iter().enumerate() {
                    if let (Some(v), Some(seen)) = (v, values.get_mut(i)) {
                        seen.insert(v.clone());
                    }
                }
            }
            type Slots = Vec<Option<(Arc<str>, Arc<Node>)>>;
            // One fact for every combination of the values seen (every doctor, every year
            // analysed), whether or not a member has a record for it.
            let mut facts: BTreeMap<Vec<String>, Slots> = expand(&vec![None; parts], &values)
                .into_iter()
                .map(|k| (k, vec![None; g.members.len()]))
                .collect();
            for (mi, key, file, node) in found {
                for full in expand(key, &values) {
                    let slots = facts
                        .entry(full)
                        .or_insert_with(|| vec![None; g.members.len()]);
                    if let Some(slot) = slots.get_mut(*mi) {
                        slot.get_or_insert_with(|| (Arc::clone(file), Arc::clone(node)));
                    }
                }
            }
            let group = Arc::clone(group);
            let def = Arc::clone(def);
            for (key, slots) in facts {
                let (file, line) = slots
                    .iter()
                    .flatten()
                    .next()
                    .map(|(f, n)| (Arc::clone(f), n.line))
                    .unwrap_or_else(|| (Arc::from(""), 0));
                let mut node = Node::new(Arc::clone(&group), line);
                node.open = Some(Record {
                    def: Arc::clone(&def),
                    values: key.into_iter().map(|k| Value::Text(k.into())).collect(),
                    line,
                    faulty: 0,
                });
                for (s, member) in slots.into_iter().zip(&g.members) {
                    if let (Some((_, n)), Some(cell)) = (s, node.links.get(member.slot)) {
                        let _ = cell.set(Linked::One(n));
                    }
                }
                out.push(Unit {
                    file,
                    grammar: Arc::clone(&g.grammar),
                    ancestors: Vec::new(),
                    node: Arc::new(node),
                    partners: None,
                });
            }
        }
        out
    }

    /// The held side once every streamed unit went by, for the evaluation of the held units
    /// (the index and the claims are dropped).
    pub fn freeze(self) -> Frozen<'g> {
        let Joiner {
            set,
            side,
            held,
            runs,
            gathered,
            index,
            claims,
            ..
        } = self;
        // The indexes and the claims are done with: freed before the order is computed.
        drop((index, claims));
        let order = joined_order(&side, &held);
        Frozen {
            set,
            side,
            held,
            runs,
            gathered,
            order,
        }
    }
}

/// A partner held nodes point back to: the partner (the node, or the lot without its
/// invoices), the address of the node it stands for, the held nodes' back slot, their ids.
struct Back {
    partner: Arc<Node>,
    source: usize,
    slot: usize,
    ids: Arc<[u32]>,
}

/// The "first of its key" decisions taken for one node, by claim space.
#[derive(Default)]
struct Firsts {
    /// The held node they were taken for (streamed nodes: `None`, one `Firsts` each).
    node: Option<u32>,
    decided: Vec<(usize, bool)>,
}

/// What the streamed nodes of a unit claimed of the held side.
#[derive(Default)]
struct Claimed {
    /// Partners held nodes point back to.
    backs: Vec<Back>,
    /// Streamed nodes' link properties: (node, slot, ids of the held nodes).
    many: Vec<(Arc<Node>, usize, Arc<[u32]>)>,
    /// Where in `many` each (node address, slot) is.
    many_at: HashMap<(usize, usize), usize>,
}

impl Claimed {
    /// The cells of `node` (at address `of`) as they are stashed: the held nodes it claimed,
    /// or unreadable.
    fn cells_of(&self, of: usize, node: &Node) -> Cells {
        (0..node.links.len())
            .filter_map(|slot| {
                let claimed = self
                    .many_at
                    .get(&(of, slot))
                    .and_then(|&i| self.many.get(i))
                    .map(|(_, _, ids)| Cell::Many(ids.clone()));
                let cell = claimed.or_else(|| match node.links.get(slot)?.get()? {
                    Linked::Unreadable => Some(Cell::Unreadable),
                    Linked::Many(_) | Linked::One(_) => None,
                })?;
                Some((slot, cell))
            })
            .collect()
    }
}

/// A gather member met in a held unit: (member, partial key, file, node).
type Found = (usize, Vec<Option<String>>, Arc<str>, Arc<Node>);

fn read(p: &ValuePath, chain: &[&Node]) -> Option<String> {
    super::resolve(p, chain).and_then(|v| v.display())
}

/// Every full key a partial key stands for.
fn expand(
    key: &[Option<String>],
    values: &[std::collections::BTreeSet<String>],
) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for (i, part) in key.iter().enumerate() {
        let choices: Vec<String> = match part {
            Some(v) => vec![v.clone()],
            None => values
                .get(i)
                .map(|seen| seen.iter().cloned().collect())
                .unwrap_or_default(),
        };
        out = out
            .into_iter()
            .flat_map(|prefix| {
                choices.iter().map(move |c| {
                    let mut k = prefix.clone();
                    k.push(c.clone());
                    k
                })
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_keeps_each_keys_ids_in_reading_order() {
        let key = |s: &str| JoinKey::of(&[&Value::Text(s.into())]);
        let mut index = Index::default();
        index.push(&key("1"), 4);
        index.push(&key("2"), 5);
        index.push(&key("1"), 6);
        index.push(&key("A"), 8);
        index.push(&key("1"), 7);
        index.push(&key("A"), 9);
        assert_eq!(&*index.ids(&key("1")), &[4, 6, 7]);
        assert_eq!(&*index.ids(&key("2")), &[5]);
        assert_eq!(&*index.ids(&key("A")), &[8, 9]);
        assert!(index.ids(&key("3")).is_empty());
    }
}
