//! Webhook verification over the raw body, before it is parsed, in constant time.
//!
//! A trigger's `verify:` form is evaluated once per request into a [`Check`] whose
//! secret comes from the vault, and [`Check::verify`] compares what the request
//! carries with what it should carry without branching on the secret. Every MAC
//! comparison goes through `subtle`; a token is hashed with SHA-256 first, so
//! neither the content nor the length of a secret shows in the timing. What is
//! compared is always the body's bytes as they arrived (de-chunked by the HTTP
//! layer, never re-serialised).
//!
//! | form | header(s) | signed bytes | key | window | delivery id |
//! | --- | --- | --- | --- | --- | --- |
//! | `header_token` | the named one | — (the value is the token) | — | — | — |
//! | `hmac_sha256` | the named one, hex or base64 | body | the secret | — | — |
//! | `github` | `X-Hub-Signature-256: sha256=<hex>` | body | the secret | — | `X-GitHub-Delivery` |
//! | `stripe` | `Stripe-Signature: t=…,v1=…` (any `v1` may match, `v0` ignored) | `{t}.{body}` | the whole `whsec_…` string | 300 s | the body's `id` |
//! | `slack` | `X-Slack-Signature: v0=<hex>`, `X-Slack-Request-Timestamp` | `v0:{ts}:{body}` | the signing secret | 300 s | the body's `event_id` |
//! | `standard_webhooks` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …` | `{id}.{ts}.{body}` | base64 after `whsec_` | 300 s | `webhook-id` |
//! | `shopify` | `X-Shopify-Hmac-Sha256: <base64>` | body | the secret | — | `X-Shopify-Webhook-Id` |
//!
//! Windows are symmetric: a timestamp more than [`TOLERANCE_SECONDS`] before or
//! after the runtime's clock is refused, the signature being checked first (so a
//! tampered timestamp reads as a mismatch, a replayed one as out of the window).
//! A header the check reads that appears more than once is refused rather than
//! one of its values picked: two signatures are a request that someone built.
//!
//! A refusal carries a [`Refusal`] reason for the delivery history (`signature
//! mismatch`, `timestamp outside the 300 s window`, `missing header …`); the
//! caller answers every refusal with the same 401, and the reason never holds the
//! secret, the expected MAC or the signature sent.

use crate::clock::Millis;
use crate::vault::SecretString;
use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// How far a signed timestamp may be from the runtime's clock, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The longest provider delivery id kept; a longer one is not used for dedupe.
pub const MAX_DELIVERY_ID: usize = 256;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE: &str = "X-Hub-Signature-256";
/// GitHub's delivery id header (not signed).
pub const GITHUB_DELIVERY: &str = "X-GitHub-Delivery";
/// Stripe's signature header.
pub const STRIPE_SIGNATURE: &str = "Stripe-Signature";
/// Slack's signature header.
pub const SLACK_SIGNATURE: &str = "X-Slack-Signature";
/// Slack's timestamp header.
pub const SLACK_TIMESTAMP: &str = "X-Slack-Request-Timestamp";
/// Standard Webhooks' id header (signed).
pub const WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks' timestamp header (signed).
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks' signature header.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// Shopify's signature header.
pub const SHOPIFY_SIGNATURE: &str = "X-Shopify-Hmac-Sha256";
/// Shopify's delivery id header (not signed).
pub const SHOPIFY_WEBHOOK_ID: &str = "X-Shopify-Webhook-Id";

/// How a request proves where it came from.
#[derive(Debug)]
pub enum Check {
    HeaderToken {
        header: String,
        token: SecretString,
    },
    HmacSha256 {
        header: String,
        key: SecretString,
        encoding: Encoding,
    },
    Github {
        secret: SecretString,
    },
    Stripe {
        secret: SecretString,
    },
    Slack {
        secret: SecretString,
    },
    StandardWebhooks {
        /// The key bytes: the base64 after `whsec_`, decoded.
        key: Key,
    },
    Shopify {
        secret: SecretString,
    },
}

/// Key bytes, zeroed on drop and never printed.
pub struct Key(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A Standard Webhooks secret (`whsec_` then base64; the prefix may be left
    /// out) as key bytes; `None` when it is not base64 or is empty.
    pub fn standard_webhooks(secret: &SecretString) -> Option<Key> {
        let text = secret.expose().trim();
        let text = text.strip_prefix("whsec_").unwrap_or(text);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?;
        (!bytes.is_empty()).then(|| Key(Zeroizing::new(bytes)))
    }
}

/// How an HMAC is written in its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

impl Encoding {
    /// `"hex"` or `"base64"`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Encoding> {
        match text {
            "hex" => Some(Encoding::Hex),
            "base64" => Some(Encoding::Base64),
            _ => None,
        }
    }
}

/// Why a request failed its check, for the delivery history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Refusal {
        Refusal {
            reason: reason.into(),
        }
    }

    fn mismatch() -> Refusal {
        Refusal::new("signature mismatch")
    }

    fn window() -> Refusal {
        Refusal::new(format!(
            "timestamp outside the {TOLERANCE_SECONDS} s window"
        ))
    }

    fn malformed(header: &str) -> Refusal {
        Refusal::new(format!("malformed header `{header}`"))
    }
}

impl Check {
    /// The preset's name (`github`, …), or the form's.
    pub fn name(&self) -> &'static str {
        match self {
            Check::HeaderToken { .. } => "header_token",
            Check::HmacSha256 { .. } => "hmac_sha256",
            Check::Github { .. } => "github",
            Check::Stripe { .. } => "stripe",
            Check::Slack { .. } => "slack",
            Check::StandardWebhooks { .. } => "standard_webhooks",
            Check::Shopify { .. } => "shopify",
        }
    }

    /// Whether the request's headers prove it, given its raw body and the
    /// runtime's clock (milliseconds since the epoch).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: Millis) -> Result<(), Refusal> {
        match self {
            Check::HeaderToken { header, token } => {
                let given = one(headers, header)?;
                let given = Sha256::digest(given);
                let wanted = Sha256::digest(token.expose().as_bytes());
                if bool::from(given.as_slice().ct_eq(wanted.as_slice())) {
                    Ok(())
                } else {
                    Err(Refusal::new("token mismatch"))
                }
            }
            Check::HmacSha256 {
                header,
                key,
                encoding,
            } => {
                let given = text(headers, header)?;
                let given = decode(given, *encoding).ok_or_else(|| Refusal::malformed(header))?;
                let wanted = hmac_sha256(key.expose().as_bytes(), body);
                same(&given, &wanted)
            }
            Check::Github { secret } => {
                let given = text(headers, GITHUB_SIGNATURE)?;
                let given = given
                    .strip_prefix("sha256=")
                    .and_then(|hex| decode(hex, Encoding::Hex))
                    .ok_or_else(|| Refusal::malformed(GITHUB_SIGNATURE))?;
                same(&given, &hmac_sha256(secret.expose().as_bytes(), body))
            }
            Check::Shopify { secret } => {
                let given = text(headers, SHOPIFY_SIGNATURE)?;
                let given = decode(given, Encoding::Base64)
                    .ok_or_else(|| Refusal::malformed(SHOPIFY_SIGNATURE))?;
                same(&given, &hmac_sha256(secret.expose().as_bytes(), body))
            }
            Check::Stripe { secret } => {
                let header = text(headers, STRIPE_SIGNATURE)?;
                let (timestamp, signatures) = stripe_header(header)?;
                let wanted = hmac_sha256(
                    secret.expose().as_bytes(),
                    &signed(&[timestamp.as_bytes(), b".", body]),
                );
                // Every `v1` is compared, without stopping at the first match.
                let mut matched = subtle::Choice::from(0);
                for signature in &signatures {
                    matched |= equal(signature, &wanted);
                }
                if !bool::from(matched) {
                    return Err(Refusal::mismatch());
                }
                within_window(timestamp, now)
            }
            Check::Slack { secret } => {
                let given = text(headers, SLACK_SIGNATURE)?;
                let timestamp = text(headers, SLACK_TIMESTAMP)?;
                let given = given
                    .strip_prefix("v0=")
                    .and_then(|hex| decode(hex, Encoding::Hex))
                    .ok_or_else(|| Refusal::malformed(SLACK_SIGNATURE))?;
                let wanted = hmac_sha256(
                    secret.expose().as_bytes(),
                    &signed(&[b"v0:", timestamp.as_bytes(), b":", body]),
                );
                same(&given, &wanted)?;
                within_window(timestamp, now)
            }
            Check::StandardWebhooks { key } => {
                let id = text(headers, WEBHOOK_ID)?;
                let timestamp = text(headers, WEBHOOK_TIMESTAMP)?;
                let header = text(headers, WEBHOOK_SIGNATURE)?;
                let wanted = hmac_sha256(
                    &key.0,
                    &signed(&[id.as_bytes(), b".", timestamp.as_bytes(), b".", body]),
                );
                let mut matched = subtle::Choice::from(0);
                let mut any = false;
                for entry in header.split(' ').filter(|entry| !entry.is_empty()) {
                    // Other versions (`v1a`, asymmetric) are not ours to check.
                    let Some(encoded) = entry.strip_prefix("v1,") else {
                        continue;
                    };
                    any = true;
                    if let Some(given) = decode(encoded, Encoding::Base64) {
                        matched |= equal(&given, &wanted);
                    }
                }
                if !any {
                    return Err(Refusal::malformed(WEBHOOK_SIGNATURE));
                }
                if !bool::from(matched) {
                    return Err(Refusal::mismatch());
                }
                within_window(timestamp, now)
            }
        }
    }

    /// The provider's delivery id carried in a header: `X-GitHub-Delivery`,
    /// `webhook-id` (signed), `X-Shopify-Webhook-Id`. Read whether or not the
    /// request verifies, so that a refused delivery can be found by the id the
    /// provider shows; only verified deliveries are matched against it.
    pub fn header_delivery_id(&self, headers: &HeaderMap) -> Option<String> {
        let name = match self {
            Check::Github { .. } => GITHUB_DELIVERY,
            Check::StandardWebhooks { .. } => WEBHOOK_ID,
            Check::Shopify { .. } => SHOPIFY_WEBHOOK_ID,
            _ => return None,
        };
        header_id(headers, name)
    }

    /// The header a preset's signature is in, hidden from `webhook.headers`.
    pub fn signature_header(tag: &str) -> Option<&'static str> {
        match tag {
            "github" => Some(GITHUB_SIGNATURE),
            "stripe" => Some(STRIPE_SIGNATURE),
            "slack" => Some(SLACK_SIGNATURE),
            "standard_webhooks" => Some(WEBHOOK_SIGNATURE),
            "shopify" => Some(SHOPIFY_SIGNATURE),
            _ => None,
        }
    }

    /// The provider's delivery id carried in the (verified, parsed) body: Stripe's
    /// event `id`, Slack's `event_id`.
    pub fn body_delivery_id(&self, body: &serde_json::Value) -> Option<String> {
        let field = match self {
            Check::Stripe { .. } => "id",
            Check::Slack { .. } => "event_id",
            _ => return None,
        };
        body.get(field)
            .and_then(serde_json::Value::as_str)
            .and_then(delivery_id)
    }

    /// Slack's URL verification: the `challenge` of a body
    /// `{"type": "url_verification", "challenge": …}` sent to a `slack` webhook.
    pub fn slack_challenge<'a>(&self, body: &'a serde_json::Value) -> Option<&'a str> {
        if !matches!(self, Check::Slack { .. }) {
            return None;
        }
        if body.get("type").and_then(serde_json::Value::as_str) != Some("url_verification") {
            return None;
        }
        body.get("challenge").and_then(serde_json::Value::as_str)
    }
}

/// The HMAC-SHA256 of `body` under `key`.
pub fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The bytes of `parts` joined.
fn signed(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The one value of `name`: refused when it is missing or repeated.
fn one<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h [u8], Refusal> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Err(Refusal::new(format!("missing header `{name}`")));
    };
    if values.next().is_some() {
        return Err(Refusal::new(format!(
            "header `{name}` appears more than once"
        )));
    }
    Ok(first.as_bytes())
}

/// The one value of `name` as text, trimmed.
fn text<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, Refusal> {
    let value = one(headers, name)?;
    std::str::from_utf8(value)
        .map(str::trim)
        .map_err(|_| Refusal::malformed(name))
}

/// `given == wanted` in constant time (for equal lengths; the length of a MAC is
/// public).
fn equal(given: &[u8], wanted: &[u8]) -> subtle::Choice {
    if given.len() == wanted.len() {
        given.ct_eq(wanted)
    } else {
        subtle::Choice::from(0)
    }
}

fn same(given: &[u8], wanted: &[u8]) -> Result<(), Refusal> {
    if bool::from(equal(given, wanted)) {
        Ok(())
    } else {
        Err(Refusal::mismatch())
    }
}

/// `t=…,v1=…,v1=…,v0=…`: the timestamp text and the decoded `v1` signatures.
fn stripe_header(header: &str) -> Result<(&str, Vec<Vec<u8>>), Refusal> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            return Err(Refusal::malformed(STRIPE_SIGNATURE));
        };
        match name {
            "t" if timestamp.is_none() => timestamp = Some(value),
            "t" => return Err(Refusal::malformed(STRIPE_SIGNATURE)),
            // An undecodable `v1` matches nothing; the others may still match.
            "v1" => signatures.push(decode(value, Encoding::Hex).unwrap_or_default()),
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !signatures.is_empty() => Ok((timestamp, signatures)),
        _ => Err(Refusal::malformed(STRIPE_SIGNATURE)),
    }
}

/// Refuses a timestamp (decimal seconds) more than [`TOLERANCE_SECONDS`] away
/// from `now`.
fn within_window(timestamp: &str, now: Millis) -> Result<(), Refusal> {
    if timestamp.is_empty()
        || timestamp.len() > 15
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Refusal::new("malformed timestamp"));
    }
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| Refusal::new("malformed timestamp"))?;
    let skew = now.div_euclid(1000).saturating_sub(seconds);
    if skew.unsigned_abs() > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(Refusal::window());
    }
    Ok(())
}

/// A header's value as a delivery id, when there is exactly one usable value.
fn header_id(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    delivery_id(value.to_str().ok()?)
}

/// `text` as a delivery id: 1 to [`MAX_DELIVERY_ID`] visible ASCII characters.
fn delivery_id(text: &str) -> Option<String> {
    let text = text.trim();
    let usable = !text.is_empty()
        && text.len() <= MAX_DELIVERY_ID
        && text.bytes().all(|byte| byte.is_ascii_graphic());
    usable.then(|| text.to_owned())
}

fn decode(text: &str, encoding: Encoding) -> Option<Vec<u8>> {
    let text = text.trim();
    match encoding {
        Encoding::Hex => {
            if !text.len().is_multiple_of(2) {
                return None;
            }
            text.as_bytes()
                .chunks_exact(2)
                .map(|pair| {
                    let high = char::from(pair[0]).to_digit(16)?;
                    let low = char::from(pair[1]).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()
                })
                .collect()
        }
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name");
            map.append(name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hex_decoding_takes_either_case_and_refuses_odd_lengths() {
        assert_eq!(decode("0aFf", Encoding::Hex), Some(vec![0x0a, 0xff]));
        assert_eq!(decode("0aF", Encoding::Hex), None);
        assert_eq!(decode("zz", Encoding::Hex), None);
    }

    #[test]
    fn stripe_headers_keep_every_v1_and_ignore_v0() {
        let (t, signatures) = stripe_header("t=12,v1=0a,v0=ff,v1=0b").expect("parsed");
        assert_eq!(t, "12");
        assert_eq!(signatures, vec![vec![0x0a], vec![0x0b]]);
        assert!(stripe_header("v1=0a").is_err(), "no timestamp");
        assert!(stripe_header("t=1").is_err(), "no v1");
        assert!(stripe_header("t=1,t=2,v1=0a").is_err(), "two timestamps");
    }

    #[test]
    fn the_window_is_symmetric_and_inclusive() {
        let now = 1_000_000_000;
        for (offset, ok) in [
            (-301, false),
            (-300, true),
            (0, true),
            (300, true),
            (301, false),
        ] {
            let timestamp = (1_000_000 + offset).to_string();
            assert_eq!(within_window(&timestamp, now).is_ok(), ok, "{offset}");
        }
        assert_eq!(
            within_window("-5", now),
            Err(Refusal::new("malformed timestamp"))
        );
        assert_eq!(
            within_window("99999999999999999999", now),
            Err(Refusal::new("malformed timestamp"))
        );
    }

    #[test]
    fn a_repeated_header_is_refused_and_gives_no_delivery_id() {
        let map = headers(&[("x-a", "1"), ("x-a", "2")]);
        assert_eq!(
            one(&map, "X-A"),
            Err(Refusal::new("header `X-A` appears more than once"))
        );
        assert_eq!(header_id(&map, "x-a"), None);
        assert_eq!(delivery_id(&"x".repeat(MAX_DELIVERY_ID + 1)), None);
        assert_eq!(delivery_id(" abc-1 "), Some("abc-1".into()));
    }

    #[test]
    fn standard_webhooks_keys_are_the_base64_after_the_prefix() {
        let key = Key::standard_webhooks(&SecretString::new("whsec_AAEC")).expect("key");
        assert_eq!(*key.0, vec![0, 1, 2]);
        let bare = Key::standard_webhooks(&SecretString::new("AAEC")).expect("key");
        assert_eq!(*bare.0, vec![0, 1, 2]);
        assert!(Key::standard_webhooks(&SecretString::new("whsec_not base64")).is_none());
        assert!(format!("{key:?}").contains(".."));
    }
}
