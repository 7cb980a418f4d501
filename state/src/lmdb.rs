//! The LMDB backend: one heed environment in `<static dir>/state`, shared by
//! every oxpod process on the machine. Writers serialize through LMDB's own
//! lock; readers never block. Each state call is one transaction.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, MdbError};

use crate::error::{Error, Result};
use crate::store::{Backend, ReadTx, Store, TABLES, Table, Visitor, WriteTx, ensure_schema};

/// The map size used when none is given: 1 GiB (sparse; costs no disk).
pub const DEFAULT_MAP_SIZE: usize = 1 << 30;

/// How to open an [`LmdbState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmdbOptions {
    /// The largest the database may grow, in bytes (rounded up to 64 KiB).
    pub map_size: usize,
    /// How many read transactions may be open at once across processes.
    pub max_readers: u32,
}

impl Default for LmdbOptions {
    fn default() -> Self {
        LmdbOptions {
            map_size: DEFAULT_MAP_SIZE,
            max_readers: 126,
        }
    }
}

type Db = Database<'static, Bytes, Bytes>;

/// One open environment, shared by every [`LmdbState`] of this process
/// that opened the same directory (LMDB forbids opening it twice).
#[derive(Debug)]
struct Shared {
    env: Env,
    dbs: [Db; TABLES],
    path: PathBuf,
    map_size: usize,
}

static OPEN: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());

fn is_read_only(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    ) || matches!(e.raw_os_error(), Some(1 | 13 | 30))
}

/// Turns a heed error into ours, naming the database.
fn map_heed(path: &Path, map_size: usize, e: heed::Error) -> Error {
    match e {
        heed::Error::Mdb(MdbError::MapFull) => Error::MapFull {
            path: path.to_path_buf(),
            map_size,
        },
        heed::Error::Mdb(
            m @ (MdbError::Invalid
            | MdbError::Corrupted
            | MdbError::PageNotFound
            | MdbError::VersionMismatch
            | MdbError::Panic
            | MdbError::Incompatible),
        ) => Error::Damaged {
            path: path.to_path_buf(),
            reason: m.to_string(),
        },
        heed::Error::Io(io) if is_read_only(&io) => Error::ReadOnly {
            path: path.to_path_buf(),
            reason: io.to_string(),
        },
        heed::Error::Io(io) if io.raw_os_error() == Some(libc_einval()) => Error::Damaged {
            path: path.to_path_buf(),
            reason: io.to_string(),
        },
        other => Error::Lmdb {
            path: path.to_path_buf(),
            source: other,
        },
    }
}

/// EINVAL: what LMDB reports for a data file too short to hold its header.
const fn libc_einval() -> i32 {
    22
}

/// Opens the environment. The only `unsafe` in the crate.
#[allow(unsafe_code)]
fn open_env(dir: &Path, options: &LmdbOptions, map_size: usize) -> heed::Result<Env> {
    let mut opts = EnvOpenOptions::new();
    opts.map_size(map_size)
        .max_dbs(Table::ALL.len() as u32 + 2)
        .max_readers(options.max_readers);
    // SAFETY: the files in `dir` are only changed through LMDB (by this and
    // other oxpod processes, which coordinate through LMDB's lock file); no
    // unsafe flags (NO_LOCK, NO_SYNC) are set; a process opens a directory
    // at most once at a time, through the `OPEN` registry; transactions are
    // short and never held across calls or a fork.
    unsafe { opts.open(dir) }
}

impl Shared {
    fn open(dir: &Path, options: &LmdbOptions) -> Result<Shared> {
        let map_size = options.map_size.div_ceil(1 << 16).max(1) << 16;
        let mut env = None;
        for attempt in 0..50 {
            match open_env(dir, options, map_size) {
                // Another handle of this process is being dropped right now.
                Err(heed::Error::EnvAlreadyOpened) if attempt < 49 => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => {
                    env = Some(other.map_err(|e| map_heed(dir, map_size, e))?);
                    break;
                }
            }
        }
        let Some(env) = env else {
            return Err(Error::Lmdb {
                path: dir.to_path_buf(),
                source: heed::Error::EnvAlreadyOpened,
            });
        };
        let m = |e| map_heed(dir, map_size, e);
        match env.clear_stale_readers() {
            Ok(0) => {}
            Ok(n) => tracing::warn!(path = %dir.display(), "cleared {n} stale LMDB readers"),
            Err(e) => tracing::warn!(path = %dir.display(), "cannot clear stale readers: {e}"),
        }
        // Open the tables in a read transaction; create them only when one
        // is missing (most opens need no write transaction).
        let rtxn = env.read_txn().map_err(m)?;
        let opened = env
            .open_databases_and_commit(rtxn, |dbo, rtxn| -> heed::Result<_> {
                let opened =
                    Table::ALL.map(|t| dbo.open_database::<Bytes, Bytes>(rtxn, Some(t.name())));
                let mut all = true;
                for r in &opened {
                    match r {
                        Ok(Some(_)) => {}
                        Ok(None) => all = false,
                        Err(_) => {}
                    }
                }
                if !all {
                    return Ok(CommitOrAbort::Abort(()));
                }
                let mut dbs = Vec::with_capacity(TABLES);
                for r in opened {
                    match r? {
                        Some(db) => dbs.push(db),
                        None => unreachable!("every table was checked to exist above"),
                    }
                }
                let Ok(dbs) = <[_; TABLES]>::try_from(dbs) else {
                    unreachable!("one database per table");
                };
                Ok(CommitOrAbort::Commit(dbs))
            })
            .map_err(m)?
            .commit();
        let dbs = match opened {
            Some(dbs) => dbs,
            None => {
                let wtxn = env.write_txn().map_err(m)?;
                let created = env
                    .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                        let mut dbs = Vec::with_capacity(TABLES);
                        for t in Table::ALL {
                            dbs.push(dbo.create_database::<Bytes, Bytes>(wtxn, Some(t.name()))?);
                        }
                        Ok(match <[_; TABLES]>::try_from(dbs) {
                            Ok(dbs) => CommitOrAbort::Commit(dbs),
                            Err(_) => CommitOrAbort::Abort(()),
                        })
                    })
                    .map_err(m)?
                    .commit();
                created.ok_or_else(|| Error::Damaged {
                    path: dir.to_path_buf(),
                    reason: "cannot create its tables".to_string(),
                })?
            }
        };
        Ok(Shared {
            env,
            dbs,
            path: dir.to_path_buf(),
            map_size,
        })
    }
}

/// The LMDB backend of a [`Store`].
#[derive(Debug)]
pub(crate) struct LmdbBackend {
    shared: Arc<Shared>,
}

impl LmdbBackend {
    fn err(&self, e: heed::Error) -> Error {
        map_heed(&self.shared.path, self.shared.map_size, e)
    }
}

struct LmdbRead<'a, 't> {
    txn: &'a heed::RoTxn<'t>,
    backend: &'a LmdbBackend,
}

fn get(
    b: &LmdbBackend,
    txn: &heed::RoTxn<'_>,
    table: Table,
    key: &[u8],
) -> Result<Option<Vec<u8>>> {
    b.shared.dbs[table.index()]
        .get(txn, key)
        .map(|v| v.map(<[u8]>::to_vec))
        .map_err(|e| b.err(e))
}

fn scan(
    b: &LmdbBackend,
    txn: &heed::RoTxn<'_>,
    table: Table,
    prefix: &[u8],
    f: &mut Visitor<'_>,
) -> Result<()> {
    let db = &b.shared.dbs[table.index()];
    if prefix.is_empty() {
        for item in db.iter(txn).map_err(|e| b.err(e))? {
            let (k, v) = item.map_err(|e| b.err(e))?;
            if !f(k, v)? {
                break;
            }
        }
    } else {
        for item in db.prefix_iter(txn, prefix).map_err(|e| b.err(e))? {
            let (k, v) = item.map_err(|e| b.err(e))?;
            if !f(k, v)? {
                break;
            }
        }
    }
    Ok(())
}

impl ReadTx for LmdbRead<'_, '_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get(self.backend, self.txn, table, key)
    }

    fn scan(&self, table: Table, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        scan(self.backend, self.txn, table, prefix, f)
    }
}

struct LmdbWrite<'a, 't> {
    txn: heed::RwTxn<'t>,
    backend: &'a LmdbBackend,
}

impl ReadTx for LmdbWrite<'_, '_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get(self.backend, &self.txn, table, key)
    }

    fn scan(&self, table: Table, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        scan(self.backend, &self.txn, table, prefix, f)
    }
}

impl WriteTx for LmdbWrite<'_, '_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.backend.shared.dbs[table.index()]
            .put(&mut self.txn, key, value)
            .map_err(|e| self.backend.err(e))
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.backend.shared.dbs[table.index()]
            .delete(&mut self.txn, key)
            .map(|_| ())
            .map_err(|e| self.backend.err(e))
    }
}

impl Backend for LmdbBackend {
    fn read<R>(&self, f: impl FnOnce(&dyn ReadTx) -> Result<R>) -> Result<R> {
        let txn = self.shared.env.read_txn().map_err(|e| self.err(e))?;
        f(&LmdbRead {
            txn: &txn,
            backend: self,
        })
    }

    fn write<R>(&mut self, f: impl FnOnce(&mut dyn WriteTx) -> Result<R>) -> Result<R> {
        let this: &LmdbBackend = self;
        let txn = this.shared.env.write_txn().map_err(|e| this.err(e))?;
        let mut tx = LmdbWrite { txn, backend: this };
        // On error the transaction is dropped, which aborts it.
        let out = f(&mut tx)?;
        tx.txn.commit().map_err(|e| this.err(e))?;
        Ok(out)
    }

    fn path(&self) -> &Path {
        &self.shared.path
    }
}

/// The state in an LMDB database: crash-safe and shared by processes.
///
/// Opening the same directory again in one process shares the environment
/// (the first opener's options win); each handle has its own namespace.
/// No transaction outlives a call, so forking and exec-ing (conmon) is safe;
/// a forked child must not use the handle it inherited (open a new one).
#[derive(Debug)]
pub struct LmdbState {
    pub(crate) store: Store<LmdbBackend>,
}

impl LmdbState {
    /// Opens (creating when needed) the database in `<static_dir>/state`.
    ///
    /// Checks the schema version: a fresh database gets the current one, an
    /// older one is migrated in one transaction, a newer one is refused
    /// ([`Error::SchemaTooNew`]). Clears reader slots left by dead processes.
    pub fn open(static_dir: &Path, options: &LmdbOptions) -> Result<LmdbState> {
        let dir = static_dir.join("state");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return Err(if is_read_only(&e) {
                Error::ReadOnly {
                    path: dir,
                    reason: e.to_string(),
                }
            } else {
                Error::Io {
                    op: "create database directory",
                    path: dir,
                    source: e,
                }
            });
        }
        let dir = std::fs::canonicalize(&dir).map_err(|e| Error::Io {
            op: "resolve database directory",
            path: dir.clone(),
            source: e,
        })?;
        // Before LMDB maps the file: a truncated or damaged one is an
        // error here, not a SIGBUS there.
        crate::lmdb_check::check_data_file(&dir)?;
        let marker = crate::lmdb_check::read_marker(&dir)?;
        if marker.is_some() && !crate::lmdb_check::has_data(&dir) {
            return Err(Error::Emptied { path: dir });
        }
        let shared = {
            let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
            open.retain(|(_, w)| w.strong_count() > 0);
            match open
                .iter()
                .find(|(p, _)| *p == dir)
                .and_then(|(_, w)| w.upgrade())
            {
                Some(s) => s,
                None => {
                    let s = Arc::new(Shared::open(&dir, options)?);
                    open.push((dir.clone(), Arc::downgrade(&s)));
                    s
                }
            }
        };
        let mut backend = LmdbBackend { shared };
        ensure_schema(&mut backend)?;
        let mut store = Store::new(backend);
        match (marker, store.db_id()?) {
            (Some(m), Some(id)) if m == id => {}
            (Some(m), found) => {
                return Err(Error::Replaced {
                    path: dir,
                    marker: m,
                    found: found.unwrap_or_else(|| "a database without an id".to_owned()),
                });
            }
            // A new database, or one from before markers: give it an id
            // (the stored one wins a race) and write the marker.
            (None, _) => {
                let (id, _) = store.db_id_or(&crate::lmdb_check::new_db_id()?)?;
                crate::lmdb_check::write_marker(&dir, &id)?;
            }
        }
        tracing::debug!(path = %dir.display(), "opened state database");
        Ok(LmdbState { store })
    }

    /// The database directory (`<static_dir>/state`, canonical).
    pub fn path(&self) -> &Path {
        self.store.backend.path()
    }
}

crate::impl_state!(LmdbState, "lmdb");
