//! Rule sets and their evaluation: manifest loading and checks, the Rhai engine and its
//! helpers, parallel-ready evaluators, and rule cases.

pub mod bindings;
pub mod check;
pub mod compiled;
pub mod contain;
pub mod engine;
pub mod eval;
pub mod fault;
pub mod helpers;
pub mod letters;
pub mod manifest;
pub mod participation;

pub use eval::Evaluator;
pub use manifest::RuleSet;
