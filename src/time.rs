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

/// `YYYY-MM` of a UTC instant (the month a budget counts in).
pub fn utc_month(now_ms: u64) -> String {
    let (y, m, _) = civil_from_days((now_ms / DAY_MS) as i64);
    format!("{y:04}-{m:02}")
}

/// The first day (`YYYY-MM-01`) of the UTC month of `now_ms`.
pub fn utc_month_start(now_ms: u64) -> String {
    format!("{}-01", utc_month(now_ms))
}

/// The next UTC midnight after `now_ms`.
pub fn next_utc_midnight(now_ms: u64) -> u64 {
    now_ms + ms_until_utc_midnight(now_ms)
}

/// 00:00 UTC on the first day of the month after `now_ms`'s.
pub fn next_utc_month(now_ms: u64) -> u64 {
    let (y, m, _) = civil_from_days((now_ms / DAY_MS) as i64);
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(y, m, 1) as u64) * DAY_MS
}

/// An instant as RFC 3339 in UTC, to the second: `2026-11-26T12:00:00Z`.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// An RFC 3339 date-time (`2026-12-31T23:59:59Z`, fractions and `±HH:MM` offsets allowed) or a
/// plain date (`2026-12-31`, its midnight UTC) as epoch milliseconds; `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = text.trim();
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = match t.find(['T', 't', ' ']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut parts = date.split('-');
    let (y, mo, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if parts.next().is_some()
        || date.len() != 10
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if civil_from_days(days) != (y, mo, d) {
        return None;
    }
    let mut ms = days * DAY_MS as i64;
    if let Some(rest) = rest {
        let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let i = rest.rfind(['+', '-'])?;
            let (c, off) = rest.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            let (oh, om) = (num(oh)?, num(om)?);
            if oh > 23 || om > 59 {
                return None;
            }
            (c, sign * (oh * 3_600_000 + om * 60_000))
        };
        let (hms, frac) = match clock.split_once('.') {
            Some((h, f)) => (h, Some(f)),
            None => (clock, None),
        };
        let mut hms = hms.split(':');
        let (h, mi, s) = (num(hms.next()?)?, num(hms.next()?)?, num(hms.next()?)?);
        if hms.next().is_some() || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let frac_ms = match frac {
            Some(f) => {
                let digits = num(f)?;
                let len = f.len() as u32;
                if len >= 3 {
                    digits / 10_i64.pow(len - 3)
                } else {
                    digits * 10_i64.pow(3 - len)
                }
            }
            None => 0,
        };
        ms += h * 3_600_000 + mi * 60_000 + s * 1000 + frac_ms - offset_ms;
    }
    u64::try_from(ms).ok()
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
    fn rfc3339_both_ways() {
        let noon = parse_rfc3339("2026-11-26T12:00:00Z").unwrap();
        assert_eq!(rfc3339(noon), "2026-11-26T12:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-26T13:30:00+01:30"), Some(noon));
        assert_eq!(parse_rfc3339("2026-11-26T12:00:00.250Z"), Some(noon + 250));
        assert_eq!(parse_rfc3339("2026-11-26"), Some(noon - 12 * 3_600_000));
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "2026-11-26T25:00:00Z",
            "tomorrow",
            "2026-11-26T12:00Z",
            "2026-1-2",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(utc_month(noon), "2026-11");
        assert_eq!(utc_month_start(noon), "2026-11-01");
        assert_eq!(rfc3339(next_utc_month(noon)), "2026-12-01T00:00:00Z");
        assert_eq!(
            rfc3339(next_utc_month(
                parse_rfc3339("2026-12-31T23:59:59Z").unwrap()
            )),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(rfc3339(next_utc_midnight(noon)), "2026-11-27T00:00:00Z");
    }

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
