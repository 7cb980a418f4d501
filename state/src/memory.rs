//! The in-memory twin: the same rules as [`crate::LmdbState`] over sorted
//! maps, for tests of the runtime and the CLI. Nothing is persisted.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use crate::error::Result;
use crate::store::{Backend, ReadTx, Store, Table, Visitor, WriteTx, ensure_schema};

type Tables = [BTreeMap<Vec<u8>, Vec<u8>>; crate::store::TABLES];

/// Sorted maps, one per table.
#[derive(Debug, Default)]
pub(crate) struct MemBackend {
    tables: Tables,
}

struct MemRead<'a> {
    tables: &'a Tables,
}

fn scan_map(map: &BTreeMap<Vec<u8>, Vec<u8>>, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
    for (k, v) in map.range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded)) {
        if !k.starts_with(prefix) || !f(k, v)? {
            break;
        }
    }
    Ok(())
}

impl ReadTx for MemRead<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tables[table.index()].get(key).cloned())
    }

    fn scan(&self, table: Table, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        scan_map(&self.tables[table.index()], prefix, f)
    }
}

/// A write transaction: changes apply at once and are undone on failure.
struct MemWrite<'a> {
    tables: &'a mut Tables,
    undo: Vec<(Table, Vec<u8>, Option<Vec<u8>>)>,
}

impl ReadTx for MemWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tables[table.index()].get(key).cloned())
    }

    fn scan(&self, table: Table, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        scan_map(&self.tables[table.index()], prefix, f)
    }
}

impl WriteTx for MemWrite<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        let old = self.tables[table.index()].insert(key.to_vec(), value.to_vec());
        self.undo.push((table, key.to_vec(), old));
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()> {
        if let Some(old) = self.tables[table.index()].remove(key) {
            self.undo.push((table, key.to_vec(), Some(old)));
        }
        Ok(())
    }
}

impl Backend for MemBackend {
    fn read<R>(&self, f: impl FnOnce(&dyn ReadTx) -> Result<R>) -> Result<R> {
        f(&MemRead {
            tables: &self.tables,
        })
    }

    fn write<R>(&mut self, f: impl FnOnce(&mut dyn WriteTx) -> Result<R>) -> Result<R> {
        let mut tx = MemWrite {
            tables: &mut self.tables,
            undo: Vec::new(),
        };
        let out = f(&mut tx);
        if out.is_err() {
            for (table, key, old) in tx.undo.into_iter().rev() {
                let map = &mut tx.tables[table.index()];
                match old {
                    Some(v) => map.insert(key, v),
                    None => map.remove(&key),
                };
            }
        }
        out
    }

    fn path(&self) -> &Path {
        Path::new("<memory>")
    }
}

/// The state in memory: same rules, same errors as [`crate::LmdbState`].
#[derive(Debug)]
pub struct InMemoryState {
    pub(crate) store: Store<MemBackend>,
}

impl InMemoryState {
    /// An empty state at the current schema version.
    pub fn new() -> Self {
        let mut backend = MemBackend::default();
        // Writing the schema version to empty maps cannot fail.
        if let Err(e) = ensure_schema(&mut backend) {
            tracing::warn!("in-memory state: {e}");
        }
        InMemoryState {
            store: Store::new(backend),
        }
    }
}

impl Default for InMemoryState {
    fn default() -> Self {
        Self::new()
    }
}

crate::impl_state!(InMemoryState, "memory");
