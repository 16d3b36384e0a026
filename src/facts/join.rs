//! Joins at analysis time (grammars/joins.yaml): index the held side, link the streamed side
//! as it goes by, gather facts across organisms.
//!
//! The flow is in four steps, the same for `vigie analyze` and for rule cases:
//! 1. units of the grammars a join indexes (PJ index, NOEMIE returns, CAS files) are **held**;
//! 2. [`Joiner::seal`] indexes them by key, links held sides together and builds gathered
//!    facts;
//! 3. streamed units (B2 lots) are **linked** one by one and evaluated at once; they are not
//!    kept, except the invoices a held node points to (a PJ line's invoice);
//! 4. the held units and the gathered facts are evaluated last, when every link is known.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::keys::KeySpace;
use super::keys::{key_faulty, key_values};
use super::KeyTracker;
use crate::model::{GrammarSet, LinkDef, Linked, Node, NodeState, Record, Unit, Value, ValuePath};

/// The index of a link: fast hashing, seeded per run.
type Index = foldhash::HashMap<String, Vec<Arc<Node>>>;

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

/// Runs the joins of a grammar set over one analysis.
pub struct Joiner<'g> {
    set: &'g GrammarSet,
    /// Roles per grammar name: (group index, role).
    roles: HashMap<String, Vec<(usize, Role)>>,
    /// Per link, the key space in which "first of its key" is decided (links sharing their
    /// `from` group and key share it).
    claim_space: Vec<usize>,
    /// Per link, the indexed nodes by key.
    index: Vec<Index>,
    claims: KeyTracker,
    held: Vec<Unit>,
}

fn key_string(parts: &[std::borrow::Cow<'_, Value>]) -> String {
    super::keys::text_key(parts.iter().map(|v| &**v))
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

impl<'g> Joiner<'g> {
    pub fn new(set: &'g GrammarSet) -> Joiner<'g> {
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
        let claim_space = set
            .links
            .iter()
            .enumerate()
            .map(|(li, l)| {
                set.links
                    .iter()
                    .take(li + 1)
                    .position(|o| same_claim(o, l))
                    .unwrap_or(li)
            })
            .collect();
        Joiner {
            set,
            roles,
            claim_space,
            index: vec![Index::default(); set.links.len()],
            claims: KeyTracker::default(),
            held: Vec::new(),
        }
    }

    /// Whether files of `grammar` are held until every streamed file has gone by: the
    /// indexed side of a link, or a member of a gather.
    /// A joiner that joins nothing: every unit goes by as it is read, none is held (the
    /// store's ingest, which keeps files one by one and joins at reconcile).
    pub fn none(set: &'g GrammarSet) -> Joiner<'g> {
        let mut j = Joiner::new(set);
        j.roles.clear();
        j
    }

    pub fn holds(&self, grammar: &str) -> bool {
        self.roles.get(grammar).is_some_and(|r| {
            r.iter()
                .any(|(_, role)| matches!(role, Role::To(_) | Role::Member(..)))
        })
    }

    /// Keeps a unit of a held grammar for [`Joiner::seal`].
    pub fn hold(&mut self, unit: Unit) {
        self.held.push(unit);
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

    /// Indexes the held units, links held sides together and builds the gathered facts.
    pub fn seal(&mut self) {
        let held = std::mem::take(&mut self.held);
        // The indexed sides.
        for u in &held {
            let Some(depth) = self.max_depth(&u.grammar.name, |r| matches!(r, Role::To(_))) else {
                continue;
            };
            let Some(roles) = self.roles.get(&u.grammar.name) else {
                continue;
            };
            each_node(u, depth, &mut |chain, node| {
                for (gi, role) in roles {
                    let Role::To(li) = role else { continue };
                    if node.group.index != *gi {
                        continue;
                    }
                    // A line with a faulty field is "not used" (scor.md): it matches nothing.
                    if node.state != NodeState::Sound {
                        continue;
                    }
                    let (Some(link), Some(index)) =
                        (self.set.links.get(*li), self.index.get_mut(*li))
                    else {
                        continue;
                    };
                    if let Some(parts) = key_values(&link.to.key, chain) {
                        index
                            .entry(key_string(&parts))
                            .or_default()
                            .push(Arc::clone(node));
                    } else if key_faulty(&link.to.key, chain) {
                        unreadable_link(node, link.to.slot);
                    }
                }
            });
        }
        // Links whose streamed side is itself held (a NOEMIE return with its PJ lines).
        for u in &held {
            self.link(u);
        }
        let gathered = self.gather(&held);
        self.held = held;
        self.held.extend(gathered);
    }

    /// Links the nodes of a unit that are the streamed side of a link: the first node of each
    /// key gets the indexed nodes of that key, and they get it.
    pub fn link(&mut self, unit: &Unit) {
        let Some(depth) = self.max_depth(&unit.grammar.name, |r| matches!(r, Role::From(_))) else {
            return;
        };
        let Some(roles) = self.roles.get(&unit.grammar.name) else {
            return;
        };
        let grammar = Arc::clone(&unit.grammar);
        let mut bare_unit_node: Option<Arc<Node>> = None;
        each_node(unit, depth, &mut |chain, node| {
            let mut firsts: Vec<(usize, bool)> = Vec::new();
            for (gi, role) in roles {
                let Role::From(li) = role else { continue };
                if node.group.index != *gi {
                    continue;
                }
                let Some(link) = self.set.links.get(*li) else {
                    continue;
                };
                let Some(parts) = key_values(&link.from.key, chain) else {
                    if key_faulty(&link.from.key, chain) {
                        unreadable_link(node, link.from.slot);
                    }
                    continue;
                };
                let Some(&space) = self.claim_space.get(*li) else {
                    continue;
                };
                let first = link.every
                    || match firsts.iter().find(|(s, _)| *s == space) {
                        Some((_, f)) => *f,
                        None => {
                            let refs: Vec<&Value> = parts.iter().map(|v| &**v).collect();
                            let f = self.claims.see(KeySpace::Link(space), &refs) == 1;
                            firsts.push((space, f));
                            f
                        }
                    };
                if !first {
                    continue;
                }
                let matches: &[Arc<Node>] = match self.index.get(*li) {
                    Some(index) if !index.is_empty() => {
                        index.get(&key_string(&parts)).map_or(&[], Vec::as_slice)
                    }
                    _ => &[],
                };
                if let Some(cell) = link.from.slot.and_then(|slot| node.links.get(slot)) {
                    let _ = cell.set(Linked::Many(matches.iter().map(Arc::downgrade).collect()));
                }
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
                        for cell in matches.iter().filter_map(|m| m.links.get(back)) {
                            let _ = cell.set(Linked::One(Arc::clone(&partner)));
                        }
                    }
                    _ => {}
                }
            }
        });
    }

    /// One fact per gather key, in key order, after the held units.
    fn gather(&self, held: &[Unit]) -> Vec<Unit> {
        let mut out = Vec::new();
        for (gi, g) in self.set.gathers.iter().enumerate() {
            let (Some(group), Some(def)) = (g.grammar.root(), g.grammar.records.first()) else {
                continue;
            };
            let parts = def.fields.len();
            // (member, partial key, file, node) in file order.
            let mut found: Vec<Found> = Vec::new();
            for u in held {
                let Some(depth) = self.max_depth(
                    &u.grammar.name,
                    |r| matches!(r, Role::Member(x, _) if *x == gi),
                ) else {
                    continue;
                };
                let Some(roles) = self.roles.get(&u.grammar.name) else {
                    continue;
                };
                each_node(u, depth, &mut |chain, node| {
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
                            found.push((*mi, key, Arc::clone(&u.file), Arc::clone(node)));
                        }
                    }
                });
            }
            // Every value of each key part, for members that lack that part.
            let mut values: Vec<std::collections::BTreeSet<String>> =
                vec![Default::default(); parts];
            for (_, key, _, _) in &found {
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
            for (mi, key, file, node) in &found {
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
                });
            }
        }
        out
    }

    /// The held units and gathered facts, to evaluate once every streamed unit went by.
    pub fn held(&self) -> &[Unit] {
        &self.held
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
