//! Keys over a whole run: how many times each duplicate key was seen, in file order (`FAC-DBL`,
//! `PJ-DBL`, the joins' "first of its key"), and the table the join indexes keep their keys in
//! ([`KeyMap`]).

use std::hash::BuildHasher;

use foldhash::HashMap;
use hashbrown::HashTable;

use std::borrow::Cow;

use super::resolve;
use crate::model::{Node, Value, ValuePath};

/// The values of a key read against `chain`; `None` when a part is absent.
pub fn key_values<'a>(key: &[ValuePath], chain: &[&'a Node]) -> Option<Vec<Cow<'a, Value>>> {
    key.iter()
        .map(|p| resolve(p, chain).filter(|v| **v != Value::Absent))
        .collect()
}

/// The join key `key` reads against `chain`; `None` when a part is absent.
pub fn join_key(key: &[ValuePath], chain: &[&Node]) -> Option<JoinKey> {
    let parts = key_values(key, chain)?;
    let refs: Vec<&Value> = parts.iter().map(|v| &**v).collect();
    Some(JoinKey::of(&refs))
}

/// Whether a part of a key could not be read because of a fault (not merely left empty).
pub fn key_faulty(key: &[ValuePath], chain: &[&Node]) -> bool {
    key.iter().any(|p| match p {
        ValuePath::Field { depth, field } => {
            chain.get(*depth).is_some_and(|n| n.field_faulty(field))
        }
        _ => false,
    })
}

/// Where a key is counted: the duplicate key of a group (FAC-DBL), or the "first of its key"
/// decision of a link (only the first invoice of a key gets its PJ lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpace {
    /// A group, by its id in the grammar set.
    Group(usize),
    /// A link's claim space (links sharing their `from` group and key share one).
    Link(usize),
}

/// Counts key occurrences per group, in a [`KeyMap`] per key space: a national day of
/// invoices costs 20 bytes per key and space, and the table's spare room.
#[derive(Debug, Default)]
pub struct KeyTracker {
    spaces: HashMap<KeySpace, KeyMap>,
    /// The text of the key being counted (kept to spare an allocation per key).
    scratch: String,
}

/// A digits-only key in 128 bits: its parts' lengths (4 bits each, at most 7 parts) above the
/// number they make (at most 30 digits), as four words of 32 bits (so that a table entry with
/// its number takes 20 bytes).
type Packed = [u32; 4];

/// Bits of a packed key below its parts' lengths: 10^30 < 2^100.
const NUMBER_BITS: u32 = 100;

impl KeyTracker {
    /// Records the key of the last node of `chain` (nodes from the root down) and returns its
    /// occurrence: 0 when its group has no key or a key field is absent.
    pub fn occurrence(&mut self, chain: &[&Node]) -> u32 {
        let Some(node) = chain.last() else { return 0 };
        let group = &node.group;
        if group.key.is_empty() {
            return 0;
        }
        let Some(parts) = key_values(&group.key, chain) else {
            return 0;
        };
        let refs: Vec<&Value> = parts.iter().map(|v| &**v).collect();
        self.see(KeySpace::Group(group.id), &refs)
    }

    /// Drops the keys of `space`: none will be seen any more.
    pub fn forget(&mut self, space: KeySpace) {
        self.spaces.remove(&space);
    }

    /// Records one more occurrence of join key `key` in key space `space` and returns its rank
    /// (1 = first).
    pub fn see_key(&mut self, space: KeySpace, key: &JoinKey) -> u32 {
        count(self.spaces.entry(space).or_default(), key.as_key())
    }

    /// Records one more occurrence of `parts` in key space `space` (a group, a join) and returns
    /// its rank (1 = first).
    pub fn see(&mut self, space: KeySpace, parts: &[&Value]) -> u32 {
        let map = self.spaces.entry(space).or_default();
        if let Some(key) = pack(parts) {
            return count(map, Key::Packed(key));
        }
        self.scratch.clear();
        write_text_key(&mut self.scratch, parts.iter().copied());
        count(map, Key::Text(self.scratch.as_bytes()))
    }
}

/// One more occurrence of `key` in `map`; its rank.
fn count(map: &mut KeyMap, key: Key<'_>) -> u32 {
    let (n, _) = map.slot(key, 0);
    *n = n.saturating_add(1);
    *n
}

/// A key as a [`KeyMap`] looks it up: digits packed, or the text [`text_key`] writes.
#[derive(Debug, Clone, Copy)]
pub enum Key<'k> {
    /// Digits only, packed.
    Packed(Packed),
    /// Any other key, its text's bytes.
    Text(&'k [u8]),
}

/// Keys and a number each (a count, an id): digit keys packed in 16 bytes (20 bytes an entry),
/// other keys' bytes one after the other in one buffer (16 bytes an entry besides them), so
/// that no key costs an allocation of its own.
#[derive(Debug, Default)]
pub struct KeyMap {
    packed: HashMap<Packed, u32>,
    text: TextKeys,
}

impl KeyMap {
    /// The number of `key`, set to `new` first if the key is new (then `true`).
    pub fn slot(&mut self, key: Key<'_>, new: u32) -> (&mut u32, bool) {
        match key {
            Key::Packed(p) => {
                let mut inserted = false;
                let n = self.packed.entry(p).or_insert_with(|| {
                    inserted = true;
                    new
                });
                (n, inserted)
            }
            Key::Text(t) => self.text.slot(t, new),
        }
    }

    /// The number of `key`, if it is there.
    pub fn get(&self, key: Key<'_>) -> Option<u32> {
        match key {
            Key::Packed(p) => self.packed.get(&p).copied(),
            Key::Text(t) => self.text.get(t),
        }
    }
}

/// The text keys of a [`KeyMap`] (PJ fingerprints, keys with letters), their bytes one after
/// the other in one buffer: a key costs its length and 16 bytes, not a `String` of its own.
#[derive(Default)]
struct TextKeys {
    bytes: Vec<u8>,
    table: HashTable<TextKey>,
    /// Seeded per process: keys come from the files read, and must not be able to aim at one
    /// bucket.
    hasher: foldhash::fast::RandomState,
    /// The key being looked up, compacted.
    scratch: Vec<u8>,
}

/// A key of [`TextKeys`]: where its bytes are, and its number.
struct TextKey {
    at: u64,
    len: u32,
    number: u32,
}

impl TextKeys {
    /// The number of `key`, set to `new` first if the key is new (then `true`).
    fn slot(&mut self, key: &[u8], new: u32) -> (&mut u32, bool) {
        let TextKeys {
            bytes,
            table,
            hasher,
            scratch,
        } = self;
        compact(key, scratch);
        let key = scratch.as_slice();
        let hash = hasher.hash_one(key);
        let entry = table.entry(
            hash,
            |k| k.text(bytes) == key,
            |k| hasher.hash_one(k.text(bytes)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(found) => (&mut found.into_mut().number, false),
            hashbrown::hash_table::Entry::Vacant(place) => {
                let at = bytes.len() as u64;
                // A key of 4 GB or more cannot be: a record line is far shorter.
                let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
                bytes.extend_from_slice(key);
                let added = place.insert(TextKey {
                    at,
                    len,
                    number: new,
                });
                (&mut added.into_mut().number, true)
            }
        }
    }

    /// The number of `key`, if it is there.
    fn get(&self, key: &[u8]) -> Option<u32> {
        let mut compacted = Vec::new();
        compact(key, &mut compacted);
        let hash = self.hasher.hash_one(compacted.as_slice());
        self.table
            .find(hash, |k| k.text(&self.bytes) == compacted.as_slice())
            .map(|k| k.number)
    }
}

/// `key` (parts each followed by the separator) written more shortly into `out`, each key its
/// own writing: when every part is lowercase hexadecimal of even length (a fingerprint), two
/// digits a byte, each part after its length; otherwise as it is, after a marker.
fn compact(key: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(HEX);
    for part in key.split(|&b| b == SEPARATOR) {
        let packed = part.len() / 2;
        let hex =
            part.len() % 2 == 0 && part.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let (Ok(len), true) = (u8::try_from(packed), hex) else {
            out.clear();
            out.push(AS_IS);
            out.extend_from_slice(key);
            return;
        };
        out.push(len);
        for pair in part.chunks_exact(2) {
            let digit = |b: u8| {
                if b.is_ascii_digit() {
                    b - b'0'
                } else {
                    b - b'a' + 10
                }
            };
            if let [high, low] = pair {
                out.push(digit(*high) << 4 | digit(*low));
            }
        }
    }
}

/// The separator [`text_key`] writes after each part.
const SEPARATOR: u8 = 0x1f;
/// The markers of a compacted key: every part hexadecimal, or the key as it is.
const HEX: u8 = 1;
const AS_IS: u8 = 0;

impl TextKey {
    /// Its bytes in `bytes` (those of its [`TextKeys`]).
    fn text<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        let at = usize::try_from(self.at).unwrap_or(usize::MAX);
        bytes
            .get(at..at.saturating_add(self.len as usize))
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for TextKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextKeys")
            .field("keys", &self.table.len())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A join key as an index holds it: packed into 128 bits when it is digits only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JoinKey {
    /// Digits only.
    Packed(Packed),
    /// Any other key, as [`text_key`] writes it.
    Text(Box<str>),
}

impl JoinKey {
    /// The key as a [`KeyMap`] looks it up.
    pub fn as_key(&self) -> Key<'_> {
        match self {
            JoinKey::Packed(p) => Key::Packed(*p),
            JoinKey::Text(t) => Key::Text(t.as_bytes()),
        }
    }

    /// The key of `parts`, as their texts: a number and the same digits as text are one key.
    pub fn of(parts: &[&Value]) -> JoinKey {
        if let Some(p) = pack(parts) {
            return JoinKey::Packed(p);
        }
        let text = text_key(parts.iter().copied());
        match pack_texts(text.split_terminator(char::from(SEPARATOR))) {
            Some(p) => JoinKey::Packed(p),
            None => JoinKey::Text(text.into()),
        }
    }
}

/// A key as one string, its parts separated by a control character no field holds.
pub fn text_key<'v>(parts: impl IntoIterator<Item = &'v Value>) -> String {
    let mut s = String::with_capacity(32);
    write_text_key(&mut s, parts);
    s
}

/// Appends the key of `parts` to `out`, as [`text_key`] writes it.
fn write_text_key<'v>(out: &mut String, parts: impl IntoIterator<Item = &'v Value>) {
    for p in parts {
        p.write_display(out);
        out.push(char::from(SEPARATOR));
    }
}

/// Digits-only parts as (lengths signature, concatenated number); `None` when not packable.
fn pack(parts: &[&Value]) -> Option<Packed> {
    fn text<'v>(p: &&'v Value) -> Option<&'v str> {
        match p {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
    if !parts.iter().all(|p| text(p).is_some()) {
        return None;
    }
    pack_texts(parts.iter().filter_map(text))
}

/// Digits-only texts as (lengths signature, concatenated number); `None` when not packable.
fn pack_texts<'t>(parts: impl Iterator<Item = &'t str>) -> Option<Packed> {
    let mut value: u128 = 0;
    let mut lens: u128 = 0;
    let mut total = 0usize;
    for (i, t) in parts.enumerate() {
        if i >= 7 || t.len() > 15 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total += t.len();
        if total > 30 {
            return None;
        }
        lens = lens << 4 | t.len() as u128;
        for b in t.bytes() {
            value = value * 10 + u128::from(b - b'0');
        }
    }
    let key = lens << NUMBER_BITS | value;
    Some([
        (key >> 96) as u32,
        (key >> 64) as u32,
        (key >> 32) as u32,
        key as u32,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn counts_each_key_apart() {
        let mut k = KeyTracker::default();
        assert_eq!(
            k.see(KeySpace::Group(1), &[&t("992748186"), &t("000000001")]),
            1
        );
        assert_eq!(
            k.see(KeySpace::Group(1), &[&t("992748186"), &t("000000002")]),
            1
        );
        assert_eq!(
            k.see(KeySpace::Group(1), &[&t("992748186"), &t("000000001")]),
            2
        );
        assert_eq!(
            k.see(KeySpace::Group(2), &[&t("992748186"), &t("000000001")]),
            1,
            "other group"
        );
        // Same digits, split differently: not the same key.
        assert_eq!(k.see(KeySpace::Group(3), &[&t("12"), &t("345")]), 1);
        assert_eq!(k.see(KeySpace::Group(3), &[&t("123"), &t("45")]), 1);
        assert_eq!(k.see(KeySpace::Group(3), &[&t("A1"), &t("45")]), 1);
        assert_eq!(k.see(KeySpace::Group(3), &[&t("A1"), &t("45")]), 2);
    }

    #[test]
    fn text_keys_keep_their_counts_as_the_table_grows() {
        let mut k = KeyTracker::default();
        let fingerprint = |i: usize| t(&format!("{:064x}", i * 7919));
        for round in 1..=2 {
            for i in 0..5_000 {
                assert_eq!(
                    k.see(KeySpace::Group(9), &[&fingerprint(i)]),
                    round,
                    "key {i}"
                );
            }
        }
        // The same text through a join key, in another space, then in the same one.
        let key = JoinKey::of(&[&fingerprint(3)]);
        assert!(matches!(key, JoinKey::Text(_)));
        assert_eq!(k.see_key(KeySpace::Link(0), &key), 1);
        assert_eq!(k.see_key(KeySpace::Group(9), &key), 3);
    }

    #[test]
    fn compact_keys_are_one_writing_per_key() {
        let mut seen = std::collections::HashMap::new();
        let keys: [&[u8]; 9] = [
            b"ab\x1f",
            b"AB\x1f",
            b"abc\x1f",
            b"ab\x1fcd\x1f",
            b"abcd\x1f",
            b"\x1f",
            b"\x1f\x1f",
            b"0a\x1f",
            b"g0\x1f",
        ];
        let mut out = Vec::new();
        for key in keys {
            compact(key, &mut out);
            assert!(
                seen.insert(out.clone(), key).is_none(),
                "{key:?} written as another"
            );
        }
        compact(
            &[b'f'; 64]
                .iter()
                .copied()
                .chain([SEPARATOR])
                .collect::<Vec<u8>>(),
            &mut out,
        );
        // The marker, the part's length, 32 bytes, the empty part after the last separator.
        assert_eq!(
            out.len(),
            1 + 1 + 32 + 1,
            "a fingerprint in half its length"
        );
    }

    #[test]
    fn a_key_map_gives_back_the_number_set_first() {
        let mut map = KeyMap::default();
        let digits = JoinKey::of(&[&t("992748186"), &t("001")]);
        let letters = JoinKey::of(&[&t("2A"), &t("001")]);
        for (key, n) in [(&digits, 7), (&letters, 9)] {
            assert_eq!(map.get(key.as_key()), None);
            let (slot, new) = map.slot(key.as_key(), n);
            assert!(new);
            assert_eq!(*slot, n);
            *slot += 1;
            let (slot, new) = map.slot(key.as_key(), 0);
            assert!(!new, "seen before");
            assert_eq!(*slot, n + 1);
            assert_eq!(map.get(key.as_key()), Some(n + 1));
        }
        assert_eq!(map.get(JoinKey::of(&[&t("2B"), &t("001")]).as_key()), None);
    }

    #[test]
    fn long_digit_keys_are_counted_as_text() {
        let mut k = KeyTracker::default();
        let fifteen = t(&"9".repeat(15));
        let sixteen = t(&"9".repeat(16));
        let thirty = [&fifteen, &fifteen];
        let thirty_one = [&fifteen, &sixteen];
        assert!(matches!(JoinKey::of(&thirty), JoinKey::Packed(_)));
        assert!(matches!(JoinKey::of(&thirty_one), JoinKey::Text(_)));
        assert!(matches!(JoinKey::of(&[&sixteen]), JoinKey::Text(_)));
        let eight: Vec<Value> = (0..8).map(|i| t(&i.to_string())).collect();
        let refs: Vec<&Value> = eight.iter().collect();
        assert!(matches!(JoinKey::of(&refs), JoinKey::Text(_)));
        assert!(matches!(JoinKey::of(&refs[..7]), JoinKey::Packed(_)));
        for round in 1..=2 {
            assert_eq!(k.see(KeySpace::Group(4), &thirty), round);
            assert_eq!(k.see(KeySpace::Group(4), &thirty_one), round);
            assert_eq!(k.see(KeySpace::Group(4), &refs), round);
        }
        // Leading zeros count: "007" and "7" are two keys.
        assert_eq!(k.see(KeySpace::Group(5), &[&t("007")]), 1);
        assert_eq!(k.see(KeySpace::Group(5), &[&t("7")]), 1);
    }

    #[test]
    fn a_number_and_its_digits_as_text_are_one_join_key() {
        assert_eq!(
            JoinKey::of(&[&Value::Int(42), &t("7")]),
            JoinKey::of(&[&t("42"), &t("7")])
        );
        assert_ne!(
            JoinKey::of(&[&t("42"), &t("7")]),
            JoinKey::of(&[&t("4"), &t("27")])
        );
    }
}
