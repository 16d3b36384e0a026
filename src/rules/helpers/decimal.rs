//! Exact decimals for computations that must not drift (a participation: rates × bases ×
//! shares × prorata): `decimal("0,0640")`, `cents(amount)`, `+ - * /`, comparisons,
//! `round(d, places)` half up, `fixed(d, places)` for the written form and `normalize(d)`
//! (trailing zeros dropped: `0.7000` → `0.7`). Never binary floating
//! point; an overflow or a division by zero is an error of the script.

use rhai::Engine;
use rust_decimal::{Decimal, RoundingStrategy};

use super::Fallible;
use crate::rules::fault::fault;

/// Reads `"0,0640"` or `"0.0640"` (a comma is the French decimal separator).
pub fn parse(text: &str) -> Fallible<Decimal> {
    text.trim()
        .replace(',', ".")
        .parse::<Decimal>()
        .map_err(|_| fault(format!("decimal : « {text} » n'est pas un nombre décimal")))
}

/// An amount in cents as a decimal of euros: `cents(12050)` is `120.50`.
pub fn cents(amount: i64) -> Decimal {
    Decimal::new(amount, 2)
}

/// `d` rounded half up (away from zero) to `places` decimals, its scale kept at `places`.
pub fn round(d: Decimal, places: i64) -> Fallible<Decimal> {
    let places = u32::try_from(places)
        .ok()
        .filter(|p| *p <= 28)
        .ok_or_else(|| fault("round : nombre de décimales entre 0 et 28"))?;
    let mut r = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(places);
    Ok(r)
}

/// `d` rounded half up and written with exactly `places` decimals and a dot: `"0.0640"`.
pub fn fixed(d: Decimal, places: i64) -> Fallible<String> {
    round(d, places).map(|r| r.to_string())
}

fn checked(r: Option<Decimal>, op: &str) -> Fallible<Decimal> {
    r.ok_or_else(|| fault(format!("décimal : dépassement de capacité ({op})")))
}

fn divide(a: Decimal, b: Decimal) -> Fallible<Decimal> {
    if b.is_zero() {
        return Err(fault("décimal : division par zéro"));
    }
    checked(a.checked_div(b), "/")
}

/// Registers the `decimal` type, its operators (with integers on either side) and functions.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Decimal>("decimal");
    engine
        .register_fn("decimal", parse)
        .register_fn("decimal", |i: i64| Decimal::from(i))
        .register_fn("cents", cents)
        .register_fn("round", round)
        .register_fn("fixed", fixed)
        .register_fn("normalize", |d: Decimal| d.normalize())
        .register_fn("to_string", |d: Decimal| d.to_string())
        .register_fn("to_debug", |d: Decimal| d.to_string())
        .register_fn("to_cents", |d: Decimal| -> Fallible<i64> {
            let c = round(d, 2)?.mantissa();
            i64::try_from(c).map_err(|_| fault("to_cents : dépassement de capacité"))
        });
    macro_rules! both_sides {
        ($($op:literal => $f:expr),*) => {$(
            engine
                .register_fn($op, |a: Decimal, b: Decimal| $f(a, b))
                .register_fn($op, |a: Decimal, b: i64| $f(a, Decimal::from(b)))
                .register_fn($op, |a: i64, b: Decimal| $f(Decimal::from(a), b));
        )*};
    }
    both_sides!(
        "+" => |a: Decimal, b| checked(a.checked_add(b), "+"),
        "-" => |a: Decimal, b| checked(a.checked_sub(b), "-"),
        "*" => |a: Decimal, b| checked(a.checked_mul(b), "*"),
        "/" => divide,
        "==" => |a: Decimal, b: Decimal| a == b,
        "!=" => |a: Decimal, b: Decimal| a != b,
        "<" => |a: Decimal, b: Decimal| a < b,
        "<=" => |a: Decimal, b: Decimal| a <= b,
        ">" => |a: Decimal, b: Decimal| a > b,
        ">=" => |a: Decimal, b: Decimal| a >= b
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(script: &str) -> Result<String, String> {
        let mut e = Engine::new();
        register(&mut e);
        e.eval::<rhai::Dynamic>(&format!("({script}).to_string()"))
            .map(|d| d.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn rounds_half_up_at_the_boundary_and_keeps_the_scale() {
        assert_eq!(eval(r#"round(decimal("0.84935"), 4)"#).unwrap(), "0.8494");
        assert_eq!(
            eval(r#"round(decimal("0.84934999"), 4)"#).unwrap(),
            "0.8493"
        );
        assert_eq!(eval(r#"fixed(decimal("8582.125"), 2)"#).unwrap(), "8582.13");
        assert_eq!(
            eval(r#"fixed(decimal("8582.1249"), 2)"#).unwrap(),
            "8582.12"
        );
        assert_eq!(eval(r#"fixed(decimal(0), 4)"#).unwrap(), "0.0000");
        assert_eq!(eval(r#"fixed(decimal("0,7"), 2)"#).unwrap(), "0.70");
        assert_eq!(eval(r#"normalize(decimal(7000) / 10000)"#).unwrap(), "0.7");
    }

    #[test]
    fn computes_exactly_where_floating_point_drifts() {
        // 0.1 + 0.2 is 0.30000000000000004 in binary floating point.
        assert_eq!(
            eval(r#"decimal("0.1") + decimal("0.2") == decimal("0.3")"#).unwrap(),
            "true"
        );
        assert_eq!(
            eval(r#"(cents(14570941) * decimal("0.0640") + cents(14570941) * decimal("0.0310")) * decimal("0.73") * decimal("0.8493")"#)
                .unwrap(),
            "8582.131982666550" // fixed(…, 2) gives the sample's 8582.13
        );
        assert_eq!(eval(r#"cents(12050) * 2 + 1"#).unwrap(), "242.00");
        assert_eq!(eval(r#"to_cents(decimal("12.345"))"#).unwrap(), "1235");
    }

    #[test]
    fn bad_input_is_an_error_of_the_script() {
        assert!(eval(r#"decimal("abc")"#)
            .unwrap_err()
            .contains("pas un nombre"));
        assert!(eval(r#"decimal(1) / 0"#)
            .unwrap_err()
            .contains("division par zéro"));
        assert!(eval(r#"round(decimal(1), -1)"#).is_err());
        assert!(eval(r#"decimal("79228162514264337593543950335") * 10"#).is_err());
    }
}
