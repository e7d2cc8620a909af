//! [`Redactor`], the runtime-wide second net: one [`Scrubber`] shared by the
//! journal, the logs and error messages, which learns secret values as the runtime
//! meets them.
//!
//! A scrubber built once from the vault at start would miss two kinds of values:
//! secrets set with `flowc secrets set` while the server runs, and OAuth 2 access
//! tokens, which the token endpoint issues long after the start. So the redactor is
//! taught: the server loads the vault's values at start ([`Redactor::load`]), the
//! engine teaches it every secret it resolves before the request that carries it is
//! sent, and the outbound client every access token the moment it is issued. A
//! value is always learned before anything that could echo it back is written.
//!
//! Readers take the current scrubber ([`Redactor::current`]: a read lock and a
//! reference count, no copy), which is what the ~10k journal writes a second pay.
//! Learning a value that is already known costs a SHA-256 and a set lookup under a
//! read lock; learning a new one rebuilds the automaton outside any lock readers
//! wait on and swaps it in. The learned values are kept, because a rebuild needs
//! them all, up to [`MAX_VALUES`]: past that, the oldest are forgotten (issued
//! tokens rotate; a token dropped from the runtime's cache long ago is not sent any
//! more, so nothing new can echo it).

use super::{Scrubber, SecretString};
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// The most values a redactor keeps; the oldest learned ones go first.
pub const MAX_VALUES: usize = 1024;

/// The runtime's scrubber, shared (cloning shares it) and taught new values while
/// the runtime runs. [`Default`] knows nothing and scrubs nothing until taught.
#[derive(Clone, Default)]
pub struct Redactor {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// What readers use; replaced whole when a value is learned.
    current: RwLock<Arc<Scrubber>>,
    /// SHA-256 digests of the values learned, for the cheap "already known" test.
    known: RwLock<HashSet<[u8; 32]>>,
    /// The values themselves, oldest first; the lock also makes learners take
    /// turns, so two rebuilds never race to swap in a scrubber missing a value.
    values: Mutex<VecDeque<([u8; 32], SecretString)>>,
}

impl Redactor {
    /// A redactor that knows nothing yet.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// The scrubber to use now. Cheap: hold it for one piece of text and ask again
    /// for the next, so newly learned values are seen.
    pub fn current(&self) -> Arc<Scrubber> {
        Arc::clone(
            &self
                .shared
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Whether nothing is known: every text passes unchanged.
    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    /// Learns `value`, if it is long enough to be scrubbed (see
    /// [`MIN_LEN`](super::MIN_LEN)) and not known yet.
    pub fn learn(&self, value: &SecretString) {
        self.learn_all(std::iter::once(value));
    }

    /// Learns every value of `values` at once: one rebuild for all the new ones.
    pub fn learn_all<'a>(&self, values: impl IntoIterator<Item = &'a SecretString>) {
        let fresh: Vec<([u8; 32], &SecretString)> = {
            let known = self
                .shared
                .known
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            values
                .into_iter()
                .filter(|value| value.len() >= super::MIN_LEN)
                .map(|value| (digest(value), value))
                .filter(|(digest, _)| !known.contains(digest))
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let mut values = self
            .shared
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut known = self
            .shared
            .known
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut added = false;
        for (digest, value) in fresh {
            // Another learner may have taken it in meanwhile.
            if known.insert(digest) {
                values.push_back((digest, value.clone()));
                added = true;
            }
        }
        while values.len() > MAX_VALUES {
            if let Some((digest, _)) = values.pop_front() {
                known.remove(&digest);
            }
        }
        // Readers of `known` wait only for the inserts above, not for the build.
        drop(known);
        if !added {
            return;
        }
        let scrubber = Arc::new(Scrubber::new(values.iter().map(|(_, value)| value)));
        *self
            .shared
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = scrubber;
    }

    /// Learns every value the vault holds: what a server does at start.
    pub async fn load<S: super::SecretStorage>(
        &self,
        vault: &super::Vault<S>,
    ) -> Result<(), super::Error> {
        let mut values = Vec::new();
        for name in vault.list().await? {
            if let Some(value) = vault.get(&name).await? {
                values.push(value);
            }
        }
        self.learn_all(&values);
        Ok(())
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Redactor").field(&self.current()).finish()
    }
}

fn digest(value: &SecretString) -> [u8; 32] {
    Sha256::digest(value.expose().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_values_once_and_shares_them_between_clones() {
        let redactor = Redactor::new();
        let clone = redactor.clone();
        assert!(redactor.is_empty());
        redactor.learn(&SecretString::new("first-secret-value"));
        let before = clone.current();
        assert_eq!(before.scrub("x first-secret-value y"), "x *** y");
        // Known already: the same scrubber stays in place.
        clone.learn(&SecretString::new("first-secret-value"));
        assert!(Arc::ptr_eq(&before, &redactor.current()));
        // Too short to scrub: ignored.
        clone.learn(&SecretString::new("abc"));
        assert!(Arc::ptr_eq(&before, &redactor.current()));
        clone.learn(&SecretString::new("second-secret-value"));
        assert_eq!(
            redactor
                .current()
                .scrub("first-secret-value second-secret-value"),
            "*** ***"
        );
    }

    #[test]
    fn forgets_the_oldest_values_past_the_limit() {
        let redactor = Redactor::new();
        let values: Vec<SecretString> = (0..=MAX_VALUES)
            .map(|n| SecretString::new(format!("token-{n:06}")))
            .collect();
        redactor.learn_all(&values);
        let scrubber = redactor.current();
        assert_eq!(scrubber.scrub("token-000000"), "token-000000");
        assert_eq!(scrubber.scrub("token-000001"), "***");
        assert_eq!(scrubber.scrub(&format!("token-{MAX_VALUES:06}")), "***");
    }

    #[test]
    fn debug_shows_no_value() {
        let redactor = Redactor::new();
        redactor.learn(&SecretString::new("debug-secret-value"));
        let debug = format!("{redactor:?}");
        assert!(debug.starts_with("Redactor(Scrubber"), "{debug}");
        assert!(!debug.contains("debug-secret"), "{debug}");
    }
}
