//! A YAML reader that keeps where everything is. The text is parsed once into a tree of nodes
//! that know their line and column; typed structures are deserialized from that tree with
//! serde, and every error — a misspelt key, a value of the wrong type, a missing key — is
//! located on the key or value it is about. [`Spanned`] keeps a value's place in the typed
//! structure, so that checks made after parsing (an unknown record, an overlapping zone)
//! point at the right line too.
//!
//! Scalars follow the YAML 1.2 core schema for `deserialize_any` (null, booleans, integers,
//! floats, strings); a plain scalar asked for as a string is the string as written, so that
//! `version: 2026.11` or `motif: 0101` stay text.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::Deserialize;

use super::fault::{Fault, FaultKind};
use crate::model::Span;

/// One YAML node and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar as written; `plain` when unquoted (only plain scalars are typed).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys and values in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value under `key`, for a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The entries of a mapping (empty for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }
}

/// A parsed YAML file: its path and text (for faults) and its root node.
#[derive(Debug, Clone)]
pub struct Doc {
    pub path: std::path::PathBuf,
    pub text: String,
    pub root: Node,
}

impl Doc {
    /// Parses `text`; a syntax error is a located fault.
    pub fn parse(path: &Path, text: String) -> Result<Doc, Fault> {
        let root = build(&text).map_err(|(span, msg)| {
            Fault::at(
                FaultKind::Syntax,
                path,
                &text,
                span,
                format!("YAML invalide : {msg}"),
            )
        })?;
        Ok(Doc {
            path: path.to_path_buf(),
            text,
            root,
        })
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<Doc, Fault> {
        Doc::parse(path, read_text(path)?)
    }

    /// Deserializes `node` (of this document) into `T`; the error is located.
    pub fn typed<T: DeserializeOwned>(&self, node: &Node) -> Result<T, Fault> {
        T::deserialize(node).map_err(|e| self.fault_from(e, node.span))
    }

    /// A fault at `span` of this document.
    pub fn fault(&self, kind: FaultKind, span: Span, message: impl Into<String>) -> Fault {
        Fault::at(kind, &self.path, &self.text, span, message)
    }

    fn fault_from(&self, e: Error, fallback: Span) -> Fault {
        self.fault(e.kind, e.span.unwrap_or(fallback), e.message)
    }
}

// ------------------------------------------------------------------ building the tree

fn span_of(s: &saphyr_parser::Span) -> Span {
    let len = s.end.index().saturating_sub(s.start.index());
    let single_line = s.end.line() == s.start.line();
    Span {
        line: u32::try_from(s.start.line()).unwrap_or(u32::MAX),
        column: u32::try_from(s.start.col() + 1).unwrap_or(u32::MAX),
        len: if single_line {
            u32::try_from(len).unwrap_or(1).max(1)
        } else {
            1
        },
    }
}

/// A node being built: a sequence or a mapping waiting for its children.
enum Open {
    Seq(Span, usize, Vec<Node>),
    Map(Span, usize, Vec<Node>),
}

/// The deepest nesting a file may have (the project's deepest is under 10): deeper, reading it
/// would only risk the stack.
const MAX_DEPTH: usize = 64;

/// The text of a file people edit, refused past [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String, Fault> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Err(Fault::file(
            FaultKind::BadValue,
            path,
            format!("fichier de {size} octets : au plus {MAX_FILE_BYTES}"),
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| Fault::file(FaultKind::Unreadable, path, format!("illisible : {e}")))
}

/// The most values a file may hold once its aliases are copied.
const MAX_NODES: usize = 1_000_000;

/// How many values a node holds, itself included.
fn size(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => items.iter().map(size).fold(1, usize::saturating_add),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| size(k).saturating_add(size(v)))
            .fold(1, usize::saturating_add),
        _ => 1,
    }
}

/// The largest file read (the project's largest is under 100 KB).
const MAX_FILE_BYTES: u64 = 16 << 20;

fn build(text: &str) -> Result<Node, (Span, String)> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            let at = Span::new(
                u32::try_from(m.line()).unwrap_or(u32::MAX),
                u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                1,
            );
            (at, e.info().to_string())
        })?;
        let at = span_of(&span);
        let done = match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain = style == ScalarStyle::Plain;
                let value = if plain && matches!(&*text, "" | "~" | "null" | "Null" | "NULL") {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    }
                };
                let node = Node { span: at, value };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => {
                    // Aliases copy their anchor: a chain of them must not grow without bound.
                    nodes = nodes.saturating_add(size(n));
                    if nodes > MAX_NODES {
                        return Err((at, format!("plus de {MAX_NODES} valeurs (alias en chaîne)")));
                    }
                    Some(n.clone())
                }
                None => return Err((at, "alias sans ancre".into())),
            },
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                return Err((at, format!("imbrication de plus de {MAX_DEPTH} niveaux")));
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Open::Seq(at, anchor, Vec::new()));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Open::Map(at, anchor, Vec::new()));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(span, anchor, items)) => {
                    finish(span, anchor, Value::Seq(items), &mut anchors)
                }
                Some(Open::Map(span, anchor, items)) => {
                    finish(span, anchor, Value::Map(pairs(items)), &mut anchors)
                }
                None => return Err((at, "fin de bloc inattendue".into())),
            },
            _ => None,
        };
        if let Some(node) = done {
            match stack.last_mut() {
                Some(Open::Seq(_, _, items) | Open::Map(_, _, items)) => items.push(node),
                None => {
                    if root.is_none() {
                        root = Some(node);
                    }
                }
            }
        }
    }
    Ok(root.unwrap_or(Node {
        span: Span::new(1, 1, 1),
        value: Value::Null,
    }))
}

fn finish(
    span: Span,
    anchor: usize,
    value: Value,
    anchors: &mut HashMap<usize, Node>,
) -> Option<Node> {
    let node = Node { span, value };
    if anchor > 0 {
        anchors.insert(anchor, node.clone());
    }
    Some(node)
}

fn pairs(items: Vec<Node>) -> Vec<(Node, Node)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

// ------------------------------------------------------------------ Spanned

const SPANNED: &str = "$vigie::Spanned";
const SPAN_FIELD: &str = "$span";
const VALUE_FIELD: &str = "$value";

/// A value with the place it was written at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spanned<T> {
    pub span: Span,
    pub value: T,
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("une valeur située")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let mut span = None;
                let mut value = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == SPAN_FIELD {
                        let (line, column, len): (u32, u32, u32) = map.next_value()?;
                        span = Some(Span { line, column, len });
                    } else {
                        value = Some(map.next_value()?);
                    }
                }
                match (span, value) {
                    (Some(span), Some(value)) => Ok(Spanned { span, value }),
                    _ => Err(de::Error::custom("valeur située incomplète")),
                }
            }
        }
        d.deserialize_struct(
            SPANNED,
            &[SPAN_FIELD, VALUE_FIELD],
            V(std::marker::PhantomData),
        )
    }
}

/// A mapping kept in file order, with typed keys and values (a decision table, a subject).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for Ordered<K, V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Ordered<K, V> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Vis<K, V> {
            type Value = Ordered<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("une table de clés et de valeurs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Vis(std::marker::PhantomData))
    }
}

// ------------------------------------------------------------------ Lenient

thread_local! {
    /// The last error a node of this thread's deserialization gave, with its place: a
    /// [`Lenient`] entry takes it back (serde hands it only a generic error).
    static LAST_ERROR: std::cell::RefCell<Option<Error>> = const { std::cell::RefCell::new(None) };
}

/// One entry of a list that is read on its own: a faulty entry is kept as its located error
/// and the other entries are still read, so that every fault of a file is reported at once.
#[derive(Debug, Clone, PartialEq)]
pub enum Lenient<T> {
    Ok(T),
    Bad(Error),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LAST_ERROR.with(|e| e.borrow_mut().take());
        match T::deserialize(d) {
            Ok(v) => Ok(Lenient::Ok(v)),
            Err(e) => {
                let located = LAST_ERROR.with(|l| l.borrow_mut().take());
                Ok(Lenient::Bad(located.unwrap_or_else(|| {
                    Error::new(FaultKind::BadValue, e.to_string())
                })))
            }
        }
    }
}

impl Doc {
    /// Splits lenient entries into the good ones and the faults of the others.
    pub fn sort_out<T>(&self, entries: Vec<Lenient<T>>, faults: &mut Vec<Fault>) -> Vec<T> {
        let mut good = Vec::with_capacity(entries.len());
        for e in entries {
            match e {
                Lenient::Ok(v) => good.push(v),
                Lenient::Bad(err) => faults.push(self.fault_from(err, self.root.span)),
            }
        }
        good
    }

    /// `node` (a mapping of this document) as `T`, after a fault for each of its keys that
    /// is not in `known`. A key reported missing that a misspelt key was meant to be is not
    /// reported twice.
    pub fn checked<T: DeserializeOwned>(
        &self,
        node: &Node,
        known: &[&str],
        faults: &mut Vec<Fault>,
    ) -> Option<T> {
        let meant = self.unknown_keys(node, known, faults);
        match T::deserialize(node) {
            Ok(v) => Some(v),
            Err(e) => {
                if !e.missing.is_some_and(|m| meant.contains(&m.to_string())) {
                    faults.push(self.fault_from(e, node.span));
                }
                None
            }
        }
    }

    /// Faults for the keys of `node` (a mapping) that are not in `known`, with the closest
    /// known key as a suggestion; returns the suggested keys.
    pub fn unknown_keys(
        &self,
        node: &Node,
        known: &[&str],
        faults: &mut Vec<Fault>,
    ) -> Vec<String> {
        let mut meant = Vec::new();
        for (k, _) in node.entries() {
            let Some(name) = k.as_str() else { continue };
            if !known.contains(&name) {
                let suggestion = super::suggest::closest(name, known.iter().copied());
                meant.extend(suggestion.map(str::to_string));
                let hint = suggestion
                    .map(|s| format!(" ; vouliez-vous dire « {s} » ?"))
                    .unwrap_or_default();
                faults.push(self.fault(
                    FaultKind::UnknownKey,
                    k.span,
                    format!(
                        "clé inconnue « {name} »{hint} (attendu : {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        meant
    }
}

// ------------------------------------------------------------------ errors

/// A deserialization error: its kind, its place when known, its message (in French).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: FaultKind,
    pub span: Option<Span>,
    pub message: String,
    /// For a missing key: its name.
    pub missing: Option<&'static str>,
}

impl Error {
    fn new(kind: FaultKind, message: String) -> Error {
        Error {
            kind,
            span: None,
            message,
            missing: None,
        }
    }

    /// Places the error at `span` unless an inner node already placed it, and keeps it for a
    /// [`Lenient`] entry that would catch it.
    fn at(mut self, span: Span) -> Error {
        self.span.get_or_insert(span);
        LAST_ERROR.with(|l| *l.borrow_mut() = Some(self.clone()));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

fn one_of(expected: &'static [&'static str]) -> String {
    if expected.is_empty() {
        "aucune n'est attendue ici".into()
    } else {
        format!("attendu : {}", expected.join(", "))
    }
}

fn unexpected_fr(u: de::Unexpected) -> String {
    match u {
        de::Unexpected::Bool(b) => format!("le booléen {b}"),
        de::Unexpected::Unsigned(n) => format!("le nombre {n}"),
        de::Unexpected::Signed(n) => format!("le nombre {n}"),
        de::Unexpected::Float(n) => format!("le nombre {n}"),
        de::Unexpected::Str(s) => format!("le texte « {s} »"),
        de::Unexpected::Unit => "une valeur vide".into(),
        de::Unexpected::Seq => "une liste".into(),
        de::Unexpected::Map => "une table".into(),
        other => other.to_string(),
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::new(FaultKind::BadValue, msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Error {
        Error::new(
            FaultKind::BadValue,
            format!("{} au lieu de {exp}", unexpected_fr(unexp)),
        )
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Error {
        Error::new(
            FaultKind::BadValue,
            format!("{} ne convient pas : {exp}", unexpected_fr(unexp)),
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Error {
        let hint = super::suggest::closest(variant, expected.iter().copied())
            .map(|s| format!(" ; vouliez-vous dire « {s} » ?"))
            .unwrap_or_default();
        Error::new(
            FaultKind::BadValue,
            format!("valeur inconnue « {variant} »{hint} ({})", one_of(expected)),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Error {
        let hint = super::suggest::closest(field, expected.iter().copied())
            .map(|s| format!(" ; vouliez-vous dire « {s} » ?"))
            .unwrap_or_default();
        Error::new(
            FaultKind::UnknownKey,
            format!("clé inconnue « {field} »{hint} ({})", one_of(expected)),
        )
    }

    fn missing_field(field: &'static str) -> Error {
        let mut e = Error::new(FaultKind::MissingKey, format!("clé « {field} » manquante"));
        e.missing = Some(field);
        e
    }

    fn duplicate_field(field: &'static str) -> Error {
        Error::new(
            FaultKind::Duplicate,
            format!("clé « {field} » donnée deux fois"),
        )
    }
}

// ------------------------------------------------------------------ the deserializer

/// YAML 1.2 core-schema reading of a plain scalar.
enum Typed<'a> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a str),
}

fn typed(text: &str) -> Typed<'_> {
    match text {
        "true" | "True" | "TRUE" => return Typed::Bool(true),
        "false" | "False" | "FALSE" => return Typed::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Typed::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Typed::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Typed::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Typed::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Typed::Int(i);
        }
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Typed::Int(i);
        }
        if let Ok(u) = text.parse::<u64>() {
            return Typed::Uint(u);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Typed::Float(f);
        }
    }
    Typed::Str(text)
}

impl<'de> de::Deserializer<'de> for &'de Node {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.value {
            Value::Null => v.visit_unit(),
            Value::Scalar { text, plain: false } => v.visit_borrowed_str(text),
            Value::Scalar { text, plain: true } => match typed(text) {
                Typed::Bool(b) => v.visit_bool(b),
                Typed::Int(i) => v.visit_i64(i),
                Typed::Uint(u) => v.visit_u64(u),
                Typed::Float(f) => v.visit_f64(f),
                Typed::Str(s) => v.visit_borrowed_str(s),
            },
            Value::Seq(items) => v.visit_seq(Seq(items.iter())),
            Value::Map(entries) => v.visit_map(Map {
                entries: entries.iter(),
                value: None,
            }),
        };
        r.map_err(|e| e.at(self.span))
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::Scalar { text, .. } => v
                .visit_borrowed_str::<Error>(text)
                .map_err(|e| e.at(self.span)),
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
        .map_err(|e| e.at(self.span))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self).map_err(|e| e.at(self.span))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            return v.visit_map(SpannedAccess {
                node: self,
                step: 0,
            });
        }
        match &self.value {
            // An empty entry (`defaults:` with nothing under it) is an empty table.
            Value::Null => v.visit_map(Map {
                entries: [].iter(),
                value: None,
            }),
            _ => self.deserialize_any(v),
        }
        .map_err(|e| e.at(self.span))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match &self.value {
            Value::Scalar { .. } => v.visit_enum(Enum {
                variant: self,
                content: None,
            }),
            Value::Map(entries) if entries.len() == 1 => match entries.first() {
                Some((k, c)) => v.visit_enum(Enum {
                    variant: k,
                    content: Some(c),
                }),
                None => self.deserialize_any(v),
            },
            _ => self.deserialize_any(v),
        }
        .map_err(|e| e.at(self.span))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.value {
            // An empty entry (`choices:` with nothing under it) is an empty list.
            Value::Null => v.visit_seq(Seq([].iter())).map_err(|e| e.at(self.span)),
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.value {
            // An empty entry (`params:` with nothing under it) is an empty table.
            Value::Null => v
                .visit_map(Map {
                    entries: [].iter(),
                    value: None,
                })
                .map_err(|e| e.at(self.span)),
            _ => self.deserialize_any(v),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf unit unit_struct
        tuple tuple_struct
    }
}

struct Seq<'de>(std::slice::Iter<'de, Node>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(n) => seed.deserialize(n).map(Some).map_err(|e| e.at(n.span)),
            None => Ok(None),
        }
    }
}

struct Map<'de> {
    entries: std::slice::Iter<'de, (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some).map_err(|e| e.at(k.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(v).map_err(|e| e.at(v.span)),
            None => Err(Error::new(FaultKind::Syntax, "valeur sans clé".into())),
        }
    }
}

/// Hands a [`Spanned`] its place, then its value.
struct SpannedAccess<'de> {
    node: &'de Node,
    step: u8,
}

impl<'de> MapAccess<'de> for SpannedAccess<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let key = match self.step {
            0 => SPAN_FIELD,
            1 => VALUE_FIELD,
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.step += 1;
        if self.step == 1 {
            let s = self.node.span;
            seed.deserialize(de::value::SeqDeserializer::new(
                [s.line, s.column, s.len].into_iter(),
            ))
        } else {
            seed.deserialize(self.node)
        }
    }
}

impl<'de> IntoDeserializer<'de, Error> for &'de Node {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

struct Enum<'de> {
    variant: &'de Node,
    content: Option<&'de Node>,
}

impl<'de> EnumAccess<'de> for Enum<'de> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let v = seed
            .deserialize(self.variant)
            .map_err(|e| e.at(self.variant.span))?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for Enum<'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        match self.content {
            None => Ok(()),
            Some(c) => Err(Error::new(
                FaultKind::BadValue,
                "une valeur simple est attendue".into(),
            )
            .at(c.span)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.content {
            Some(c) => seed.deserialize(c),
            None => Err(
                Error::new(FaultKind::BadValue, "une valeur est attendue".into())
                    .at(self.variant.span),
            ),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        match self.content {
            Some(c) => de::Deserializer::deserialize_seq(c, v),
            None => Err(
                Error::new(FaultKind::BadValue, "une liste est attendue".into())
                    .at(self.variant.span),
            ),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.content {
            Some(c) => de::Deserializer::deserialize_map(c, v),
            None => Err(
                Error::new(FaultKind::BadValue, "une table est attendue".into())
                    .at(self.variant.span),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        code: Spanned<String>,
        kind: Kind,
        #[serde(default)]
        from: Option<chrono::NaiveDate>,
        #[serde(default)]
        n: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Anomaly,
        Guidance,
    }

    fn doc(text: &str) -> Doc {
        Doc::parse(Path::new("t.yaml"), text.to_string()).unwrap()
    }

    #[test]
    fn values_keep_their_place() {
        let d =
            doc("rules:\n  - code: A\n    kind: anomaly\n  - { code: B, kind: guidance, n: 3 }\n");
        let rules = d.root.get("rules").unwrap();
        let Value::Seq(items) = &rules.value else {
            panic!()
        };
        let a: Rule = d.typed(&items[0]).unwrap();
        assert_eq!(a.code.value, "A");
        assert_eq!(a.code.span, Span::new(2, 11, 1));
        let b: Rule = d.typed(&items[1]).unwrap();
        assert_eq!(b.code.span, Span::new(4, 13, 1));
        assert_eq!(b.n, 3);
        assert_eq!(b.kind, Kind::Guidance);
    }

    #[test]
    fn errors_point_at_the_key_or_value_they_are_about() {
        let d = doc("- code: A\n  kind: anomaly\n  mesage: x\n- code: B\n  kind: anomali\n- kind: anomaly\n- code: C\n  kind: anomaly\n  from: 2026-02-30\n");
        let Value::Seq(items) = &d.root.value else {
            panic!()
        };
        let unknown = d.typed::<Rule>(&items[0]).unwrap_err();
        assert_eq!(
            (unknown.kind, unknown.line(), unknown.column()),
            (FaultKind::UnknownKey, Some(3), Some(3))
        );
        assert!(
            unknown.message.contains("mesage") && unknown.message.contains("code"),
            "{}",
            unknown.message
        );
        let variant = d.typed::<Rule>(&items[1]).unwrap_err();
        assert_eq!(
            (variant.kind, variant.line(), variant.column()),
            (FaultKind::BadValue, Some(5), Some(9))
        );
        let missing = d.typed::<Rule>(&items[2]).unwrap_err();
        assert_eq!(
            (missing.kind, missing.line()),
            (FaultKind::MissingKey, Some(6))
        );
        let date = d.typed::<Rule>(&items[3]).unwrap_err();
        assert_eq!(
            (date.kind, date.line(), date.column()),
            (FaultKind::BadValue, Some(9), Some(9))
        );
    }

    #[test]
    fn plain_scalars_asked_as_text_stay_as_written() {
        let d = doc("v: 2026.11\nm: 0101\nq: '12'\n");
        let m: Ordered<String, String> = d.typed(&d.root).unwrap();
        assert_eq!(m.0[0].1, "2026.11");
        assert_eq!(m.0[1].1, "0101");
        assert_eq!(m.0[2].1, "12");
        let any: Ordered<String, serde_json::Value> = d.typed(&d.root).unwrap();
        assert_eq!(any.0[1].1, serde_json::json!(101));
        assert_eq!(any.0[2].1, serde_json::json!("12"));
    }

    #[test]
    fn lenient_entries_keep_every_fault_and_every_good_entry() {
        #[derive(Deserialize)]
        struct File {
            rules: Vec<Lenient<Rule>>,
        }
        let d = doc("rules:\n  - { code: A, kind: anomaly }\n  - { code: B, kind: anomali }\n  - { code: C, kind: guidance, mesage: x }\n  - { code: D, kind: guidance }\n");
        let file: File = d.typed(&d.root).unwrap();
        let mut faults = Vec::new();
        let good = d.sort_out(file.rules, &mut faults);
        let codes: Vec<&str> = good.iter().map(|r| r.code.value.as_str()).collect();
        assert_eq!(codes, ["A", "D"]);
        let places: Vec<_> = faults
            .iter()
            .map(|f| (f.kind, f.line(), f.column()))
            .collect();
        assert_eq!(
            places,
            [
                (FaultKind::BadValue, Some(3), Some(22)),
                (FaultKind::UnknownKey, Some(4), Some(32))
            ]
        );
        assert!(
            faults[0].message.contains("« anomaly »"),
            "{}",
            faults[0].message
        );
        assert!(
            faults[1].message.contains("« mesage »"),
            "{}",
            faults[1].message
        );
    }

    #[test]
    fn a_syntax_error_is_located() {
        let err = Doc::parse(Path::new("t.yaml"), "a: [1\nb: 2".into()).unwrap_err();
        assert_eq!(err.kind, FaultKind::Syntax);
        assert_eq!(err.line(), Some(2));
    }

    #[test]
    fn a_nesting_too_deep_is_a_fault_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = Doc::parse(Path::new("t.yaml"), deep).unwrap_err();
        assert_eq!(err.kind, FaultKind::Syntax);
        let ok = format!("{}{}", "[".repeat(60), "]".repeat(60));
        assert!(Doc::parse(Path::new("t.yaml"), ok).is_ok());
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = Doc::parse(Path::new("t.yaml"), text).unwrap_err();
        assert_eq!(err.kind, FaultKind::Syntax);
        assert!(err.message.contains("alias"), "{}", err.message);
    }

    #[test]
    fn anchors_and_aliases_are_copied() {
        let d = doc("a: &x { k: 1 }\nb: *x\n");
        assert_eq!(
            d.root.get("b").unwrap().get("k").unwrap().as_str(),
            Some("1")
        );
    }
}
