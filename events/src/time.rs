//! `--since`/`--until` values: RFC 3339 (with or without fraction and zone),
//! dates, Unix timestamps and Go durations meaning "that long before now".

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::{Error, Result};

/// Parses a time bound relative to `now`. Accepted, in this order:
/// - RFC 3339 with a zone: `2019-07-01T10:00:00Z`, `2019-07-01T10:00:00.5+02:00`;
/// - without a zone (UTC): `2019-07-01T10:00:00`, `2019-07-01T10:00:00.123`;
/// - a date, with or without a zone: `2019-07-01`, `2019-07-01+02:00` (midnight);
/// - a Unix timestamp: `1561975200`, `1561975200.5`;
/// - a Go duration before `now`: `300ms`, `10m`, `1h30m`, `1.5h`.
pub fn parse_time(value: &str, now: Timestamp) -> Result<Timestamp> {
    let s = value.trim();
    let invalid = || Error::InvalidTime {
        value: value.to_string(),
    };
    if s.is_empty() {
        return Err(invalid());
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if s.contains(['T', 't', ' '])
        && let Ok(dt) = s.parse::<DateTime>()
    {
        return Offset::UTC.to_timestamp(dt).map_err(|_| invalid());
    }
    if let Some(t) = parse_date(s) {
        return Ok(t);
    }
    if let Some(t) = parse_unix(s) {
        return Ok(t);
    }
    if let Ok(d) = parse_duration(s) {
        return now.checked_sub(d).map_err(|_| invalid());
    }
    Err(invalid())
}

/// `2006-01-02` (UTC) or `2006-01-02Z07:00` (`Z` or `±HH:MM`), at midnight.
fn parse_date(s: &str) -> Option<Timestamp> {
    let (date, zone) = (s.get(..10)?, s.get(10..)?);
    let date: Date = date.parse().ok()?;
    let offset = match zone {
        "" | "Z" | "z" => Offset::UTC,
        z => {
            let sign = match z.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = z.get(1..)?.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let h: i32 = h.parse().ok()?;
            let m: i32 = m.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()?
        }
    };
    date.to_datetime(jiff::civil::Time::midnight())
        .to_zoned_datetime(TimeZone::fixed(offset))
        .ok()
        .map(|z| z.timestamp())
}

/// `1690000000` or `1690000000.5` (at most nine fraction digits).
fn parse_unix(s: &str) -> Option<Timestamp> {
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let nanos: i32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Timestamp::new(secs, nanos).ok()
}

/// Parses a Go duration: an optional sign, then one or more decimal numbers
/// each with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `1h30m`,
/// `1.5h`, `300ms`; `0` alone is allowed. Days are not a unit.
pub fn parse_duration(value: &str) -> Result<SignedDuration> {
    let invalid = || Error::InvalidTime {
        value: value.to_string(),
    };
    let (neg, mut rest) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    if rest == "0" {
        return Ok(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(invalid()),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') || int.len() > 20 {
            return Err(invalid());
        }
        let int: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut part = int.checked_mul(scale).ok_or_else(invalid)?;
        // fraction: add frac * scale / 10^len, digit by digit
        let mut div: i128 = 1;
        for d in frac.bytes().take(18) {
            div *= 10;
            part += i128::from(d - b'0') * scale / div;
        }
        total = total.checked_add(part).ok_or_else(invalid)?;
        rest = tail;
    }
    if total > i128::from(i64::MAX) * 1_000_000_000 {
        return Err(invalid());
    }
    let d = SignedDuration::try_from_nanos_i128(total).ok_or_else(invalid)?;
    Ok(if neg { -d } else { d })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        match s.parse() {
            Ok(t) => t,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn now() -> Timestamp {
        ts("2024-05-06T12:00:00Z")
    }

    fn ok(s: &str) -> Timestamp {
        match parse_time(s, now()) {
            Ok(t) => t,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(ok("2019-07-01T10:00:00Z"), ts("2019-07-01T10:00:00Z"));
        assert_eq!(
            ok("2019-07-01T10:00:00.123456789+02:00"),
            ts("2019-07-01T08:00:00.123456789Z")
        );
        assert_eq!(ok("2019-07-01T10:00:00-05:00"), ts("2019-07-01T15:00:00Z"));
        // without a zone: UTC
        assert_eq!(ok("2019-07-01T10:00:00"), ts("2019-07-01T10:00:00Z"));
        assert_eq!(ok("2019-07-01T10:00:00.25"), ts("2019-07-01T10:00:00.25Z"));
        assert_eq!(ok("2019-07-01 10:00:00"), ts("2019-07-01T10:00:00Z"));
    }

    #[test]
    fn date_forms() {
        assert_eq!(ok("2019-07-01"), ts("2019-07-01T00:00:00Z"));
        assert_eq!(ok("2019-07-01Z"), ts("2019-07-01T00:00:00Z"));
        assert_eq!(ok("2019-07-01+02:00"), ts("2019-06-30T22:00:00Z"));
        assert_eq!(ok("2019-07-01-01:30"), ts("2019-07-01T01:30:00Z"));
    }

    #[test]
    fn unix_forms() {
        assert_eq!(ok("1561975200"), ts("2019-07-01T10:00:00Z"));
        assert_eq!(ok("1561975200.5"), ts("2019-07-01T10:00:00.5Z"));
        assert_eq!(ok("0"), ts("1970-01-01T00:00:00Z"));
        assert!(parse_time("1561975200.", now()).is_err());
        assert!(parse_time("1561975200.1234567891", now()).is_err());
    }

    #[test]
    fn duration_forms_are_before_now() {
        assert_eq!(ok("10m"), ts("2024-05-06T11:50:00Z"));
        assert_eq!(ok("1h30m"), ts("2024-05-06T10:30:00Z"));
        assert_eq!(ok("1.5h"), ts("2024-05-06T10:30:00Z"));
        assert_eq!(ok("300ms"), ts("2024-05-06T11:59:59.7Z"));
        assert_eq!(ok("2h45m30s"), ts("2024-05-06T09:14:30Z"));
        assert_eq!(ok("1500us"), ts("2024-05-06T11:59:59.9985Z"));
        assert_eq!(ok("10µs"), ts("2024-05-06T11:59:59.99999Z"));
        assert_eq!(ok("7ns"), ts("2024-05-06T11:59:59.999999993Z"));
    }

    #[test]
    fn go_durations() {
        let d = |s: &str| parse_duration(s).map_err(|e| e.to_string());
        assert_eq!(d("0"), Ok(SignedDuration::ZERO));
        assert_eq!(d("1h"), Ok(SignedDuration::from_hours(1)));
        assert_eq!(d("-1m"), Ok(-SignedDuration::from_mins(1)));
        assert_eq!(d(".5s"), Ok(SignedDuration::from_millis(500)));
        for bad in [
            "",
            "5",
            "1d",
            "h",
            "1.2.3s",
            "1hh",
            "--1s",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn garbage_is_an_error_with_a_remedy() {
        for bad in [
            "",
            "yesterday",
            "2019-13-01",
            "2019-07-01T25:00:00",
            "10 minutes",
            "1d",
        ] {
            let e = parse_time(bad, now()).err().map(|e| e.to_string());
            let Some(e) = e else {
                panic!("{bad:?} parsed");
            };
            assert!(e.starts_with("unable to interpret time value"), "{e}");
        }
    }
}
