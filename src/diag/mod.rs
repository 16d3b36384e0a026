//! Load-time faults of the files business staff edit (grammars, joins, rule sets, cases): a
//! YAML reader that keeps every key's and value's place, and faults of a closed set of kinds
//! shown with their source line and a caret.

pub mod fault;
pub mod suggest;
pub mod yaml;

pub use fault::{Fault, FaultKind, Faults};
pub use yaml::{Doc, Lenient, Ordered, Spanned};
