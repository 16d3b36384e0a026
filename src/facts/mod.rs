//! Facts: records assembled into nodes by the grammar's nesting (file → lot → invoice → line),
//! with structural recovery, physical counters and duplicate keys across files.

pub mod assemble;
mod codec;
mod held;
pub mod join;
pub mod keys;
pub mod read;
pub mod stash;

use crate::model::{Node, Subject, Value, ValuePath};

pub use assemble::Assembler;
pub use held::Frozen;
pub use join::Joiner;
pub use keys::KeyTracker;
pub use read::read_file;

/// Reads a value path against a chain of nodes from the root (`chain[depth]`); `#` and `#ligne`
/// read the last node's rank and line.
pub fn resolve<'a>(path: &ValuePath, chain: &[&'a Node]) -> Option<std::borrow::Cow<'a, Value>> {
    match path {
        ValuePath::Field { depth, field } => chain
            .get(*depth)
            .map(|n| std::borrow::Cow::Borrowed(n.field(field))),
        ValuePath::Index => chain
            .last()
            .map(|n| std::borrow::Cow::Owned(Value::Int(i64::from(n.rank)))),
        ValuePath::Line => chain
            .last()
            .map(|n| std::borrow::Cow::Owned(Value::Int(i64::from(n.line)))),
        ValuePath::Const(c) => Some(std::borrow::Cow::Owned(Value::Text(c.as_ref().into()))),
    }
}

/// The subject keys of the last node of `chain` with their values, per its group's `subject`
/// (absent values included).
pub fn subject_values<'c, 'n>(
    chain: &'c [&'n Node],
) -> impl Iterator<Item = (&'n std::sync::Arc<str>, std::borrow::Cow<'n, Value>)> + 'c {
    chain.last().into_iter().flat_map(move |last| {
        last.group
            .subject
            .iter()
            .filter_map(move |(k, p)| resolve(p, chain).map(|v| (k, v)))
    })
}

/// The subject of the last node of `chain`, per its group's `subject` (absent values left out).
pub fn subject_of(chain: &[&Node]) -> Subject {
    Subject(
        subject_values(chain)
            .filter_map(|(k, v)| v.display().map(|s| (k.clone(), s)))
            .collect(),
    )
}
