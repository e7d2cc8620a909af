//! The second net: text about to be written to the journal, a log or an error
//! message is scrubbed of every known secret value.
//!
//! The first net is the type system ([`SecretString`] cannot be printed or
//! serialised). This one catches what slips past it, typically a downstream API that
//! echoes a request header into an error body. Each value is searched for in the
//! forms it travels in:
//!
//! - as is, and JSON-escaped (the journal is JSON);
//! - hex, lower and upper case;
//! - URL-encoded: percent-encoding with upper- and lower-case digits, the form
//!   encoding's `+` for a space, and exactly what `application/x-www-form-urlencoded`
//!   writes (it keeps `*` and escapes `~`), which is how an API key reaches a query
//!   string and OAuth 2 client credentials reach the token endpoint;
//! - base64, standard and URL-safe, padded and not; and, because a secret is often
//!   encoded together with something before it (`Authorization: Basic` carries
//!   base64 of `user:password`), the run of base64 characters that depends on the
//!   value alone at each of the three byte alignments. That run leaves out up to two
//!   characters at each end, which also depend on the neighbouring bytes.
//!
//! Every form found is replaced by `***`; where forms overlap, the longest match
//! wins. Values shorter than [`MIN_LEN`] bytes are skipped: scrubbing every `abc` or
//! `42` would mangle ordinary text while hiding nothing a guess would not find.
//! Shifted base64 runs shorter than [`MIN_SHIFTED_BASE64`] characters are skipped for
//! the same reason. The scrubber holds these forms for as long as it lives, as the
//! runtime holds the values themselves; its `Debug` shows only how many there are.
//!
//! JSON documents (journal entries) are scrubbed value by value
//! ([`Scrubber::scrub_json`]): every string, every object key and the text of every
//! number, so the result is still the same shape of JSON, which a pass over the
//! serialised text could not promise for a value holding a quote.

use super::SecretString;
use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;
use zeroize::Zeroizing;

/// Values shorter than this many bytes are not scrubbed.
pub const MIN_LEN: usize = 4;

/// Base64 runs taken at a shifted alignment shorter than this are not scrubbed.
pub const MIN_SHIFTED_BASE64: usize = 6;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Replaces known secret values, in their common encodings, with `***`.
#[derive(Clone, Default)]
pub struct Scrubber {
    matcher: Option<AhoCorasick>,
    patterns: usize,
}

impl Scrubber {
    /// A scrubber for `secrets`. Values shorter than [`MIN_LEN`] bytes are skipped.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a SecretString>) -> Scrubber {
        let mut patterns: Vec<Zeroizing<String>> = Vec::new();
        for secret in secrets {
            if secret.len() >= MIN_LEN {
                forms(secret.expose(), &mut patterns);
            }
        }
        patterns.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        patterns.dedup_by(|a, b| a.as_str() == b.as_str());
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns.iter().map(|pattern| pattern.as_bytes()))
            .ok()
            .filter(|_| !patterns.is_empty());
        Scrubber {
            patterns: if matcher.is_some() { patterns.len() } else { 0 },
            matcher,
        }
    }

    /// Whether this scrubber has nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every known secret form replaced by `***`. Borrows when there
    /// was nothing to replace.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(matcher) = &self.matcher else {
            return Cow::Borrowed(text);
        };
        let mut scrubbed = String::new();
        let mut copied = 0;
        for found in matcher.find_iter(text) {
            // Every pattern is whole UTF-8 text, so matches fall on char boundaries.
            let (Some(before), true) = (
                text.get(copied..found.start()),
                text.is_char_boundary(found.end()),
            ) else {
                continue;
            };
            scrubbed.push_str(before);
            scrubbed.push_str(MASK);
            copied = found.end();
        }
        if copied == 0 && scrubbed.is_empty() {
            return Cow::Borrowed(text);
        }
        scrubbed.push_str(&text[copied..]);
        Cow::Owned(scrubbed)
    }

    /// Scrubs `json` in place: every string, object key and number whose text
    /// holds a known secret form (a number that does becomes a string). `true` when
    /// something was replaced. Does nothing, without looking, when the scrubber
    /// is empty.
    pub fn scrub_json(&self, json: &mut Json) -> bool {
        if self.matcher.is_none() {
            return false;
        }
        self.scrub_value(json)
    }

    fn scrub_value(&self, json: &mut Json) -> bool {
        match json {
            Json::String(text) => {
                if let Cow::Owned(scrubbed) = self.scrub(text) {
                    *text = scrubbed;
                    return true;
                }
                false
            }
            Json::Number(number) => {
                let text = number.to_string();
                if let Cow::Owned(scrubbed) = self.scrub(&text) {
                    *json = Json::String(scrubbed);
                    return true;
                }
                false
            }
            Json::Array(items) => items
                .iter_mut()
                .fold(false, |changed, item| self.scrub_value(item) | changed),
            Json::Object(map) => {
                let mut changed = map
                    .values_mut()
                    .fold(false, |changed, value| self.scrub_value(value) | changed);
                let found_in_key = map
                    .keys()
                    .any(|key| matches!(self.scrub(key), Cow::Owned(_)));
                if found_in_key {
                    let entries = std::mem::take(map);
                    for (key, value) in entries {
                        map.insert(self.scrub(&key).into_owned(), value);
                    }
                    changed = true;
                }
                changed
            }
            Json::Null | Json::Bool(_) => false,
        }
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("patterns", &self.patterns)
            .finish()
    }
}

/// Pushes every form of `value` that the module documentation lists.
fn forms(value: &str, out: &mut Vec<Zeroizing<String>>) {
    let bytes = value.as_bytes();
    out.push(Zeroizing::new(value.to_owned()));
    out.push(json_escaped(value));

    let mut lower = Zeroizing::new(String::with_capacity(2 * bytes.len()));
    let mut upper = Zeroizing::new(String::with_capacity(2 * bytes.len()));
    for byte in bytes {
        let _ = write!(lower, "{byte:02x}");
        let _ = write!(upper, "{byte:02X}");
    }
    out.push(lower);
    out.push(upper);

    out.push(percent_encoded(bytes, false, false));
    out.push(percent_encoded(bytes, true, false));
    out.push(percent_encoded(bytes, false, true));
    out.push(percent_encoded(bytes, true, true));
    let mut form = Zeroizing::new(String::with_capacity(3 * bytes.len()));
    form_urlencoded::byte_serialize(bytes).for_each(|piece| form.push_str(piece));
    out.push(form);

    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        out.push(Zeroizing::new(engine.encode(bytes)));
    }
    for shift in 0..3usize {
        let mut shifted = Zeroizing::new(vec![0u8; shift]);
        shifted.extend_from_slice(bytes);
        // Characters from the first one free of the prefix's bits to the last one
        // whose six bits all come from the value.
        let first = (8 * shift).div_ceil(6);
        let end = 8 * shifted.len() / 6;
        if end.saturating_sub(first) < MIN_SHIFTED_BASE64 {
            continue;
        }
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            let encoded = Zeroizing::new(engine.encode(shifted.as_slice()));
            if let Some(run) = encoded.get(first..end) {
                out.push(Zeroizing::new(run.to_owned()));
            }
        }
    }
}

/// `value` as it appears inside a JSON string.
fn json_escaped(value: &str) -> Zeroizing<String> {
    let mut escaped = Zeroizing::new(String::with_capacity(value.len()));
    for char in value.chars() {
        match char {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(escaped, "\\u{:04x}", u32::from(control));
            }
            other => escaped.push(other),
        }
    }
    escaped
}

/// Percent-encoding of everything but RFC 3986's unreserved characters; with
/// `plus`, a space becomes `+` as in `application/x-www-form-urlencoded`.
fn percent_encoded(bytes: &[u8], lower_case: bool, plus: bool) -> Zeroizing<String> {
    let mut encoded = Zeroizing::new(String::with_capacity(3 * bytes.len()));
    for &byte in bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(char::from(byte));
            }
            b' ' if plus => encoded.push('+'),
            _ if lower_case => {
                let _ = write!(encoded, "%{byte:02x}");
            }
            _ => {
                let _ = write!(encoded, "%{byte:02X}");
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber(values: &[&str]) -> Scrubber {
        let secrets: Vec<SecretString> = values.iter().map(|v| SecretString::new(*v)).collect();
        Scrubber::new(&secrets)
    }

    #[test]
    fn removes_raw_base64_url_and_hex_forms() {
        let secret = "s3cr3t/tok+en=1 ü";
        let scrubber = scrubber(&[secret]);
        let bytes = secret.as_bytes();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let forms = [
            secret.to_owned(),
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
            "s3cr3t%2Ftok%2Ben%3D1%20%C3%BC".to_owned(),
            "s3cr3t%2ftok%2ben%3d1+%c3%bc".to_owned(),
            hex.clone(),
            hex.to_uppercase(),
        ];
        for form in forms {
            let text = format!("before {form} after");
            assert_eq!(scrubber.scrub(&text), "before *** after", "{form}");
        }
    }

    #[test]
    fn removes_a_value_encoded_together_with_its_neighbours() {
        let scrubber = scrubber(&["hunter2-password"]);
        for user in ["", "a", "ab", "abc", "alice"] {
            let header = STANDARD.encode(format!("{user}:hunter2-password"));
            let scrubbed = scrubber.scrub(&header);
            // What is left: the characters that carry `user:` and at most two
            // characters and padding at the end, which also depend on what follows.
            let (before, after) = scrubbed
                .split_once(MASK)
                .unwrap_or_else(|| panic!("{user}: {scrubbed}"));
            assert!(
                before.len() <= (8 * (user.len() + 1)).div_ceil(6),
                "{scrubbed}"
            );
            assert!(after.len() <= 4 && !after.contains(MASK), "{scrubbed}");
        }
    }

    #[test]
    fn json_escaped_values_and_many_secrets() {
        let scrubber = scrubber(&["quo\"te\\", "second-secret", "abcd"]);
        assert_eq!(
            scrubber.scrub(r#"{"error":"bad quo\"te\\ and second-secret, abcdabcd"}"#),
            r#"{"error":"bad *** and ***, ******"}"#
        );
    }

    #[test]
    fn short_values_are_left_alone() {
        let short = scrubber(&["abc", "", "42"]);
        assert!(short.is_empty());
        assert!(matches!(short.scrub("abc 42"), Cow::Borrowed("abc 42")));
        let long = scrubber(&["long-enough"]);
        assert!(!long.is_empty());
        assert!(matches!(long.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_is_scrubbed_value_by_value_and_keeps_its_shape() {
        let scrubber = scrubber(&["sec\"ret-value", "12345678"]);
        let mut json = serde_json::json!({
            "echo": "Bearer sec\"ret-value",
            "sec\"ret-value": [1, 12345678, true, null, "ok"],
            "nested": { "query": "key=sec%22ret-value" },
        });
        assert!(scrubber.scrub_json(&mut json));
        assert_eq!(
            json,
            serde_json::json!({
                "echo": "Bearer ***",
                "***": [1, "***", true, null, "ok"],
                "nested": { "query": "key=***" },
            })
        );
        assert!(!scrubber.scrub_json(&mut json));
        let mut untouched = serde_json::json!({ "a": ["b", 2] });
        assert!(!Scrubber::default().scrub_json(&mut untouched));
    }

    #[test]
    fn form_encoding_as_a_query_string_writes_it() {
        let secret = "key*with~tilde and/slash";
        let scrubber = scrubber(&[secret]);
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("api_key", secret)
            .finish();
        assert_eq!(scrubber.scrub(&query), "api_key=***");
    }

    #[test]
    fn debug_shows_no_pattern() {
        let scrubber = scrubber(&["very-secret-value"]);
        let debug = format!("{scrubber:?}");
        assert!(debug.starts_with("Scrubber { patterns: "), "{debug}");
        assert!(
            !debug.contains("very") && !debug.contains("dmVye"),
            "{debug}"
        );
    }
}
