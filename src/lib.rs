//! vigie — a rules engine for French health-insurance back-office flows.
//!
//! Data flows one way (see ARCHITECTURE.md):
//! files → [`grammar`] (nom decoder) → records → [`facts`] (assembly, joins) → [`rules`] (Rhai)
//! → [`outcome`]s → [`report`]. [`pipeline`] runs that flow over many files on all cores.

#![forbid(unsafe_code)]
pub mod diag;
pub mod facts;
pub mod grammar;
pub mod outcome;
pub mod pipeline;
pub mod record;
pub mod report;
pub mod rules;

pub use rules::contain::panic_is_contained;
