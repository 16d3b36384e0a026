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

/// Easter Sunday (anonymous Gregorian algorithm).
pub fn easter(year: i32) -> NaiveDate {
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
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a valid date")
}

/// French public holidays: 1 Jan, Easter Monday, 1 May, 8 May, Ascension Thursday, Whit
/// Monday, 14 Jul, 15 Aug, 1 Nov, 11 Nov, 25 Dec.
pub fn is_public_holiday(date: NaiveDate) -> bool {
    let fixed = matches!(
        (date.month(), date.day()),
        (1, 1) | (5, 1) | (5, 8) | (7, 14) | (8, 15) | (11, 1) | (11, 11) | (12, 25)
    );
    if fixed {
        return true;
    }
    let e = easter(date.year());
    let offset = (date - e).num_days();
    matches!(offset, 1 | 39 | 50)
}

/// Monday to Friday, public holidays excepted.
pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_public_holiday(date)
}

/// Working days `d` with `from < d <= to` (0 when `to <= from`).
pub fn working_days_after(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut n = 0;
    let mut d = from;
    while d < to {
        d = d.succ_opt().expect("date within range");
        if is_working_day(d) {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter(2024), d(2024, 3, 31));
        assert_eq!(easter(2025), d(2025, 4, 20));
        assert_eq!(easter(2026), d(2026, 4, 5));
        assert_eq!(easter(2027), d(2027, 3, 28));
    }

    #[test]
    fn movable_holidays_2026() {
        assert!(is_public_holiday(d(2026, 4, 6)), "Easter Monday");
        assert!(is_public_holiday(d(2026, 5, 14)), "Ascension");
        assert!(is_public_holiday(d(2026, 5, 25)), "Whit Monday");
        assert!(
            !is_public_holiday(d(2026, 4, 5)),
            "Easter Sunday itself is a Sunday, not listed"
        );
        assert!(!is_public_holiday(d(2026, 5, 15)));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        // Friday 6 Nov 2026 → Thursday 12 Nov: Mon 9, Tue 10, (Wed 11 = Armistice), Thu 12.
        assert_eq!(working_days_after(d(2026, 11, 6), d(2026, 11, 12)), 3);
        assert_eq!(working_days_after(d(2026, 11, 6), d(2026, 11, 6)), 0);
        assert_eq!(working_days_after(d(2026, 11, 9), d(2026, 11, 6)), 0);
        // Across the year end: Thu 24 Dec 2026 → Mon 4 Jan 2027: 28, 29, 30, 31 Dec, 4 Jan.
        assert_eq!(working_days_after(d(2026, 12, 24), d(2027, 1, 4)), 5);
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
