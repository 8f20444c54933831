//! Whole-second UTC timestamps and their two spellings: ISO 8601 in bodies, HTTP dates in headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch. GitHub's timestamps have one-second resolution, and so do
/// `Last-Modified` / `If-Modified-Since`, so nothing finer is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Timestamp(secs as i64)
    }

    /// `2024-01-02T03:04:05Z`, as GitHub writes `created_at` and friends.
    pub fn iso(self) -> String {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// `Tue, 02 Jan 2024 03:04:05 GMT` for `Last-Modified`.
    pub fn http_date(self) -> String {
        httpdate::fmt_http_date(self.system_time())
    }

    pub fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.max(0) as u64)
    }

    pub fn parse_http_date(s: &str) -> Option<Self> {
        let t = httpdate::parse_http_date(s.trim()).ok()?;
        Some(Timestamp(t.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64))
    }

    /// Accepts `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` (what `since=` and search dates use).
    pub fn parse_iso(s: &str) -> Option<Self> {
        let s = s.trim();
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t.trim_end_matches('Z'))),
            None => (s, None),
        };
        let mut parts = date.split('-').map(|p| p.parse::<i64>().ok());
        let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        let mut secs = days_from_civil(y, m, d) * 86_400;
        if let Some(t) = time {
            let mut hms = t.split(':').map(|p| p.parse::<i64>().ok());
            let h = hms.next()??;
            let mi = hms.next().unwrap_or(Some(0))?;
            let s = hms.next().unwrap_or(Some(0))?;
            secs += h * 3600 + mi * 60 + s;
        }
        Some(Timestamp(secs))
    }
}

// Howard Hinnant's days/civil conversions: exact for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips() {
        let t = Timestamp(1_704_164_645); // 2024-01-02T03:04:05Z
        assert_eq!(t.iso(), "2024-01-02T03:04:05Z");
        assert_eq!(Timestamp::parse_iso(&t.iso()), Some(t));
        assert_eq!(Timestamp::parse_iso("2024-01-02"), Some(Timestamp(1_704_153_600)));
        assert_eq!(Timestamp::parse_iso("2024-13-02"), None);
    }

    #[test]
    fn http_date_round_trips() {
        let t = Timestamp(1_704_164_645);
        assert_eq!(t.http_date(), "Tue, 02 Jan 2024 03:04:05 GMT");
        assert_eq!(Timestamp::parse_http_date(&t.http_date()), Some(t));
    }
}
