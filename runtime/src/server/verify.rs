//! Webhook verification over the raw body, before it is parsed, in constant time.
//!
//! A trigger's `verify:` form is evaluated once per request into a [`Check`] whose
//! secret comes from the vault, and [`Check::passes`] compares what the request
//! carries with what it should carry without branching on the secret:
//!
//! - `header_token(header, secret)`: the header's value must equal the secret. Both
//!   are hashed with SHA-256 first and the digests compared with `subtle`, so
//!   neither the content nor the length of the secret shows in the timing.
//! - `hmac_sha256(header, secret, encoding)`: the header holds the HMAC-SHA256 of
//!   the raw body under the secret, in `hex` (either case) or `base64`; the decoded
//!   MAC is compared with `subtle`.
//!
//! The provider presets (`github`, `stripe`, …) come with the trust-boundary issue;
//! until then a trigger that uses one refuses every request.

use crate::vault::SecretString;
use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

impl Check {
    /// Whether the request's headers prove it, given its raw body.
    pub fn passes(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        match self {
            Check::HeaderToken { header, token } => {
                let Some(given) = headers.get(header.as_str()) else {
                    return false;
                };
                let given = Sha256::digest(given.as_bytes());
                let wanted = Sha256::digest(token.expose().as_bytes());
                bool::from(given.as_slice().ct_eq(wanted.as_slice()))
            }
            Check::HmacSha256 {
                header,
                key,
                encoding,
            } => {
                let Some(given) = headers.get(header.as_str()).and_then(|v| v.to_str().ok()) else {
                    return false;
                };
                let Some(given) = decode(given.trim(), *encoding) else {
                    return false;
                };
                let wanted = hmac_sha256(key.expose().as_bytes(), body);
                given.len() == wanted.len() && bool::from(given.as_slice().ct_eq(&wanted))
            }
        }
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

fn decode(text: &str, encoding: Encoding) -> Option<Vec<u8>> {
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

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
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
}
