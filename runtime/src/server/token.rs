//! The admin API's bearer token: `FLOWC_ADMIN_TOKEN`, or a file next to the
//! database created with mode 0600 at first start.
//!
//! The token is 32 random bytes in unpadded URL-safe base64. Like the vault's key
//! file, an existing token file that the group or others may read is refused, and
//! the token is never printed: `flowc serve` prints where it is. The admin
//! endpoints that check it come next; the token exists from the first start so
//! that a server is never open by default.

use crate::vault::SecretString;
use base64::Engine as _;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The environment variable that holds the admin token.
pub const ENV_VAR: &str = "FLOWC_ADMIN_TOKEN";

/// Where the admin token came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Environment,
    /// A token file; `created` when this start made it.
    File {
        path: PathBuf,
        created: bool,
    },
}

/// Why the token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{ENV_VAR} is set but empty or not UTF-8")]
    BadEnvironment,
    #[error("token file {}: {source}", path.display())]
    File { path: PathBuf, source: io::Error },
    #[error(
        "token file {} can be read by group or others (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("token file {} is empty", path.display())]
    Empty { path: PathBuf },
}

/// The token from `FLOWC_ADMIN_TOKEN`, or else from (or into) `path`.
pub fn admin_token(path: &Path) -> Result<(SecretString, Origin), Error> {
    resolve(std::env::var_os(ENV_VAR), path)
}

/// [`admin_token`] with the variable's value as an argument, for tests.
pub fn resolve(env_value: Option<OsString>, path: &Path) -> Result<(SecretString, Origin), Error> {
    if let Some(value) = env_value {
        let value = value.into_string().map_err(|_| Error::BadEnvironment)?;
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::BadEnvironment);
        }
        return Ok((SecretString::new(value), Origin::Environment));
    }
    let file_error = |source| Error::File {
        path: path.to_owned(),
        source,
    };
    match File::open(path) {
        Ok(file) => Ok((
            read(file, path)?,
            Origin::File {
                path: path.to_owned(),
                created: false,
            },
        )),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|error| file_error(io::Error::other(error)))?;
            let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(mut file) => {
                    file.write_all(format!("{token}\n").as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(file_error)?;
                    Ok((
                        SecretString::new(token),
                        Origin::File {
                            path: path.to_owned(),
                            created: true,
                        },
                    ))
                }
                // Another process made it first: use theirs.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    let file = File::open(path).map_err(file_error)?;
                    Ok((
                        read(file, path)?,
                        Origin::File {
                            path: path.to_owned(),
                            created: false,
                        },
                    ))
                }
                Err(error) => Err(file_error(error)),
            }
        }
        Err(error) => Err(file_error(error)),
    }
}

fn read(mut file: File, path: &Path) -> Result<SecretString, Error> {
    let file_error = |source| Error::File {
        path: path.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(file_error)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    file.read_to_string(&mut text).map_err(file_error)?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    Ok(SecretString::new(token))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_token_file_is_created_once_with_mode_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        let (first, origin) = resolve(None, &path).unwrap();
        assert!(matches!(origin, Origin::File { created: true, .. }));
        assert_eq!(first.len(), 43);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (second, origin) = resolve(None, &path).unwrap();
        assert!(matches!(origin, Origin::File { created: false, .. }));
        assert_eq!(first.expose(), second.expose());
    }

    #[test]
    fn the_environment_wins_and_a_readable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        let (token, origin) = resolve(Some("from-env".into()), &path).unwrap();
        assert_eq!((token.expose(), origin), ("from-env", Origin::Environment));
        assert!(!path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::write(&path, "t\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                resolve(None, &path),
                Err(Error::Permissions { .. })
            ));
        }
    }
}
