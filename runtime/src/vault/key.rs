//! The master key: the 32 bytes every secret is encrypted under.
//!
//! It comes from `FLOWC_MASTER_KEY` when that is set (for containers and secret
//! managers), otherwise from a key file the caller names, normally next to the
//! database. The file is created on first use with mode 0600 and is refused when the
//! group or others may read it, as ssh refuses a private key. Reading the environment
//! is a thin wrapper ([`MasterKey::from_env_or_file`]) over [`MasterKey::resolve`],
//! which takes the variable's value as an argument so tests never touch the process
//! environment.
//!
//! The file holds the key in base64 on one line, the same text `FLOWC_MASTER_KEY`
//! accepts, so a deployment can move from the file to the variable by copying it.
//! Losing the key loses every secret; it is not stored in the database on purpose.

use super::Error;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The environment variable that holds the master key.
pub const ENV_VAR: &str = "FLOWC_MASTER_KEY";

/// The key's length in bytes.
pub const KEY_LEN: usize = 32;

/// A 256-bit master key, zeroed when dropped and never printed.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

/// Where a [`MasterKey`] came from, for the line `flowc serve` prints at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The `FLOWC_MASTER_KEY` variable.
    Environment,
    /// A key file; `created` when this call made it (tell the user to back it up).
    KeyFile { path: PathBuf, created: bool },
}

impl MasterKey {
    /// A fresh random key from the operating system.
    pub fn generate() -> Result<MasterKey, Error> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(Error::Random)?;
        Ok(MasterKey(bytes))
    }

    /// Parses a key written as 64 hex digits or as base64 (standard or URL-safe,
    /// padded or not) of exactly 32 bytes. Surrounding whitespace is ignored. The
    /// error never quotes the text.
    pub fn parse(text: &str) -> Result<MasterKey, KeyFormat> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyFormat::Empty);
        }
        if text.len() == 2 * KEY_LEN && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
            for (index, pair) in text.as_bytes().chunks_exact(2).enumerate() {
                bytes[index] = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
            }
            return Ok(MasterKey(bytes));
        }
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok().map(Zeroizing::new))
            .ok_or(KeyFormat::NotEncoded)?;
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyFormat::WrongLength(decoded.len()))?;
        Ok(MasterKey(Zeroizing::new(bytes)))
    }

    /// The key from `FLOWC_MASTER_KEY` if it is set, otherwise from `key_file`
    /// (created when absent). See [`resolve`](Self::resolve).
    pub fn from_env_or_file(key_file: &Path) -> Result<(MasterKey, Origin), Error> {
        MasterKey::resolve(std::env::var_os(ENV_VAR), key_file)
    }

    /// The key from `env_value` (the value of `FLOWC_MASTER_KEY`, if set) or else
    /// from `key_file`, created with mode 0600 when it does not exist. A set but
    /// malformed variable is an error, never a silent fall-back to the file.
    pub fn resolve(
        env_value: Option<OsString>,
        key_file: &Path,
    ) -> Result<(MasterKey, Origin), Error> {
        match env_value {
            Some(value) => {
                let value = Zeroizing::new(value.into_string().map_err(|_| Error::BadKey {
                    origin: ENV_VAR.to_owned(),
                    problem: KeyFormat::NotEncoded,
                })?);
                let key = MasterKey::parse(&value).map_err(|problem| Error::BadKey {
                    origin: ENV_VAR.to_owned(),
                    problem,
                })?;
                Ok((key, Origin::Environment))
            }
            None => {
                let (key, created) = MasterKey::load_or_create(key_file)?;
                let origin = Origin::KeyFile {
                    path: key_file.to_owned(),
                    created,
                };
                Ok((key, origin))
            }
        }
    }

    /// Reads the key file at `path`, or creates it with a new key when it does not
    /// exist; `true` when it was created. Creation is atomic: the key is written
    /// and synced to a temporary file which is then hard-linked into place, so a
    /// crash never leaves a truncated key file, and of two processes starting at
    /// once the second reads the first one's key.
    pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool), Error> {
        let io_error = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        for _ in 0..2 {
            match File::open(path) {
                Ok(file) => return Ok((read_key_file(file, path)?, false)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    let key = MasterKey::generate()?;
                    if create_key_file(path, &key).map_err(io_error)? {
                        return Ok((key, true));
                    }
                }
                Err(error) => return Err(io_error(error)),
            }
        }
        Err(io_error(io::Error::other(
            "the key file appeared and vanished while it was being created",
        )))
    }

    /// The key as padded standard base64, the form the key file holds.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }

    pub(super) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// What is wrong with a master key's text. Never includes the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormat {
    #[error("it is empty")]
    Empty,
    #[error("it is neither 64 hex digits nor base64")]
    NotEncoded,
    #[error("it decodes to {0} bytes")]
    WrongLength(usize),
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// Checks the open file's type and mode (on the descriptor, so there is no window
/// between the check and the read), then parses it.
fn read_key_file(mut file: File, path: &Path) -> Result<MasterKey, Error> {
    let io_error = |source| Error::KeyFile {
        path: path.to_owned(),
        source,
    };
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(io_error(io::Error::other("not a regular file")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::KeyFilePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let mut text = Zeroizing::new(String::with_capacity(128));
    file.read_to_string(&mut text).map_err(io_error)?;
    MasterKey::parse(&text).map_err(|problem| Error::BadKey {
        origin: format!("key file {}", path.display()),
        problem,
    })
}

/// Writes `key` to `path` unless the file exists; `false` when it already did.
fn create_key_file(path: &Path, key: &MasterKey) -> io::Result<bool> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the key file path has no file name",
        )
    })?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
    let mut temporary_name = OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(format!(".{suffix}.tmp"));
    let temporary = directory.join(temporary_name);

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&temporary)?;
        let mut line = key.to_base64();
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_all()
    })();
    let linked = written.and_then(|()| fs::hard_link(&temporary, path));
    // The temporary name goes in every case; the key stays under `path` if linked.
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            // Make the new directory entry durable before any secret depends on it.
            #[cfg(unix)]
            File::open(directory)?.sync_all()?;
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn expected() -> [u8; KEY_LEN] {
        std::array::from_fn(|index| index as u8)
    }

    #[test]
    fn parses_hex_and_every_base64_dialect() {
        let bytes = expected();
        let cases = [
            (HEX.to_owned(), bytes),
            (HEX.to_uppercase(), bytes),
            (format!("  {HEX}\n"), bytes),
            (STANDARD.encode(bytes), bytes),
            (STANDARD_NO_PAD.encode(bytes), bytes),
            (URL_SAFE.encode([0xff; KEY_LEN]), [0xff; KEY_LEN]),
            (URL_SAFE_NO_PAD.encode([0xfb; KEY_LEN]), [0xfb; KEY_LEN]),
        ];
        for (text, bytes) in cases {
            let key = MasterKey::parse(&text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(key.bytes(), &bytes, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_keys_without_quoting_them() {
        assert_eq!(MasterKey::parse(" \n").err(), Some(KeyFormat::Empty));
        assert_eq!(
            MasterKey::parse("not a key!").err(),
            Some(KeyFormat::NotEncoded)
        );
        assert_eq!(
            MasterKey::parse(&STANDARD.encode([7u8; 16])).err(),
            Some(KeyFormat::WrongLength(16))
        );
        assert_eq!(
            MasterKey::parse(&format!("{HEX}{HEX}")).err(),
            Some(KeyFormat::WrongLength(96))
        );

        let error = MasterKey::resolve(Some("sekrit-sekrit".into()), Path::new("unused"))
            .expect_err("malformed");
        let message = error.to_string();
        assert_eq!(
            message,
            "FLOWC_MASTER_KEY must be 32 bytes written as 64 hex digits or as base64: \
             it is neither 64 hex digits nor base64"
        );
        assert!(!message.contains("sekrit"));
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("master.key");
        let (key, origin) = MasterKey::resolve(Some(HEX.into()), &path).expect("env key");
        assert_eq!(origin, Origin::Environment);
        assert_eq!(key.bytes(), &expected());
        assert!(!path.exists(), "no key file when the variable is set");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("flowc.key");
        let (first, origin) = MasterKey::resolve(None, &path).expect("create");
        assert_eq!(
            origin,
            Origin::KeyFile {
                path: path.clone(),
                created: true
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, created) = MasterKey::load_or_create(&path).expect("reuse");
        assert!(!created);
        assert_eq!(first.bytes(), second.bytes());
        assert_ne!(first.bytes(), &[0u8; KEY_LEN]);
        // Only the key file is left behind, no temporary.
        let entries = fs::read_dir(directory.path()).expect("read_dir").count();
        assert_eq!(entries, 1);
        let text = fs::read_to_string(&path).expect("read");
        assert_eq!(text.trim_end(), first.to_base64().as_str());
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("flowc.key");
        MasterKey::load_or_create(&path).expect("create");
        for mode in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            let error = MasterKey::load_or_create(&path).expect_err("refused");
            assert!(
                matches!(error, Error::KeyFilePermissions { mode: found, .. } if found == mode),
                "{error}"
            );
            let message = error.to_string();
            assert!(message.contains(&format!("mode {mode:o}")), "{message}");
            assert!(message.contains("chmod 600"), "{message}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
        MasterKey::load_or_create(&path).expect("read-only for the owner is fine");
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_naming_the_file() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("flowc.key");
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        options
            .open(&path)
            .and_then(|mut file| file.write_all(b"c2hvcnQ=\n"))
            .expect("write");
        let message = MasterKey::load_or_create(&path)
            .expect_err("corrupt")
            .to_string();
        assert!(message.starts_with("key file "), "{message}");
        assert!(message.ends_with("it decodes to 5 bytes"), "{message}");
    }

    #[test]
    fn debug_hides_the_key() {
        let key = MasterKey::parse(HEX).expect("key");
        assert_eq!(format!("{key:?}"), "MasterKey(***)");
    }
}
