//! Human-readable times as podman prints them (docker's go-units
//! `HumanDuration`): `Up 3 seconds`, `Exited (3) 2 minutes ago`.

use std::time::Duration;

/// go-units `HumanDuration`: "Less than a second", "1 second", "5 minutes",
/// "About an hour", "3 days", ...
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let minutes = secs / 60;
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

/// go-units `HumanSize`: decimal units, four significant digits
/// (`0B`, `512B`, `9.912MB`, `1.5GB`).
pub fn size(bytes: u64) -> String {
    size_with_precision(bytes, 4)
}

/// go-units `HumanSizeWithPrecision`: `precision` significant digits.
pub fn size_with_precision(bytes: u64, precision: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    // Go's %.Ng: N significant digits, trailing zeros dropped.
    let whole = if value >= 100.0 {
        3
    } else if value >= 10.0 {
        2
    } else {
        1
    };
    let digits = precision.saturating_sub(whole);
    let text = format!("{value:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}{}", UNITS[unit])
}

/// "5 minutes ago".
pub fn ago(d: Duration) -> String {
    format!("{} ago", duration(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go_units() {
        let s = Duration::from_secs;
        assert_eq!(duration(Duration::from_millis(300)), "Less than a second");
        assert_eq!(duration(s(1)), "1 second");
        assert_eq!(duration(s(3)), "3 seconds");
        assert_eq!(duration(s(60)), "About a minute");
        assert_eq!(duration(s(150)), "2 minutes");
        assert_eq!(duration(s(3600)), "About an hour");
        assert_eq!(duration(s(5 * 3600)), "5 hours");
        assert_eq!(duration(s(3 * 86400)), "3 days");
        assert_eq!(duration(s(21 * 86400)), "3 weeks");
        assert_eq!(duration(s(90 * 86400)), "3 months");
        assert_eq!(duration(s(800 * 86400)), "2 years");
        assert_eq!(ago(s(3)), "3 seconds ago");
    }

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(512), "512B");
        assert_eq!(size(9_912_000), "9.912MB");
        assert_eq!(size(1_500_000_000), "1.5GB");
        assert_eq!(size(123_456), "123.5kB");
        assert_eq!(size_with_precision(1_997_895, 3), "2MB");
        assert_eq!(size_with_precision(7_050_000, 3), "7.05MB");
    }
}
