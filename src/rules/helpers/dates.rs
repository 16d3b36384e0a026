//! Dates for rule authors: the `Date` type and its comparisons, `date(a, m, j)`, month and day
//! arithmetic, working days and public holidays (see [`super::calendar`]).

use chrono::{Datelike, NaiveDate};
use rhai::Engine;

use super::calendar;
use super::Fallible;
use crate::rules::fault::fault;

/// A date written `JJ/MM/AAAA`, as guidance texts show it.
pub fn date_fr(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn dated(d: Option<NaiveDate>, what: &str) -> Fallible<NaiveDate> {
    d.ok_or_else(|| fault(format!("{what} : date hors limites")))
}

/// The date `y-m-d`, an error when it is not a calendar date.
fn make_date(y: i64, m: i64, d: i64) -> Fallible<NaiveDate> {
    let parts = (i32::try_from(y), u32::try_from(m), u32::try_from(d));
    let date = match parts {
        (Ok(y), Ok(m), Ok(d)) => NaiveDate::from_ymd_opt(y, m, d),
        _ => None,
    };
    date.ok_or_else(|| fault("date(a, m, j) : pas une date du calendrier"))
}

fn gregorian<T>(v: Option<T>, what: &str) -> Fallible<T> {
    v.ok_or_else(|| {
        let (lo, hi) = (
            calendar::GREGORIAN_YEARS.start(),
            calendar::GREGORIAN_YEARS.end(),
        );
        fault(format!(
            "{what} : une année hors du calendrier connu ({lo}–{hi})"
        ))
    })
}

/// Working days after `from` up to `to`, as scripts get them (an error beyond the span and
/// the calendar vigie knows).
pub fn working_days_after(from: NaiveDate, to: NaiveDate) -> Fallible<i64> {
    if (to - from).num_days() > calendar::MAX_WORKING_SPAN_DAYS {
        return Err(fault(format!(
            "working_days_after : plus de {} jours entre les deux dates",
            calendar::MAX_WORKING_SPAN_DAYS
        )));
    }
    gregorian(calendar::working_days_after(from, to), "working_days_after")
}

/// Registers the `Date` type, its operators and the date helpers.
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
        .register_fn("date", make_date)
        .register_fn("add_months", |d: NaiveDate, n: i64| {
            dated(calendar::add_months(d, n), "add_months")
        })
        .register_fn("add_days", |d: NaiveDate, n: i64| {
            dated(calendar::add_days(d, n), "add_days")
        })
        .register_fn("days_between", |a: NaiveDate, b: NaiveDate| {
            (b - a).num_days()
        })
        .register_fn("working_days_after", working_days_after)
        .register_fn("is_working_day", |d: NaiveDate| {
            gregorian(calendar::is_working_day(d), "is_working_day")
        })
        .register_fn("is_public_holiday", |d: NaiveDate| {
            gregorian(calendar::is_public_holiday(d), "is_public_holiday")
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval<T: Clone + 'static>(script: &str) -> Result<T, String> {
        let mut e = Engine::new_raw();
        register(&mut e);
        e.eval::<T>(script).map_err(|err| err.to_string())
    }

    #[test]
    fn dates_outside_the_calendar_are_script_errors() {
        let err = eval::<bool>("is_public_holiday(date(-2959, 3, 1))").unwrap_err();
        assert!(err.contains("hors du calendrier"), "{err}");
        assert!(eval::<bool>("is_working_day(date(1200, 3, 1))").is_err());
        assert!(eval::<i64>("working_days_after(date(1, 1, 1), date(9999, 1, 1))").is_err());
        assert!(eval::<NaiveDate>("date(2026, 2, 30)").is_err());
        assert!(eval::<NaiveDate>("date(4294969296, 1, 1)").is_err());
        assert!(eval::<NaiveDate>("date(2026, -1, 1)").is_err());
    }

    #[test]
    fn dates_inside_the_calendar_work() {
        assert_eq!(
            eval::<bool>("is_public_holiday(date(2026, 5, 14))"),
            Ok(true)
        );
        assert_eq!(
            eval::<i64>("working_days_after(date(2026, 11, 6), date(2026, 11, 12))"),
            Ok(3)
        );
    }
}
