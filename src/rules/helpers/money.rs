//! Money: rounding of cent amounts and their written form.

use rhai::Engine;

use super::Fallible;
use crate::rules::fault::fault;

/// `n / d` rounded half up (amounts are never negative in these formats; a negative `n`
/// rounds half away from zero). An error on a zero divisor or an overflow.
pub fn round_div(n: i64, d: i64) -> Fallible<i64> {
    let overflow =
        || -> Box<rhai::EvalAltResult> { "round_div : dépassement de capacité".into() };
    if d == 0 {
        return Err(fault("round_div : division par zéro"));
    }
    let (n, d) = if d < 0 {
        (
            n.checked_neg().ok_or_else(overflow)?,
            d.checked_neg().ok_or_else(overflow)?,
        )
    } else {
        (n, d)
    };
    let half = d / 2;
    let magnitude = n
        .unsigned_abs()
        .checked_add(half.unsigned_abs())
        .ok_or_else(overflow)?;
    let q = i64::try_from(magnitude / d.unsigned_abs()).map_err(|_| overflow())?;
    Ok(if n >= 0 { q } else { -q })
}

/// Cents as a string with two decimals and a dot: `1250` → `"12.50"`.
pub fn euros(cents: i64) -> String {
    crate::model::decimal_text(cents, 2)
}

/// Registers `round_div` and `euros`.
pub fn register(engine: &mut Engine) {
    engine
        .register_fn("round_div", round_div)
        .register_fn("euros", euros);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_half_up() {
        assert_eq!(round_div(12345, 100).unwrap(), 123);
        assert_eq!(round_div(12350, 100).unwrap(), 124);
        assert_eq!(round_div(12349, 100).unwrap(), 123);
        assert_eq!(round_div(-12350, 100).unwrap(), -124);
        assert_eq!(round_div(12350, -100).unwrap(), -124);
        assert!(round_div(1, 0).is_err());
    }

    #[test]
    fn extremes_are_errors_not_panics() {
        assert!(round_div(i64::MIN, -1).is_err());
        assert!(round_div(1, i64::MIN).is_err());
        assert_eq!(round_div(i64::MAX, 1).unwrap(), i64::MAX);
        assert_eq!(round_div(i64::MIN + 1, 1).unwrap(), i64::MIN + 1);
    }

    #[test]
    fn written_amounts() {
        assert_eq!(euros(1250), "12.50");
        assert_eq!(euros(5), "0.05");
        assert_eq!(euros(-5), "-0.05");
        assert_eq!(euros(i64::MIN), "-92233720368547758.08");
    }
}
