//! Functions vigie registers for rule authors (documented in docs/rules.md): identifier keys,
//! dates and working days, money. Heavy loops run here in Rust; the decision stays in scripts.

use chrono::{Datelike, NaiveDate};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString};

use super::calendar;

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// Luhn check over a string of digits (n° PS, RPPS, FINESS). False when not all digits.
pub fn luhn(s: &str) -> bool {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// NIR well-formed (identifiers.md): 13 characters, first `1`, `2`, `7` or `8`, characters
/// 2–5 and 8–13 digits, 6–7 digits or `2A`/`2B`.
pub fn nir_well_formed(nir: &str) -> bool {
    let b = nir.as_bytes();
    if b.len() != 13 || !matches!(b[0], b'1' | b'2' | b'7' | b'8') {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let dept = &b[5..7];
    digits(1..5)
        && digits(7..13)
        && (dept.iter().all(u8::is_ascii_digit) || dept == b"2A" || dept == b"2B")
}

/// NIR key = 97 − (N mod 97), `2A` read as `19` and `2B` as `18`. `None` when not well-formed.
pub fn nir_key(nir: &str) -> Option<i64> {
    if !nir_well_formed(nir) {
        return None;
    }
    let n: String = nir.replace("2A", "19").replace("2B", "18");
    let n: u64 = n.parse().ok()?;
    Some(97 - (n % 97) as i64)
}

/// `n / d` rounded half up (amounts are never negative in these formats; a negative `n`
/// rounds half away from zero).
pub fn round_div(n: i64, d: i64) -> Fallible<i64> {
    if d == 0 {
        return Err("round_div : division par zéro".into());
    }
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    Ok(if n >= 0 {
        (n + d / 2) / d
    } else {
        -((-n + d / 2) / d)
    })
}

/// Cents as a string with two decimals and a dot: `1250` → `"12.50"`.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// A date written `JJ/MM/AAAA`, as guidance texts show it.
pub fn date_fr(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn dated(d: Option<NaiveDate>, what: &str) -> Fallible<NaiveDate> {
    d.ok_or_else(|| format!("{what} : date hors limites").into())
}

/// Registers every helper on `engine`.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<NaiveDate>("Date");
    engine
        .register_fn("==", |a: NaiveDate, b: NaiveDate| a == b)
        .register_fn("!=", |a: NaiveDate, b: NaiveDate| a != b)
        .register_fn("<", |a: NaiveDate, b: NaiveDate| a < b)
        .register_fn("<=", |a: NaiveDate, b: NaiveDate| a <= b)
        .register_fn(">", |a: NaiveDate, b: NaiveDate| a > b)
        .register_fn(">=", |a: NaiveDate, b: NaiveDate| a >= b)
        .register_fn("to_string", date_fr)
        .register_fn("to_debug", date_fr)
        .register_fn("iso", |d: NaiveDate| d.format("%Y-%m-%d").to_string())
        .register_get("year", |d: &mut NaiveDate| i64::from(d.year()))
        .register_get("month", |d: &mut NaiveDate| i64::from(d.month()))
        .register_get("day", |d: &mut NaiveDate| i64::from(d.day()))
        .register_fn("date", |y: i64, m: i64, d: i64| -> Fallible<NaiveDate> {
            dated(
                NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32),
                "date(a, m, j)",
            )
        })
        .register_fn("add_months", |d: NaiveDate, n: i64| {
            dated(calendar::add_months(d, n), "add_months")
        })
        .register_fn("add_days", |d: NaiveDate, n: i64| {
            dated(calendar::add_days(d, n), "add_days")
        })
        .register_fn("days_between", |a: NaiveDate, b: NaiveDate| {
            (b - a).num_days()
        })
        .register_fn("working_days_after", calendar::working_days_after)
        .register_fn("is_working_day", calendar::is_working_day)
        .register_fn("is_public_holiday", calendar::is_public_holiday)
        .register_fn("luhn", |s: ImmutableString| luhn(&s))
        .register_fn("nir_well_formed", |s: ImmutableString| nir_well_formed(&s))
        .register_fn("nir_key", |s: ImmutableString| {
            nir_key(&s).map_or(Dynamic::UNIT, Dynamic::from)
        })
        .register_fn("round_div", round_div)
        .register_fn("euros", euros);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_examples_of_the_specification() {
        assert_eq!(nir_key("2550814168025"), Some(38));
        assert_eq!(nir_key("2951099126111"), Some(93));
        assert_eq!(nir_key("253072A073004"), Some(43));
        assert_eq!(nir_key("253072B073004"), Some(70));
        assert!(luhn("990781056"));
        assert!(luhn("10005173140"));
        assert!(luhn("750712184"));
        assert!(!luhn("10005678901"));
        assert!(!luhn(""));
        assert!(!luhn("99078105A"));
    }

    #[test]
    fn nir_forms() {
        assert!(nir_well_formed("2550814168025"));
        assert!(!nir_well_formed("3550814168025"), "first character");
        assert!(!nir_well_formed("255081416802"), "12 characters");
        assert!(
            !nir_well_formed("25508A4168025"),
            "letter in 2–5... position 6"
        );
        assert!(!nir_well_formed("253072C073004"), "2C is not Corsica");
        assert_eq!(nir_key("2530A2A073004"), None);
    }

    #[test]
    fn money() {
        assert_eq!(round_div(12345, 100).unwrap(), 123);
        assert_eq!(round_div(12350, 100).unwrap(), 124);
        assert_eq!(round_div(12349, 100).unwrap(), 123);
        assert!(round_div(1, 0).is_err());
        assert_eq!(euros(1250), "12.50");
        assert_eq!(euros(5), "0.05");
    }
}
