//! [`SecretString`], the type every secret value travels in.
//!
//! A secret must not reach a log line, a journal row, an error message or an API
//! response by accident, so the type makes every accidental route a compile error or
//! a redaction: it has no `Display` and no `Serialize`, its `Debug` prints
//! `SecretString(***)`, and the text is reached only through [`SecretString::expose`],
//! which is easy to find in review and belongs at the point where a request is sent.
//! The memory is overwritten with zeros when the value is dropped.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret text value: printable only by asking for it with [`expose`](Self::expose).
///
/// ```compile_fail,E0277
/// let secret = flowc_runtime::vault::SecretString::new("hunter2");
/// println!("{secret}"); // no `Display`: this does not compile
/// ```
///
/// No `Serialize` either, so a secret cannot end up in JSON (a journal entry, an
/// API answer, a JSON log line) by being a field of something serialised:
///
/// ```compile_fail,E0277
/// let secret = flowc_runtime::vault::SecretString::new("hunter2");
/// let _ = serde_json::to_string(&secret); // does not compile
/// ```
///
/// ```compile_fail,E0277
/// #[derive(serde::Serialize)]
/// struct Request {
///     token: flowc_runtime::vault::SecretString, // does not compile
/// }
/// ```
///
/// And no `ToString`, `AsRef<str>` or `Deref` to reach the text without naming
/// [`expose`](Self::expose):
///
/// ```compile_fail,E0599
/// let secret = flowc_runtime::vault::SecretString::new("hunter2");
/// let _ = secret.to_string(); // does not compile
/// ```
///
/// ```compile_fail,E0277
/// fn text(value: impl AsRef<str>) -> String { value.as_ref().to_owned() }
/// let _ = text(flowc_runtime::vault::SecretString::new("hunter2")); // does not compile
/// ```
///
/// ```compile_fail,E0599
/// let secret = flowc_runtime::vault::SecretString::new("hunter2");
/// let _ = secret.as_bytes(); // no `Deref<Target = str>`: does not compile
/// ```
///
/// Zeroing on drop covers this value's own buffer. Copies made before the value was
/// wrapped (a `String` that was reallocated while it was read, say) are out of its
/// reach, so build secrets straight into a `String` and wrap it at once. There is no
/// `PartialEq`: comparing secrets (webhook tokens, say) must take constant time.
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }

    /// The secret text. Call it where the value leaves the process (an HTTP header,
    /// an HMAC key), never to build a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The length of the text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> SecretString {
        SecretString(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretString {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = SecretString::new("correct horse battery staple");
        assert_eq!(format!("{secret:?}"), "SecretString(***)");
        assert_eq!(format!("{secret:#?}"), "SecretString(***)");
        let nested = Some(vec![secret.clone()]);
        assert!(!format!("{nested:?}").contains("horse"));
        assert_eq!(secret.expose(), "correct horse battery staple");
        assert_eq!(secret.len(), 28);
    }

    #[test]
    fn errors_and_auth_forms_that_hold_one_print_no_value() {
        let auth = crate::outbound::Auth::Basic {
            username: SecretString::new("canary-user-name"),
            password: SecretString::new("canary-pass-word"),
        };
        let shown = format!("{auth:?} {auth:#?}");
        assert!(shown.contains("SecretString(***)"), "{shown}");
        assert!(!shown.contains("canary"), "{shown}");
    }
}
