//! Functions vigie registers for rule authors (documented in docs/rules.md), one file per
//! family: identifier keys, dates and working days, money, exact decimals. Heavy loops run here in Rust; the
//! decision stays in scripts. No helper panics: a bad argument is an error of the script.

pub mod calendar;
pub mod dates;
pub mod decimal;
pub mod identifiers;
pub mod money;

use rhai::{Engine, EvalAltResult};

pub use dates::date_fr;
pub use identifiers::{luhn, nir_key};

/// What a fallible helper returns to the script.
type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// Registers every helper on `engine`.
pub fn register(engine: &mut Engine) {
    dates::register(engine);
    decimal::register(engine);
    identifiers::register(engine);
    money::register(engine);
}
