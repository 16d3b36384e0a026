//! Grammars: the files of `grammars/` that describe each exchange format, loaded and validated
//! into the tables of [`crate::model`], and the generic nom decoder that interprets them.

pub mod compile;
pub mod decode;
pub mod doc;
pub mod field;
pub mod joins;
pub mod load;
pub mod spec;

pub use load::load;
