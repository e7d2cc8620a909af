//! The embedded store and vault, for the commands that work on a database
//! directly rather than through a server: `flowc secrets` and `flowc run`.
//!
//! They find things where `flowc serve` puts them: the SQLite database (`flowc.db`
//! unless `--db`) and, next to it, the vault's key file (`flowc.key`) unless
//! `FLOWC_MASTER_KEY` is set. The store runs in WAL mode with a busy timeout, so
//! these commands work while a server has the same database open; a write waits
//! for the server's current batch to commit.

use super::{error, note};
use flowc_runtime::store::Store;
use flowc_runtime::store::sqlite;
use flowc_runtime::vault::{self, MasterKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default database, as for `flowc serve`.
pub const DEFAULT_DB: &str = "flowc.db";

/// A file next to the database: `flowc.db` → `flowc.key`.
pub fn beside(db: &Path, extension: &str) -> PathBuf {
    db.with_extension(extension)
}

/// Opens (creating when missing) the database at `db`, or prints why it cannot be
/// opened and returns `None`.
pub fn open_store(db: &Path) -> Option<Arc<dyn Store>> {
    match sqlite::Options::new(db).open() {
        Ok(store) => Some(Arc::new(store)),
        Err(err) => {
            error(format_args!("cannot open {}: {err}", db.display()));
            None
        }
    }
}

/// Opens the database at `db` only if it exists, so that reading commands never
/// leave an empty database behind a typo; prints why not otherwise.
pub fn open_existing_store(db: &Path) -> Option<Arc<dyn Store>> {
    if !db.exists() {
        error(format_args!("no database at {}", db.display()));
        super::help("name it with --db FILE; `flowc serve` and `flowc secrets set` create one");
        return None;
    }
    open_store(db)
}

/// The vault's master key for the database at `db`: `FLOWC_MASTER_KEY`, or the key
/// file next to it, created (mode 0600) when missing with the note `flowc serve`
/// prints. Prints why there is none and returns `None` otherwise.
pub fn master_key(db: &Path) -> Option<MasterKey> {
    match MasterKey::from_env_or_file(&beside(db, "key")) {
        Ok((key, origin)) => {
            if let vault::Origin::KeyFile {
                path,
                created: true,
            } = &origin
            {
                note(format_args!(
                    "created the vault's master key in {}; back it up: losing it loses every secret",
                    path.display()
                ));
            }
            Some(key)
        }
        Err(err) => {
            error(err);
            None
        }
    }
}
