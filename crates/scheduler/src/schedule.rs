//! When a task runs: the schedule syntax and next fire times in a timezone.
//!
//! Accepted forms (case does not matter):
//! - `daily HH:MM`
//! - `weekly mon,fri HH:MM` (days as names, lists or ranges like `mon-fri`)
//! - `monthly D HH:MM` (day of month 1–31; months without that day are skipped)
//! - `every N minutes`, `every N hours`, `every minute`, `hourly`
//! - a standard 5-field crontab: `minute hour day-of-month month day-of-week`,
//!   where day-of-week 0 or 7 is Sunday and 1 is Monday.
//!
//! Calendar schedules are read in the task's timezone and stay at the same
//! wall-clock time across daylight-saving changes. A time that does not
//! exist on the day clocks go forward runs once, just after the gap; a time
//! that happens twice on the day clocks go back runs once, the first time.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid schedule `{text}`: {reason}. Use e.g. `daily 08:00`, `weekly mon,fri 09:00`, `monthly 1 09:00`, `every 15 minutes` or a crontab like `0 9 * * 1-5`"
)]
pub struct ScheduleError {
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timezone `{0}`: use an IANA name like Europe/Berlin, America/New_York or UTC")]
pub struct TimezoneError(pub String);

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Wall-clock times, as a 6-field `cron` crate expression (seconds first,
    /// day-of-week by name).
    Calendar(Box<cron::Schedule>),
    /// A fixed interval, aligned to the epoch so `every 15 minutes` fires at
    /// :00, :15, :30 and :45.
    Every(Duration),
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An IANA timezone by name.
pub fn timezone(name: &str) -> Result<Tz, TimezoneError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| TimezoneError(name.to_owned()))
}

const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn day_name(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    if let Ok(number) = lower.parse::<usize>() {
        // Crontab counts 0 (or 7) = Sunday, 1 = Monday; names avoid the
        // cron crate's 1 = Sunday numbering.
        return DAYS.get(number % 7).copied().filter(|_| number <= 7);
    }
    // `mon`, `monday`, `Mon` all name Monday.
    DAYS.iter()
        .copied()
        .find(|day| lower.len() >= 3 && lower.starts_with(&day.to_ascii_lowercase()))
}

/// A day-of-week field (`mon-fri`, `1,3,5`, `*`, `*/2`) with names for numbers.
fn days_field(field: &str) -> Option<String> {
    if field == "*" || field == "?" {
        return Some("*".into());
    }
    let parts: Option<Vec<String>> = field
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            let range = if range == "*" {
                "SUN-SAT".to_owned()
            } else {
                let ends: Option<Vec<&str>> = range.split('-').map(day_name).collect();
                let ends = ends?;
                if ends.is_empty() || ends.len() > 2 {
                    return None;
                }
                ends.join("-")
            };
            Some(match step {
                Some(step) if step.parse::<u32>().is_ok_and(|s| s > 0) => format!("{range}/{step}"),
                Some(_) => return None,
                None => range,
            })
        })
        .collect();
    parts.map(|p| p.join(","))
}

fn time_of_day(text: &str) -> Option<(u32, u32)> {
    let (hour, minute) = text.split_once(':')?;
    let (hour, minute): (u32, u32) = (hour.parse().ok()?, minute.parse().ok()?);
    (hour < 24 && minute < 60).then_some((hour, minute))
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| ScheduleError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let lower = normalized.to_ascii_lowercase();
        let words: Vec<&str> = lower.split(' ').collect();
        let calendar = |expression: String| -> Result<Schedule, ScheduleError> {
            cron::Schedule::from_str(&expression)
                .map(|schedule| Schedule {
                    text: normalized.clone(),
                    kind: Kind::Calendar(Box::new(schedule)),
                })
                // The cron crate's message quotes the translated 6-field
                // expression, which the user never wrote.
                .map_err(|_| {
                    invalid(
                        "a field is out of range or malformed (minute 0-59, hour 0-23, day 1-31, \
                         month 1-12 or jan-dec, weekday 0-7 or sun-sat)",
                    )
                })
        };
        let every = |minutes: i64| -> Result<Schedule, ScheduleError> {
            if !(1..=60 * 24 * 31).contains(&minutes) {
                return Err(invalid("the interval must be between 1 minute and 31 days"));
            }
            Ok(Schedule {
                text: normalized.clone(),
                kind: Kind::Every(Duration::minutes(minutes)),
            })
        };
        match words.as_slice() {
            ["daily", time] => {
                let (hour, minute) =
                    time_of_day(time).ok_or_else(|| invalid("the time must be HH:MM"))?;
                calendar(format!("0 {minute} {hour} * * *"))
            }
            ["weekly", days, time] => {
                let (hour, minute) =
                    time_of_day(time).ok_or_else(|| invalid("the time must be HH:MM"))?;
                let days = days_field(days).ok_or_else(|| {
                    invalid("days must be names like mon,fri or a range like mon-fri")
                })?;
                calendar(format!("0 {minute} {hour} * * {days}"))
            }
            ["monthly", day, time] => {
                let (hour, minute) =
                    time_of_day(time).ok_or_else(|| invalid("the time must be HH:MM"))?;
                let day: u32 = day
                    .parse()
                    .ok()
                    .filter(|d| (1..=31).contains(d))
                    .ok_or_else(|| invalid("the day of the month must be 1 to 31"))?;
                calendar(format!("0 {minute} {hour} {day} * *"))
            }
            ["hourly"] => every(60),
            ["every", "minute"] => every(1),
            ["every", "hour"] => every(60),
            ["every", count, unit] => {
                let count: i64 = count
                    .parse()
                    .map_err(|_| invalid("the interval must be a whole number"))?;
                match unit.trim_end_matches('s') {
                    "minute" | "min" => every(count),
                    "hour" => every(count.saturating_mul(60)),
                    _ => Err(invalid("the unit must be minutes or hours")),
                }
            }
            [minute, hour, day, month, weekday] => {
                let weekday = days_field(weekday)
                    .ok_or_else(|| invalid("the day-of-week field must use 0-7 or names"))?;
                let expression = format!("0 {minute} {hour} {day} {month} {weekday}");
                calendar(expression)
            }
            _ => Err(invalid("not a form agencybot knows")),
        }
    }
}

impl Schedule {
    /// The first fire time strictly after `after`, reading the schedule in `tz`.
    #[must_use]
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(interval) => {
                let step = interval.num_seconds().max(1);
                let next = (after.timestamp().div_euclid(step) + 1) * step;
                DateTime::from_timestamp(next, 0)
            }
            Kind::Calendar(schedule) => {
                // Walk the wall clock: the cron crate sees local times as if
                // they were UTC, and each is then placed in the timezone.
                let mut local = after.with_timezone(&tz).naive_local();
                for _ in 0..10_000 {
                    let fake = Utc.from_utc_datetime(&local);
                    let next_local = schedule.after(&fake).next()?.naive_utc();
                    let instant = place(next_local, tz)?;
                    if instant > after {
                        return Some(instant);
                    }
                    local = next_local;
                }
                None
            }
        }
    }

    /// The latest fire time at or before `now` that is after `since`, if any.
    #[must_use]
    pub fn latest_between(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        if let Kind::Every(interval) = &self.kind {
            let step = interval.num_seconds().max(1);
            let latest = DateTime::from_timestamp(now.timestamp().div_euclid(step) * step, 0)?;
            return (latest >= since).then_some(latest);
        }
        let mut latest = None;
        let mut cursor = since - Duration::seconds(1);
        for _ in 0..100_000 {
            match self.next_after(cursor, tz) {
                Some(next) if next <= now => {
                    latest = Some(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        latest
    }
}

/// A wall-clock time in `tz`: the first of two when clocks go back, and the
/// first valid minute after the gap when they go forward.
fn place(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(time) => Some(time.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        // The first minute that exists again is the end of the gap.
        LocalResult::None => (1..=180).find_map(|minutes| {
            match tz.from_local_datetime(&(local + Duration::minutes(minutes))) {
                LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => {
                    Some(time.with_timezone(&Utc))
                }
                LocalResult::None => None,
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fires(schedule: &str, tz: &str, from: &str, count: usize) -> Vec<String> {
        let schedule: Schedule = schedule.parse().unwrap();
        let tz = timezone(tz).unwrap();
        let mut at = utc(from);
        let mut out = Vec::new();
        for _ in 0..count {
            at = schedule.next_after(at, tz).unwrap();
            out.push(
                at.with_timezone(&tz)
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string(),
            );
        }
        out
    }

    #[test]
    fn daily_eight_in_berlin_stays_at_eight_across_both_dst_changes() {
        // Clocks go forward on 29 March 2026 and back on 25 October 2026.
        assert_eq!(
            fires("daily 08:00", "Europe/Berlin", "2026-03-27T12:00:00Z", 4),
            [
                "Sat 2026-03-28 08:00 CET",
                "Sun 2026-03-29 08:00 CEST",
                "Mon 2026-03-30 08:00 CEST",
                "Tue 2026-03-31 08:00 CEST"
            ]
        );
        assert_eq!(
            fires("daily 08:00", "Europe/Berlin", "2026-10-23T12:00:00Z", 4),
            [
                "Sat 2026-10-24 08:00 CEST",
                "Sun 2026-10-25 08:00 CET",
                "Mon 2026-10-26 08:00 CET",
                "Tue 2026-10-27 08:00 CET"
            ]
        );
        let schedule: Schedule = "daily 08:00".parse().unwrap();
        let berlin = timezone("Europe/Berlin").unwrap();
        assert_eq!(
            schedule.next_after(utc("2026-03-28T12:00:00Z"), berlin),
            Some(utc("2026-03-29T06:00:00Z"))
        );
        assert_eq!(
            schedule.next_after(utc("2026-10-24T12:00:00Z"), berlin),
            Some(utc("2026-10-25T07:00:00Z"))
        );
    }

    #[test]
    fn times_in_a_dst_gap_or_overlap_run_once() {
        // 02:30 does not exist on 29 March in Berlin: it runs once at 03:00.
        assert_eq!(
            fires("daily 02:30", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            ["Sun 2026-03-29 03:00 CEST", "Mon 2026-03-30 02:30 CEST"]
        );
        // 02:30 happens twice on 25 October: it runs once, the first time.
        assert_eq!(
            fires("daily 02:30", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            ["Sun 2026-10-25 02:30 CEST", "Mon 2026-10-26 02:30 CET"]
        );
    }

    #[test]
    fn every_fifteen_minutes_is_on_the_quarter_hour() {
        assert_eq!(
            fires("every 15 minutes", "UTC", "2026-11-20T09:07:00Z", 3),
            [
                "Fri 2026-11-20 09:15 UTC",
                "Fri 2026-11-20 09:30 UTC",
                "Fri 2026-11-20 09:45 UTC"
            ]
        );
        assert_eq!(
            fires("every 2 hours", "UTC", "2026-11-20T09:07:00Z", 1),
            ["Fri 2026-11-20 10:00 UTC"]
        );
    }

    #[test]
    fn crontab_weekdays_are_monday_to_friday() {
        // 1-5 means Monday to Friday in crontab (the cron crate alone would read Sunday to Thursday).
        let days = fires("0 9 * * 1-5", "UTC", "2026-11-20T10:00:00Z", 6);
        assert_eq!(
            days,
            [
                "Mon 2026-11-23 09:00 UTC",
                "Tue 2026-11-24 09:00 UTC",
                "Wed 2026-11-25 09:00 UTC",
                "Thu 2026-11-26 09:00 UTC",
                "Fri 2026-11-27 09:00 UTC",
                "Mon 2026-11-30 09:00 UTC"
            ]
        );
        assert_eq!(
            fires("30 7 * * 0", "UTC", "2026-11-20T10:00:00Z", 1),
            ["Sun 2026-11-22 07:30 UTC"]
        );
        assert_eq!(
            fires("30 7 * * 7", "UTC", "2026-11-20T10:00:00Z", 1),
            ["Sun 2026-11-22 07:30 UTC"]
        );
        assert_eq!(
            fires("weekly mon,fri 09:00", "UTC", "2026-11-20T10:00:00Z", 2),
            ["Mon 2026-11-23 09:00 UTC", "Fri 2026-11-27 09:00 UTC"]
        );
        assert_eq!(
            fires("monthly 1 09:00", "UTC", "2026-11-20T10:00:00Z", 1),
            ["Tue 2026-12-01 09:00 UTC"]
        );
    }

    #[test]
    fn invalid_schedules_and_timezones_are_named() {
        for bad in [
            "daily 25:00",
            "weekly funday 09:00",
            "every 0 minutes",
            "0 9 * *",
            "sometimes",
            "61 9 * * *",
            "0 9 * * 8",
        ] {
            let error = bad.parse::<Schedule>().unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid schedule `{bad}`: ")),
                "{error}"
            );
        }
        assert_eq!(
            timezone("Berlin").unwrap_err().to_string(),
            "unknown timezone `Berlin`: use an IANA name like Europe/Berlin, America/New_York or UTC"
        );
    }

    #[test]
    fn the_latest_missed_fire_is_found() {
        let schedule: Schedule = "every 15 minutes".parse().unwrap();
        let tz = timezone("UTC").unwrap();
        assert_eq!(
            schedule.latest_between(utc("2026-11-20T06:00:00Z"), utc("2026-11-20T09:07:00Z"), tz),
            Some(utc("2026-11-20T09:00:00Z"))
        );
        let daily: Schedule = "daily 08:00".parse().unwrap();
        assert_eq!(
            daily.latest_between(utc("2026-11-17T07:00:00Z"), utc("2026-11-20T09:00:00Z"), tz),
            Some(utc("2026-11-20T08:00:00Z"))
        );
        assert_eq!(
            daily.latest_between(utc("2026-11-20T08:30:00Z"), utc("2026-11-20T09:00:00Z"), tz),
            None
        );
    }
}
