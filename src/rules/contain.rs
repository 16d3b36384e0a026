//! Containment: a panic inside a rule's evaluation (a helper, the engine itself) must stop that
//! rule on that fact, never the analysis. [`contain`] turns it into an error value, and tells
//! the process's panic hook (through [`panic_is_contained`]) that nothing needs printing: the
//! failure is reported once, as the rule's `RULE` outcome.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static CONTAINED: Cell<u32> = const { Cell::new(0) };
}

/// Whether the current thread is evaluating a rule under containment: a panic there is
/// reported by vigie as a rule failure, so a panic hook should stay silent.
pub fn panic_is_contained() -> bool {
    CONTAINED.with(|c| c.get() > 0)
}

/// The message a contained panic is reported with: never the panic's own text, which could
/// quote data.
pub const CONTAINED_PANIC: &str =
    "erreur interne de vigie pendant l'évaluation (à signaler) ; la règle a été arrêtée sur ce fait";

/// A panic caught by [`contain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contained;

/// Runs `f`; a panic inside becomes `Err(Contained)`. State `f` touched must be treated as suspect by the
/// caller (caches are reset, scopes rewound).
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, Contained> {
    CONTAINED.with(|c| c.set(c.get().saturating_add(1)));
    let result = catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(c.get().saturating_sub(1)));
    result.map_err(|_| Contained)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_the_flag_is_cleared() {
        let r: Result<i32, Contained> = contain(|| {
            assert!(panic_is_contained());
            panic!("boom")
        });
        assert!(r.is_err());
        assert!(!panic_is_contained());
        assert_eq!(contain(|| 4), Ok(4));
    }
}
