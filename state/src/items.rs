//! Records of the kinds the next layers add (images, layers, volumes, exec
//! sessions, IP leases), stored beside containers and pods in the same
//! environment, so one transaction can cover them all.
//!
//! A kind implements [`Item`]: a stable word for its kind, its id, and the
//! ids it refers to as `(index, target)` edges (a container refers to its
//! image: `("image", <image id>)`). The store keeps the reverse index
//! itself: [`Items::referrers`] answers "which items use this image"
//! without callers maintaining anything, and an update replaces the old
//! edges with the new ones in the same transaction.
//!
//! Items are not namespaced (podman's images and volumes are not).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::store::{Backend, Store, Table, WriteTx, decode, encode};

/// A record kind stored through [`Items`].
pub trait Item: Serialize + DeserializeOwned {
    /// The kind's word, stable on disk (`image`, `volume`, `exec`). No `/`.
    const KIND: &'static str;
    /// Its id (no `/`, not empty).
    fn id(&self) -> &str;
    /// What it refers to, as `(index, target id)` edges.
    fn refs(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// One change of a batch written in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOp {
    /// Adds or replaces an item (its edges replace the old ones).
    Put {
        /// The kind.
        kind: String,
        /// The id.
        id: String,
        /// The encoded item (JSON).
        value: Vec<u8>,
        /// Its `(index, target)` edges.
        refs: Vec<(String, String)>,
    },
    /// Removes an item and its edges; one that is not there is an error
    /// (the whole batch is then undone).
    Remove {
        /// The kind.
        kind: String,
        /// The id.
        id: String,
    },
}

impl ItemOp {
    /// A put of `item`.
    pub fn put<T: Item>(item: &T) -> Result<Self> {
        Ok(ItemOp::Put {
            kind: T::KIND.to_owned(),
            id: item.id().to_owned(),
            value: encode(Table::Items, item.id().as_bytes(), item)?,
            refs: item.refs(),
        })
    }

    /// A removal of the `T` with this id.
    pub fn remove<T: Item>(id: &str) -> Self {
        ItemOp::Remove {
            kind: T::KIND.to_owned(),
            id: id.to_owned(),
        }
    }
}

/// The object-safe item interface every [`crate::State`] offers; typed
/// access goes through [`ItemsExt`].
pub trait Items {
    /// The encoded item, if there is one.
    fn item_bytes(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>>;
    /// Every item of a kind, as `(id, encoded)` in id order.
    fn items_bytes(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>>;
    /// The items referring to `target` through `index`, as `(kind, id)`.
    fn referrers(&self, index: &str, target: &str) -> Result<Vec<(String, String)>>;
    /// Applies every change in one transaction: all or none.
    fn write_items(&mut self, ops: &[ItemOp]) -> Result<()>;
}

/// Typed access over [`Items`].
pub trait ItemsExt: Items {
    /// The `T` with this id.
    fn item<T: Item>(&self, id: &str) -> Result<Option<T>> {
        self.item_bytes(T::KIND, id)?
            .map(|b| decode(Table::Items, item_key(T::KIND, id).as_bytes(), &b))
            .transpose()
    }

    /// Every `T`; those that do not decode are returned as errors in place.
    fn all_items<T: Item>(&self) -> Result<Vec<Result<T>>> {
        Ok(self
            .items_bytes(T::KIND)?
            .into_iter()
            .map(|(id, b)| decode(Table::Items, item_key(T::KIND, &id).as_bytes(), &b))
            .collect())
    }

    /// Adds or replaces one item.
    fn put_item<T: Item>(&mut self, item: &T) -> Result<()> {
        self.write_items(&[ItemOp::put(item)?])
    }

    /// Removes one item.
    fn remove_item<T: Item>(&mut self, id: &str) -> Result<()> {
        self.write_items(&[ItemOp::remove::<T>(id)])
    }
}

impl<S: Items + ?Sized> ItemsExt for S {}

fn item_key(kind: &str, id: &str) -> String {
    format!("{kind}/{id}")
}

fn index_prefix(index: &str, target: &str) -> String {
    format!("{index}/{target}/")
}

/// A kind, id, index or target used in a key: not empty, no `/`.
fn check_part(what: &'static str, s: &str) -> Result<()> {
    if s.is_empty() || s.contains('/') {
        return Err(Error::InvalidItemKey {
            what,
            value: s.to_owned(),
        });
    }
    Ok(())
}

fn remove_refs(tx: &mut dyn WriteTx, kind: &str, id: &str) -> Result<()> {
    let key = item_key(kind, id);
    let Some(old) = tx.get(Table::ItemRefs, key.as_bytes())? else {
        return Ok(());
    };
    let old: Vec<(String, String)> = decode(Table::ItemRefs, key.as_bytes(), &old)?;
    for (index, target) in old {
        let k = format!("{}{key}", index_prefix(&index, &target));
        tx.delete(Table::Index, k.as_bytes())?;
    }
    tx.delete(Table::ItemRefs, key.as_bytes())
}

impl<B: Backend> Store<B> {
    pub(crate) fn item_bytes(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>> {
        check_part("kind", kind)?;
        check_part("id", id)?;
        self.read(|tx, _| tx.get(Table::Items, item_key(kind, id).as_bytes()))
    }

    pub(crate) fn items_bytes(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>> {
        check_part("kind", kind)?;
        let prefix = format!("{kind}/");
        self.read(|tx, _| {
            let mut out = Vec::new();
            tx.scan(Table::Items, prefix.as_bytes(), &mut |k, v| {
                let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                out.push((id, v.to_vec()));
                Ok(true)
            })?;
            Ok(out)
        })
    }

    pub(crate) fn referrers(&self, index: &str, target: &str) -> Result<Vec<(String, String)>> {
        check_part("index", index)?;
        check_part("target", target)?;
        let prefix = index_prefix(index, target);
        self.read(|tx, _| {
            let mut out = Vec::new();
            tx.scan(Table::Index, prefix.as_bytes(), &mut |k, _| {
                let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                if let Some((kind, id)) = rest.split_once('/') {
                    out.push((kind.to_owned(), id.to_owned()));
                }
                Ok(true)
            })?;
            Ok(out)
        })
    }

    pub(crate) fn write_items(&mut self, ops: &[ItemOp]) -> Result<()> {
        check_ops(ops)?;
        self.write(|tx, _| apply_ops(tx, ops))
    }
}

/// Checks every part of a batch before it is applied.
pub(crate) fn check_ops(ops: &[ItemOp]) -> Result<()> {
    for op in ops {
        let (ItemOp::Put { kind, id, .. } | ItemOp::Remove { kind, id }) = op;
        check_part("kind", kind)?;
        check_part("id", id)?;
        if let ItemOp::Put { refs, .. } = op {
            for (index, target) in refs {
                check_part("index", index)?;
                check_part("target", target)?;
            }
        }
    }
    Ok(())
}

/// Applies a checked batch inside a write transaction.
pub(crate) fn apply_ops(tx: &mut dyn WriteTx, ops: &[ItemOp]) -> Result<()> {
    for op in ops {
        match op {
            ItemOp::Put {
                kind,
                id,
                value,
                refs,
            } => {
                let key = item_key(kind, id);
                remove_refs(tx, kind, id)?;
                tx.put(Table::Items, key.as_bytes(), value)?;
                if !refs.is_empty() {
                    let encoded = encode(Table::ItemRefs, key.as_bytes(), refs)?;
                    tx.put(Table::ItemRefs, key.as_bytes(), &encoded)?;
                    for (index, target) in refs {
                        let k = format!("{}{key}", index_prefix(index, target));
                        tx.put(Table::Index, k.as_bytes(), b"")?;
                    }
                }
            }
            ItemOp::Remove { kind, id } => {
                let key = item_key(kind, id);
                if tx.get(Table::Items, key.as_bytes())?.is_none() {
                    return Err(Error::ItemNotFound {
                        kind: kind.clone(),
                        id: id.clone(),
                    });
                }
                remove_refs(tx, kind, id)?;
                tx.delete(Table::Items, key.as_bytes())?;
            }
        }
    }
    Ok(())
}
