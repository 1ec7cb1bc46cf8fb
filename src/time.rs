//! Calendar arithmetic on epoch milliseconds (UTC), without a date library: the day a quota was
//! spent, and when it comes back.

pub const DAY_MS: u64 = 86_400_000;

/// `YYYY-MM-DD` of a UTC instant (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_date(now_ms: u64) -> String {
    let days = (now_ms / DAY_MS) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds until the next UTC midnight (never 0: at midnight itself, a whole day).
pub fn ms_until_utc_midnight(now_ms: u64) -> u64 {
    DAY_MS - now_ms % DAY_MS
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
}
