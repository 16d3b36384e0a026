//! Joins: facts that span files, declared in `grammars/joins.yaml` (no Rust for a new join).
//!
//! - A **link** pairs the nodes of two groups that share a key: each invoice with its PJ lines,
//!   each PJ line with its invoice. The `from` side is streamed (B2 lots go by without being
//!   kept); the `to` side is read first and indexed by key. Only the first `from` node of a key
//!   (in file order) takes part: a repeated invoice gets no PJ.
//! - A **gather** builds one new fact for every combination of the key values seen (every
//!   doctor and every year analysed) from several groups: a synthetic grammar with one group
//!   whose properties are the first record of each member, `()` where it has none. A member
//!   whose key lacks a part (the adherents list has no year) joins every value of that part.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::ValuePath;
use super::{parse_path, FieldDef, FieldType, Grammar, GroupDef, GroupProp, Layout, RecordDef};
use crate::diag::Fault;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JoinsSpec {
    #[serde(default)]
    links: Vec<LinkSpec>,
    #[serde(default)]
    gathers: Vec<GatherSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    from: SideSpec,
    to: SideSpec,
    /// Every `from` node of a key links, not only the first (two returns of one invoice).
    #[serde(default)]
    every: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SideSpec {
    grammar: String,
    group: String,
    key: Vec<String>,
    /// The property under which this side reads the other one.
    #[serde(rename = "as")]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatherSpec {
    /// Name of the synthetic grammar (rule sets list it in `grammars`).
    format: String,
    title: String,
    /// Name of the fact's group (the rules' scope).
    group: String,
    /// Key field names; they are the fact's fields and its subject.
    key: Vec<String>,
    members: Vec<MemberSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberSpec {
    grammar: String,
    group: String,
    /// Gather key part → path in the member's group (`annee: annee`).
    key: serde_yaml::Mapping,
    #[serde(rename = "as")]
    name: String,
}

/// One side of a link, resolved.
#[derive(Debug, Clone)]
pub struct Side {
    pub grammar: String,
    pub group: usize,
    pub key: Vec<ValuePath>,
    /// Link slot of the property reading the other side, if any.
    pub slot: Option<usize>,
}

/// A link between two groups.
#[derive(Debug, Clone)]
pub struct LinkDef {
    pub from: Side,
    pub to: Side,
    /// Every `from` node of a key links; by default only the first one does.
    pub every: bool,
}

/// One member of a gather.
#[derive(Debug, Clone)]
pub struct Member {
    pub grammar: String,
    pub group: usize,
    /// For each part of the gather key, where the member reads it (`None`: every value seen).
    pub key: Vec<Option<ValuePath>>,
    pub slot: usize,
}

/// A gather: a synthetic grammar and its members.
#[derive(Debug, Clone)]
pub struct GatherDef {
    pub grammar: Arc<Grammar>,
    pub members: Vec<Member>,
}

/// The join specs found among the grammar files, with where they were read.
pub(super) struct JoinSources<'a> {
    pub specs: Vec<(PathBuf, &'a str, JoinsSpec)>,
}

impl JoinSources<'_> {
    /// Property names every join declares (interned with the grammars' properties).
    pub fn prop_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, _, s) in &self.specs {
            for l in &s.links {
                out.extend(l.from.name.iter().cloned());
                out.extend(l.to.name.iter().cloned());
            }
            for g in &s.gathers {
                out.extend(g.members.iter().map(|m| m.name.clone()));
                out.extend(g.key.iter().cloned());
                out.push(g.group.clone());
            }
        }
        out
    }

    /// Link slot names per (grammar, group) of the file grammars, in declaration order.
    pub fn slots(&self) -> HashMap<(String, String), Vec<String>> {
        let mut slots: HashMap<(String, String), Vec<String>> = HashMap::new();
        for (_, _, s) in &self.specs {
            for l in &s.links {
                for side in [&l.from, &l.to] {
                    if let Some(n) = &side.name {
                        slots
                            .entry((side.grammar.clone(), side.group.clone()))
                            .or_default()
                            .push(n.clone());
                    }
                }
            }
        }
        slots
    }

    /// Resolves every join against the compiled grammars; faults name the joins file and line.
    pub fn compile(
        &self,
        grammars: &[Arc<Grammar>],
        ids: &HashMap<String, usize>,
        faults: &mut Vec<Fault>,
    ) -> (Vec<LinkDef>, Vec<GatherDef>) {
        let mut links = Vec::new();
        let mut gathers = Vec::new();
        for (path, text, spec) in &self.specs {
            let fault = |anchors: &[&str], msg: String| Fault::at(path, text, anchors, msg);
            for l in &spec.links {
                let from = side(grammars, &l.from, &fault);
                let to = side(grammars, &l.to, &fault);
                match (from, to) {
                    (Ok(from), Ok(to)) if from.key.len() != to.key.len() => faults.push(fault(
                        &[&format!("group: {}", l.to.group)],
                        "les deux côtés d'une jointure ont des clés de même longueur".into(),
                    )),
                    (Ok(_), Ok(to)) if l.every && to.slot.is_some() => faults.push(fault(
                        &[&format!("group: {}", l.to.group)],
                        "`every` : plusieurs nœuds par clé, le côté `to` ne peut pas en nommer un seul (`as`)".into(),
                    )),
                    (Ok(from), Ok(to)) => links.push(LinkDef {
                        from,
                        to,
                        every: l.every,
                    }),
                    (a, b) => faults.extend(a.err().into_iter().chain(b.err())),
                }
            }
            for g in &spec.gathers {
                match gather(path, grammars, g, ids, &fault) {
                    Ok(def) => gathers.push(def),
                    Err(mut f) => faults.append(&mut f),
                }
            }
        }
        (links, gathers)
    }
}

/// Splits the join files (no `format:` key) from the grammar files.
pub(super) fn is_join_file(text: &str) -> bool {
    serde_yaml::from_str::<serde_yaml::Mapping>(text)
        .map(|m| {
            !m.contains_key("format") && (m.contains_key("links") || m.contains_key("gathers"))
        })
        .unwrap_or(false)
}

/// Parses a joins file.
pub(super) fn parse(path: &Path, text: &str) -> Result<JoinsSpec, Fault> {
    serde_yaml::from_str(text).map_err(|e| Fault::yaml(path, &e))
}

fn find<'g>(
    grammars: &'g [Arc<Grammar>],
    grammar: &str,
    group: &str,
) -> Result<(&'g Arc<Grammar>, usize), String> {
    let g = grammars
        .iter()
        .find(|g| g.name == grammar)
        .ok_or_else(|| format!("grammaire « {grammar} » inconnue"))?;
    let gi = g
        .groups
        .iter()
        .position(|x| x.name == group)
        .ok_or_else(|| format!("groupe « {group} » absent de la grammaire {grammar}"))?;
    Ok((g, gi))
}

/// A path read from a node of group `gi` of `g`.
fn path_in(g: &Grammar, gi: usize, p: &str) -> Result<ValuePath, String> {
    let mut ancestry = Vec::new();
    let mut cur = Some(gi);
    while let Some(i) = cur {
        ancestry.push(g.groups[i].name.as_str());
        cur = g.groups[i].parent;
    }
    ancestry.reverse();
    let own = g.groups[gi].open.map(|o| &g.records[o]);
    parse_path(p, &ancestry, &|f| {
        own.is_some_and(|r| r.field_index(f).is_some())
    })
}

fn side(
    grammars: &[Arc<Grammar>],
    s: &SideSpec,
    fault: &dyn Fn(&[&str], String) -> Fault,
) -> Result<Side, Fault> {
    let anchor = format!("group: {}", s.group);
    let (g, gi) = find(grammars, &s.grammar, &s.group).map_err(|m| fault(&[&anchor], m))?;
    if s.key.is_empty() {
        return Err(fault(
            &[&anchor, "key:"],
            format!("{} : une jointure a une clé (`key`)", s.group),
        ));
    }
    if let Some(n) = &s.name {
        if !super::is_rhai_property(n) {
            return Err(fault(
                &[&anchor, "as:"],
                format!(
                    "{} : « {n} » ne peut pas se lire en Rhai (mot réservé ou chiffre en tête)",
                    s.group
                ),
            ));
        }
        let group = &g.groups[gi];
        let taken = group
            .open
            .is_some_and(|o| g.records[o].field_index(n).is_some())
            || group.children.iter().any(|&c| g.groups[c].plural == *n)
            || group.links.iter().filter(|l| *l == n).count() > 1;
        if taken {
            return Err(fault(
                &[&anchor, "as:"],
                format!(
                    "{} : « {n} » nomme déjà un champ, une liste ou une autre jointure de ce groupe",
                    s.group
                ),
            ));
        }
    }
    let key = s
        .key
        .iter()
        .map(|k| path_in(g, gi, k))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| fault(&[&anchor, "key:"], format!("{} : {m}", s.group)))?;
    let slot = s
        .name
        .as_ref()
        .and_then(|n| g.groups[gi].links.iter().position(|l| l == n));
    Ok(Side {
        grammar: s.grammar.clone(),
        group: gi,
        key,
        slot,
    })
}

fn gather(
    path: &Path,
    grammars: &[Arc<Grammar>],
    spec: &GatherSpec,
    ids: &HashMap<String, usize>,
    fault: &dyn Fn(&[&str], String) -> Fault,
) -> Result<GatherDef, Vec<Fault>> {
    let mut faults = Vec::new();
    let mut members = Vec::new();
    for (slot, m) in spec.members.iter().enumerate() {
        let anchor = format!("group: {}", m.group);
        let (g, gi) = match find(grammars, &m.grammar, &m.group) {
            Ok(x) => x,
            Err(msg) => {
                faults.push(fault(&[&anchor], msg));
                continue;
            }
        };
        let mut key = vec![None; spec.key.len()];
        for (k, v) in &m.key {
            let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                faults.push(fault(
                    &[&anchor, "key:"],
                    "`key` associe une partie de la clé à un chemin".into(),
                ));
                continue;
            };
            let Some(pos) = spec.key.iter().position(|x| x == k) else {
                faults.push(fault(
                    &[&anchor, "key:"],
                    format!(
                        "« {k} » n'est pas une partie de la clé ({})",
                        spec.key.join(", ")
                    ),
                ));
                continue;
            };
            match path_in(g, gi, v) {
                Ok(p) => key[pos] = Some(p),
                Err(msg) => faults.push(fault(&[&anchor, "key:"], format!("{} : {msg}", m.group))),
            }
        }
        if key.iter().all(Option::is_none) {
            faults.push(fault(
                &[&anchor],
                "un membre donne au moins une partie de la clé".into(),
            ));
        }
        members.push(Member {
            grammar: m.grammar.clone(),
            group: gi,
            key,
            slot,
        });
    }
    if !faults.is_empty() {
        return Err(faults);
    }
    // The synthetic record: the key parts, as text.
    let fields: Vec<FieldDef> = spec
        .key
        .iter()
        .enumerate()
        .map(|(i, k)| FieldDef {
            name: k.clone(),
            start: i,
            len: 0,
            ty: FieldType::Text,
            optional: false,
            zero_if_empty: false,
        })
        .collect();
    let mut slots = vec![u32::MAX; ids.len()];
    for (i, f) in fields.iter().enumerate() {
        slots[ids[&f.name]] = i as u32;
    }
    let record = Arc::new(RecordDef {
        name: spec.group.clone(),
        code: None,
        fields,
        slots,
    });
    let mut props = super::computed_props(ids.len());
    for (slot, m) in spec.members.iter().enumerate() {
        props[ids[&m.name]] = GroupProp::Link(slot);
    }
    let group = GroupDef {
        name: spec.group.clone(),
        plural: spec.group.clone(),
        index: 0,
        parent: None,
        depth: 0,
        open: Some(0),
        close: None,
        close_as: "fin".into(),
        stream: false,
        fragile: false,
        single: false,
        match_fields: Vec::new(),
        key: Vec::new(),
        subject: spec
            .key
            .iter()
            .map(|k| {
                (
                    Arc::from(k.as_str()),
                    ValuePath::Field {
                        depth: 0,
                        field: k.clone(),
                    },
                )
            })
            .collect(),
        date: None,
        children: Vec::new(),
        links: spec.members.iter().map(|m| m.name.clone()).collect(),
        props,
    };
    Ok(GatherDef {
        grammar: Arc::new(Grammar {
            name: spec.format.clone(),
            title: spec.title.clone(),
            path: path.to_path_buf(),
            file_patterns: Vec::new(),
            latin1: false,
            layout: Layout::Delimited {
                separator: b';',
                header: false,
            },
            records: vec![record],
            groups: vec![Arc::new(group)],
            header: Vec::new(),
            synthetic: true,
        }),
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::super::GrammarSet;
    use std::path::PathBuf;

    fn grammar(format: &str) -> String {
        format!(
            r#"format: {format}
title: test
encoding: utf-8
layout: delimited
separator: ";"
header: true
records:
  - name: r
    fields:
      - {{ name: k, len: 3, type: digits }}
      - {{ name: v, type: text }}
structure:
  group: root_{format}
  stream: true
  children:
    - {{ group: e_{format}, plural: items_{format}, open: r }}
"#
        )
    }

    fn load(joins: &str) -> Result<GrammarSet, String> {
        GrammarSet::from_sources(vec![
            (PathBuf::from("a.yaml"), grammar("a")),
            (PathBuf::from("b.yaml"), grammar("b")),
            (PathBuf::from("joins.yaml"), joins.to_string()),
        ])
        .map_err(|f| f.to_string())
    }

    const LINK: &str = "links:\n  - from: { grammar: a, group: e_a, key: [k], as: others }\n    to:   { grammar: b, group: e_b, key: [k], as: first }\n";

    #[test]
    fn a_valid_link_gives_both_sides_a_slot() {
        let set = load(LINK).unwrap();
        assert_eq!(set.links.len(), 1);
        assert_eq!(set.links[0].from.slot, Some(0));
        assert_eq!(set.links[0].to.slot, Some(0));
    }

    #[test]
    fn bad_joins_are_refused_with_the_joins_file() {
        for (bad, why) in [
            (LINK.replace("group: e_b", "group: nope"), "absent"),
            (
                LINK.replace("key: [k], as: first", "key: [], as: first"),
                "clé",
            ),
            (LINK.replace("as: others", "as: v"), "nomme déjà"),
            (LINK.replace("as: others", "as: fn"), "Rhai"),
            (format!("{LINK}    every: true\n"), "every"),
        ] {
            let err = load(&bad).expect_err(why);
            assert!(
                err.contains("joins.yaml") && err.contains(why),
                "{why}: {err}"
            );
        }
    }
}
