//! Calendar arithmetic on epoch milliseconds (UTC), without a date library: the day a quota was
//! spent, and when it comes back.

pub const DAY_MS: u64 = 86_400_000;

/// `YYYY-MM-DD` of a UTC instant.
pub fn utc_date(now_ms: u64) -> String {
    let (y, m, d) = civil_from_days((now_ms / DAY_MS) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds until the next UTC midnight (never 0: at midnight itself, a whole day).
pub fn ms_until_utc_midnight(now_ms: u64) -> u64 {
    DAY_MS - now_ms % DAY_MS
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const HOUR_MS: u64 = 3_600_000;
/// China Standard Time, where Model Studio's plan windows turn.
const UTC8_MS: u64 = 8 * HOUR_MS;

/// The next Monday 00:00 in UTC+8 after `now_ms` (when a Coding Plan week renews).
pub fn next_monday_utc8(now_ms: u64) -> u64 {
    let local_days = ((now_ms + UTC8_MS) / DAY_MS) as i64;
    // 1970-01-01 was a Thursday: day 0 has weekday 3 counting Monday as 0.
    let weekday = (local_days + 3).rem_euclid(7);
    let next = local_days + 7 - weekday;
    (next as u64) * DAY_MS - UTC8_MS
}

/// The next 00:00 UTC+8 on day `day` of a month (the last day when a month is shorter) after
/// `now_ms`: when a monthly subscription renews.
pub fn next_month_day_utc8(now_ms: u64, day: u8) -> u64 {
    let local_days = ((now_ms + UTC8_MS) / DAY_MS) as i64;
    let (y, m, d) = civil_from_days(local_days);
    let on = |y: i64, m: i64| {
        let last = days_from_civil(
            if m == 12 { y + 1 } else { y },
            if m == 12 { 1 } else { m + 1 },
            1,
        ) - days_from_civil(y, m, 1);
        days_from_civil(y, m, i64::from(day).min(last))
    };
    let this_month = on(y, m);
    let target = if i64::from(day).min(31) > d && this_month > local_days {
        this_month
    } else if m == 12 {
        on(y + 1, 1)
    } else {
        on(y, m + 1)
    };
    (target as u64) * DAY_MS - UTC8_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(1_764_028_800_000), "2025-11-25");
        assert_eq!(utc_date(1_764_028_800_000 - 1), "2025-11-24");
        assert_eq!(ms_until_utc_midnight(1_764_028_800_000 - 1), 1);
        assert_eq!(ms_until_utc_midnight(1_764_028_800_000), DAY_MS);
    }

    #[test]
    fn plan_windows_turn_in_utc_plus_8() {
        // 2026-11-26 (a Thursday) 12:00 UTC = 20:00 UTC+8.
        let now = days_from_civil(2026, 11, 26) as u64 * DAY_MS + 12 * HOUR_MS;
        assert_eq!(
            civil_from_days(days_from_civil(2026, 11, 26)),
            (2026, 11, 26)
        );
        // Monday 2026-11-30 00:00 UTC+8 = Sunday 2026-11-29 16:00 UTC.
        let monday = next_monday_utc8(now);
        assert_eq!(utc_date(monday), "2026-11-29");
        assert_eq!(monday % DAY_MS, 16 * HOUR_MS);
        // Monday itself, just after the turn: the next Monday.
        assert_eq!(next_monday_utc8(monday + 1), monday + 7 * DAY_MS);
        // Day 5 of next month, day 31 in a 30-day month, and December to January.
        assert_eq!(
            utc_date(next_month_day_utc8(now, 5) + UTC8_MS),
            "2026-12-05"
        );
        assert_eq!(
            utc_date(next_month_day_utc8(now, 28) + UTC8_MS),
            "2026-11-28"
        );
        let in_nov = days_from_civil(2026, 11, 2) as u64 * DAY_MS;
        assert_eq!(
            utc_date(next_month_day_utc8(in_nov, 31) + UTC8_MS),
            "2026-11-30"
        );
        let dec = days_from_civil(2026, 12, 20) as u64 * DAY_MS;
        assert_eq!(
            utc_date(next_month_day_utc8(dec, 1) + UTC8_MS),
            "2027-01-01"
        );
    }
}
