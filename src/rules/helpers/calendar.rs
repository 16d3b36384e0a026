//! Calendar arithmetic of the catalogue: months with end-of-month clamping, French public
//! holidays and working days.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// `date` + `n` months, on the same day or the last day of the month when that day does not
/// exist (31 Jan + 1 month = 28/29 Feb). Negative `n` goes back.
pub fn add_months(date: NaiveDate, n: i64) -> Option<NaiveDate> {
    let m = Months::new(u32::try_from(n.unsigned_abs()).ok()?);
    if n >= 0 {
        date.checked_add_months(m)
    } else {
        date.checked_sub_months(m)
    }
}

/// `date` + `n` days.
pub fn add_days(date: NaiveDate, n: i64) -> Option<NaiveDate> {
    let d = Days::new(n.unsigned_abs());
    if n >= 0 {
        date.checked_add_days(d)
    } else {
        date.checked_sub_days(d)
    }
}

/// The Gregorian years the holiday calendar covers: Easter is computed for these only.
pub const GREGORIAN_YEARS: std::ops::RangeInclusive<i32> = 1583..=9999;

/// The longest span `working_days_after` counts, in days (a century): a longer one is a
/// mistake in a rule, not a delay.
pub const MAX_WORKING_SPAN_DAYS: i64 = 36_525;

/// Easter Sunday (anonymous Gregorian algorithm); `None` outside [`GREGORIAN_YEARS`].
pub fn easter(year: i32) -> Option<NaiveDate> {
    if !GREGORIAN_YEARS.contains(&year) {
        return None;
    }
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// French public holidays: 1 Jan, Easter Monday, 1 May, 8 May, Ascension Thursday, Whit
/// Monday, 14 Jul, 15 Aug, 1 Nov, 11 Nov, 25 Dec. `None` outside [`GREGORIAN_YEARS`].
pub fn is_public_holiday(date: NaiveDate) -> Option<bool> {
    let e = easter(date.year())?;
    let fixed = matches!(
        (date.month(), date.day()),
        (1, 1) | (5, 1) | (5, 8) | (7, 14) | (8, 15) | (11, 1) | (11, 11) | (12, 25)
    );
    let offset = (date - e).num_days();
    Some(fixed || matches!(offset, 1 | 39 | 50))
}

/// Monday to Friday, public holidays excepted. `None` outside [`GREGORIAN_YEARS`].
pub fn is_working_day(date: NaiveDate) -> Option<bool> {
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    Some(!weekend && !is_public_holiday(date)?)
}

/// Working days `d` with `from < d <= to` (0 when `to <= from`). `None` when a day falls
/// outside [`GREGORIAN_YEARS`] or the span exceeds [`MAX_WORKING_SPAN_DAYS`].
pub fn working_days_after(from: NaiveDate, to: NaiveDate) -> Option<i64> {
    if (to - from).num_days() > MAX_WORKING_SPAN_DAYS {
        return None;
    }
    let mut n = 0;
    let mut d = from;
    while d < to {
        d = d.succ_opt()?;
        if is_working_day(d)? {
            n += 1;
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter(2024), Some(d(2024, 3, 31)));
        assert_eq!(easter(2025), Some(d(2025, 4, 20)));
        assert_eq!(easter(2026), Some(d(2026, 4, 5)));
        assert_eq!(easter(2027), Some(d(2027, 3, 28)));
        assert_eq!(easter(1583), Some(d(1583, 4, 10)));
        assert_eq!(easter(9999), Some(d(9999, 3, 28)));
    }

    #[test]
    fn years_outside_the_gregorian_calendar_are_refused_not_panicked_on() {
        assert_eq!(easter(-2959), None);
        assert_eq!(easter(0), None);
        assert_eq!(easter(1582), None);
        assert_eq!(easter(10_000), None);
        assert_eq!(is_public_holiday(d(-2959, 3, 1)), None);
        assert_eq!(is_working_day(d(1500, 3, 1)), None);
        assert_eq!(working_days_after(d(1582, 12, 30), d(1583, 1, 3)), None);
    }

    #[test]
    fn a_span_longer_than_a_century_is_refused() {
        assert_eq!(working_days_after(d(1900, 1, 1), d(2001, 1, 1)), None);
        assert!(working_days_after(d(1950, 1, 1), d(2049, 12, 31)).is_some());
    }

    #[test]
    fn movable_holidays_2026() {
        assert_eq!(
            is_public_holiday(d(2026, 4, 6)),
            Some(true),
            "Easter Monday"
        );
        assert_eq!(is_public_holiday(d(2026, 5, 14)), Some(true), "Ascension");
        assert_eq!(is_public_holiday(d(2026, 5, 25)), Some(true), "Whit Monday");
        assert_eq!(
            is_public_holiday(d(2026, 4, 5)),
            Some(false),
            "Easter Sunday itself is a Sunday, not listed"
        );
        assert_eq!(is_public_holiday(d(2026, 5, 15)), Some(false));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        // Friday 6 Nov 2026 → Thursday 12 Nov: Mon 9, Tue 10, (Wed 11 = Armistice), Thu 12.
        assert_eq!(working_days_after(d(2026, 11, 6), d(2026, 11, 12)), Some(3));
        assert_eq!(working_days_after(d(2026, 11, 6), d(2026, 11, 6)), Some(0));
        assert_eq!(working_days_after(d(2026, 11, 9), d(2026, 11, 6)), Some(0));
        // Across the year end: Thu 24 Dec 2026 → Mon 4 Jan 2027: 28, 29, 30, 31 Dec, 4 Jan.
        assert_eq!(working_days_after(d(2026, 12, 24), d(2027, 1, 4)), Some(5));
    }

    #[test]
    fn months_clamp_to_the_month_end() {
        assert_eq!(add_months(d(2026, 1, 31), 1), Some(d(2026, 2, 28)));
        assert_eq!(add_months(d(2024, 1, 31), 1), Some(d(2024, 2, 29)));
        assert_eq!(add_months(d(2026, 11, 30), 3), Some(d(2027, 2, 28)));
        assert_eq!(add_months(d(2026, 3, 31), -1), Some(d(2026, 2, 28)));
        assert_eq!(add_days(d(2026, 2, 27), 3), Some(d(2026, 3, 2)));
    }
}
