//! Auth forms as the client applies them, and the OAuth 2 token cache.
//!
//! [`Auth`] mirrors SPEC §12.1. The OAuth 2 forms buy an access token from the
//! token endpoint (client authentication by HTTP Basic, RFC 6749 §2.3.1), keep it
//! per client id, token URL, scopes and user until shortly before it expires, and
//! share it between concurrent calls: one fetch at a time per key. The client
//! fetches a new one once when a request answers 401 with a cached token.

use super::SecretString;
use crate::clock::Millis;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub enum Auth {
    #[default]
    None,
    ApiKey {
        place: KeyPlace,
        value: SecretString,
    },
    Bearer {
        token: SecretString,
    },
    Basic {
        username: SecretString,
        password: SecretString,
    },
    OAuth2(OAuth2),
}

/// Where an API key goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPlace {
    Header(String),
    Query(String),
}

#[derive(Clone, Debug)]
pub struct OAuth2 {
    pub token_url: String,
    pub client_id: SecretString,
    pub client_secret: SecretString,
    pub grant: Grant,
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum Grant {
    ClientCredentials,
    Password {
        username: SecretString,
        password: SecretString,
    },
}

impl OAuth2 {
    /// The cache key: everything that decides which token the endpoint gives.
    pub(crate) fn cache_key(&self) -> String {
        let user = match &self.grant {
            Grant::ClientCredentials => "",
            Grant::Password { username, .. } => username.expose(),
        };
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            self.token_url,
            self.client_id.expose(),
            user,
            self.scopes.join(" ")
        )
    }

    /// The form fields of the token request.
    pub(crate) fn form(&self) -> Vec<(&'static str, String)> {
        let mut form = match &self.grant {
            Grant::ClientCredentials => vec![("grant_type", "client_credentials".to_string())],
            Grant::Password { username, password } => vec![
                ("grant_type", "password".to_string()),
                ("username", username.expose().to_string()),
                ("password", password.expose().to_string()),
            ],
        };
        if !self.scopes.is_empty() {
            form.push(("scope", self.scopes.join(" ")));
        }
        form
    }
}

/// A cached access token.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub access: SecretString,
    /// When to stop using it (its expiry minus the skew); `None` when the endpoint
    /// gave no `expires_in`, so it is used until a 401.
    pub refresh_at: Option<Millis>,
}

impl Token {
    pub fn fresh(&self, now: Millis) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }
}

/// One slot per cache key; the async mutex makes concurrent callers wait for one
/// fetch instead of each fetching.
#[derive(Default)]
pub(crate) struct Tokens {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Token>>>>>,
}

impl Tokens {
    pub fn slot(&self, key: String) -> Arc<tokio::sync::Mutex<Option<Token>>> {
        match self.slots.lock() {
            Ok(mut slots) => Arc::clone(slots.entry(key).or_default()),
            Err(_) => Arc::default(),
        }
    }
}

/// The body of a token response (RFC 6749 §5.1); other fields are ignored.
#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<f64>,
}

/// `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 §2.3.1
/// asks for the client id and secret before they go into HTTP Basic.
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_reserved_bytes() {
        assert_eq!(form_encode("a b:c/d~é"), "a+b%3Ac%2Fd%7E%C3%A9");
    }
}
