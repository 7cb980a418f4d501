//! What is checked before LMDB maps `data.mdb`, so a damaged file is an
//! error and never a crash: LMDB trusts its meta pages and maps the file by
//! them, and a file shorter than they say kills the process with SIGBUS on
//! the first read past its end (fault-findings 4); a meta page with stray
//! bytes made it ask for an impossible map ("cannot allocate memory",
//! finding 9).
//!
//! The format (LMDB 0.9, 64-bit): pages 0 and 1 are meta pages; after a
//! 16-byte page header each holds magic `0xBEEFC0DE`, version 1, the map
//! address and size, two 48-byte database records (the free-list's first
//! word is the page size), the last used page and the transaction id. LMDB
//! uses the meta page with the higher transaction id.
//!
//! Then every page reachable from the newest meta page is walked (the
//! free-list tree, the main tree and each named database's tree): each
//! page must lie inside the file, name itself, be a branch or leaf page
//! with sane bounds, and every node, child page number and overflow run
//! must stay inside its page and the file. LMDB reads these without
//! checks, so a page of stray bytes in the middle of the file (fault
//! findings 3, `rnd@12288`) would send it past the map: SIGSEGV or SIGBUS.
//!
//! And a marker beside the file (`oxpod.id`, the database's id, also kept
//! in its `meta` table) tells a database that was emptied or replaced
//! after it held records from a new one (finding 6: an emptied `data.mdb`
//! silently became an empty database).

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// LMDB's magic number.
const MAGIC: u32 = 0xBEEF_C0DE;
/// LMDB's data format version.
const VERSION: u32 = 1;
/// Bytes of a page header.
const PAGE_HEADER: usize = 16;

const OFF_MAGIC: usize = PAGE_HEADER;
const OFF_VERSION: usize = PAGE_HEADER + 4;
const OFF_MAPSIZE: usize = PAGE_HEADER + 16;
const OFF_PAGESIZE: usize = PAGE_HEADER + 24;
const OFF_LAST_PAGE: usize = PAGE_HEADER + 120;
const OFF_TXNID: usize = PAGE_HEADER + 128;
/// Bytes of a meta page that are read.
const META_LEN: usize = OFF_TXNID + 8;

/// The marker file beside `data.mdb`.
pub(crate) const MARKER: &str = "oxpod.id";

/// One meta page, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    magic: u32,
    version: u32,
    map_size: u64,
    page_size: u64,
    last_page: u64,
    txnid: u64,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

fn parse(b: &[u8]) -> Meta {
    Meta {
        magic: u32_at(b, OFF_MAGIC),
        version: u32_at(b, OFF_VERSION),
        map_size: u64_at(b, OFF_MAPSIZE),
        page_size: u64::from(u32_at(b, OFF_PAGESIZE)),
        last_page: u64_at(b, OFF_LAST_PAGE),
        txnid: u64_at(b, OFF_TXNID),
    }
}

fn page_size_ok(p: u64) -> bool {
    p.is_power_of_two() && (512..=65536).contains(&p)
}

/// Whether the environment in `dir` exists with a non-empty data file.
pub(crate) fn has_data(dir: &Path) -> bool {
    std::fs::metadata(dir.join("data.mdb")).is_ok_and(|m| m.len() > 0)
}

/// Checks `data.mdb` in `dir` (when it exists and is not empty) against
/// its meta pages; an error says what is wrong and what to do.
pub(crate) fn check_data_file(dir: &Path) -> Result<()> {
    // Other processes commit meanwhile: LMDB writes a commit's pages before
    // the meta page that names them, and never shrinks the file, so the
    // meta pages are read first and the size after. A mismatch is looked
    // at once more before it is called truncation.
    match check_once(dir) {
        Err(Error::Truncated { .. }) => {
            std::thread::sleep(std::time::Duration::from_millis(20));
            check_once(dir)
        }
        other => other,
    }
}

/// What the retry loop compares: a walk's failure on the same transaction
/// twice is damage, on a newer one a concurrent commit.
fn check_once(dir: &Path) -> Result<()> {
    let mut last: Option<String> = None;
    for _ in 0..4 {
        match check_pages(dir) {
            Err(Error::Damaged { path, reason }) if reason.contains("(transaction ") => {
                if last.as_deref() == Some(reason.as_str()) {
                    return Err(Error::Damaged { path, reason });
                }
                // A writer may have reused pages of the transaction we
                // walked (we hold no reader slot): look again.
                last = Some(reason);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
    Err(Error::Damaged {
        path: dir.to_path_buf(),
        reason: last.unwrap_or_default(),
    })
}

fn check_pages(dir: &Path) -> Result<()> {
    let path = dir.join("data.mdb");
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                op: "read database file",
                path,
                source,
            });
        }
    };
    let mut head = Vec::new();
    (&mut file)
        .take(2 * 65536)
        .read_to_end(&mut head)
        .map_err(|source| Error::Io {
            op: "read database file",
            path: path.clone(),
            source,
        })?;
    let size = file
        .metadata()
        .map_err(|source| Error::Io {
            op: "stat database file",
            path: path.clone(),
            source,
        })?
        .len();
    if size == 0 {
        return Ok(());
    }
    let damaged = |reason: String| Error::Damaged {
        path: dir.to_path_buf(),
        reason,
    };
    if head.len() < META_LEN {
        return Err(Error::Truncated {
            path: dir.to_path_buf(),
            size,
            needed: (2 * 4096).max(META_LEN as u64),
        });
    }
    let m0 = parse(&head[..META_LEN]);
    if m0.magic != MAGIC {
        return Err(damaged(format!(
            "meta page 0 is damaged or this is not an LMDB file (magic {:#010x})",
            m0.magic
        )));
    }
    if m0.version != VERSION {
        return Err(damaged(format!(
            "meta page 0 has data version {}",
            m0.version
        )));
    }
    if !page_size_ok(m0.page_size) {
        return Err(damaged(format!(
            "meta page 0 names a page size of {}",
            m0.page_size
        )));
    }
    let psize = usize::try_from(m0.page_size).unwrap_or(usize::MAX);
    if head.len() < psize + META_LEN {
        return Err(Error::Truncated {
            path: dir.to_path_buf(),
            size,
            needed: 2 * m0.page_size,
        });
    }
    let m1 = parse(&head[psize..psize + META_LEN]);
    if m1.magic != MAGIC || m1.version != VERSION {
        return Err(damaged(format!(
            "meta page 1 is damaged (magic {:#010x}, version {})",
            m1.magic, m1.version
        )));
    }
    // The file holds every page up to the last one the meta page names,
    // within the map it names.
    let consistent = |m: &Meta| {
        m.page_size == m0.page_size
            && m.last_page
                .checked_add(1)
                .and_then(|n| n.checked_mul(m0.page_size))
                .is_some_and(|end| end <= size && end <= m.map_size)
    };
    let (newest, other, which) = if m1.txnid > m0.txnid {
        (m1, m0, 1)
    } else {
        (m0, m1, 0)
    };
    if consistent(&newest) {
        let meta_bytes = if which == 1 {
            &head[psize..psize + META_LEN]
        } else {
            &head[..META_LEN]
        };
        return walk_trees(&file, meta_bytes, &newest)
            .map_err(|reason| damaged(format!("{reason} (transaction {})", newest.txnid)));
    }
    let needed = newest
        .last_page
        .saturating_add(1)
        .saturating_mul(m0.page_size);
    // Healthy meta pages hold consecutive transactions; a page whose
    // numbers are wild beside a consistent twin was written over.
    if consistent(&other) && newest.txnid.abs_diff(other.txnid) > 1 {
        return Err(damaged(format!(
            "meta page {which} is damaged (it names transaction {} and page {} of a {size}-byte file)",
            newest.txnid, newest.last_page
        )));
    }
    Err(Error::Truncated {
        path: dir.to_path_buf(),
        size,
        needed,
    })
}

/// Offsets in a meta page of the free-list and main databases' roots.
const OFF_FREE_ROOT: usize = PAGE_HEADER + 24 + 40;
const OFF_MAIN_ROOT: usize = PAGE_HEADER + 24 + 48 + 40;
/// An empty tree's root.
const P_INVALID: u64 = u64::MAX;
const P_BRANCH: u16 = 0x01;
const P_LEAF: u16 = 0x02;
const P_OVERFLOW: u16 = 0x04;
/// Flags LMDB may leave set on a page on disk and that say nothing of
/// its layout (dirty, loose, keep).
const P_IGNORED: u16 = 0x10 | 0x4000 | 0x8000;
const F_BIGDATA: u16 = 0x01;
const F_SUBDATA: u16 = 0x02;
const F_DUPDATA: u16 = 0x04;
/// Bytes of a node header.
const NODE_HEADER: usize = 8;
/// Bytes of a database record (a named database's root, in the main tree).
const DB_RECORD: usize = 48;
/// Deeper than any tree of a file that fits a map.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tree {
    /// The free list: leaf values are page-number lists.
    Free,
    /// The main tree: leaf values may be named databases' records.
    Main,
    /// A named database: values are oxpod's records.
    Named,
}

struct Walker<'a> {
    file: &'a std::fs::File,
    page_size: u64,
    last_page: u64,
    seen: std::collections::HashSet<u64>,
}

fn walk_trees(file: &std::fs::File, meta: &[u8], m: &Meta) -> std::result::Result<(), String> {
    let mut w = Walker {
        file,
        page_size: m.page_size,
        last_page: m.last_page,
        seen: std::collections::HashSet::new(),
    };
    w.tree(u64_at(meta, OFF_FREE_ROOT), Tree::Free, 0)?;
    w.tree(u64_at(meta, OFF_MAIN_ROOT), Tree::Main, 0)
}

impl Walker<'_> {
    fn read(&self, pgno: u64, pages: u64) -> std::result::Result<Vec<u8>, String> {
        use std::os::unix::fs::FileExt;
        let end = pgno
            .checked_add(pages)
            .filter(|&e| pgno >= 2 && pages >= 1 && e - 1 <= self.last_page)
            .ok_or_else(|| {
                format!(
                    "page {pgno} (+{pages}) is outside the file's {} pages",
                    self.last_page + 1
                )
            })?;
        let len = usize::try_from((end - pgno) * self.page_size)
            .map_err(|_| format!("page run at {pgno} is too long"))?;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, pgno * self.page_size)
            .map_err(|e| format!("cannot read page {pgno}: {e}"))?;
        Ok(buf)
    }

    fn tree(&mut self, root: u64, kind: Tree, depth: usize) -> std::result::Result<(), String> {
        if root == P_INVALID {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(format!("page {root} is {depth} levels deep"));
        }
        if !self.seen.insert(root) {
            return Err(format!("page {root} is reached twice"));
        }
        let page = self.read(root, 1)?;
        let bad = |why: String| Err(format!("page {root}: {why}"));
        if u64_at(&page, 0) != root {
            return bad(format!("it names itself page {}", u64_at(&page, 0)));
        }
        let flags = u16_at(&page, 10) & !P_IGNORED;
        let lower = usize::from(u16_at(&page, 12));
        let upper = usize::from(u16_at(&page, 14));
        let psize = page.len();
        if flags != P_BRANCH && flags != P_LEAF {
            return bad(format!(
                "flags {flags:#06x} are not a branch or leaf page's"
            ));
        }
        if lower < PAGE_HEADER
            || lower > upper
            || upper > psize
            || !(lower - PAGE_HEADER).is_multiple_of(2)
        {
            return bad(format!("bounds {lower}..{upper} do not fit a page"));
        }
        let count = (lower - PAGE_HEADER) / 2;
        if flags == P_BRANCH && count == 0 {
            return bad("a branch page without children".to_owned());
        }
        for i in 0..count {
            let at = usize::from(u16_at(&page, PAGE_HEADER + 2 * i));
            if at < upper || !at.is_multiple_of(2) || at + NODE_HEADER > psize {
                return bad(format!("node {i} at offset {at} is outside the node area"));
            }
            let lo = u64::from(u16_at(&page, at));
            let hi = u64::from(u16_at(&page, at + 2));
            let nflags = u16_at(&page, at + 4);
            let ksize = usize::from(u16_at(&page, at + 6));
            let key_end = at + NODE_HEADER + ksize;
            if key_end > psize {
                return bad(format!("node {i}'s key runs past the page"));
            }
            if flags == P_BRANCH {
                let child = lo | (hi << 16) | (u64::from(nflags) << 32);
                self.tree(child, kind, depth + 1)?;
                continue;
            }
            let dsize = usize::try_from(lo | (hi << 16)).unwrap_or(usize::MAX);
            if nflags & !(F_BIGDATA | F_SUBDATA | F_DUPDATA) != 0 {
                return bad(format!("node {i} has flags {nflags:#06x}"));
            }
            let data = if nflags & F_BIGDATA != 0 {
                if key_end + 8 > psize {
                    return bad(format!(
                        "node {i}'s overflow page number runs past the page"
                    ));
                }
                let first = u64_at(&page, key_end);
                self.overflow(first, dsize)?
            } else {
                if key_end + dsize > psize {
                    return bad(format!(
                        "node {i}'s value ({dsize} bytes) runs past the page"
                    ));
                }
                page[key_end..key_end + dsize].to_vec()
            };
            match kind {
                Tree::Free => self.free_list(root, i, &data)?,
                Tree::Main if nflags & F_SUBDATA != 0 => {
                    if data.len() != DB_RECORD {
                        return bad(format!(
                            "node {i}'s database record has {} bytes",
                            data.len()
                        ));
                    }
                    self.tree(u64_at(&data, 40), Tree::Named, 0)?;
                }
                _ if nflags & (F_SUBDATA | F_DUPDATA) != 0 => {
                    return bad(format!(
                        "node {i} holds duplicates, which oxpod never writes"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// An overflow run: its first page says how many pages it spans.
    fn overflow(&mut self, first: u64, dsize: usize) -> std::result::Result<Vec<u8>, String> {
        if !self.seen.insert(first) {
            return Err(format!("overflow page {first} is reached twice"));
        }
        let head = self.read(first, 1)?;
        if u64_at(&head, 0) != first || u16_at(&head, 10) & !P_IGNORED != P_OVERFLOW {
            return Err(format!(
                "page {first} is not the overflow page a value names"
            ));
        }
        let pages = u64::from(u32_at(&head, 12));
        let fits = (pages * self.page_size)
            .checked_sub(PAGE_HEADER as u64)
            .is_some_and(|room| room >= dsize as u64);
        if !fits {
            return Err(format!(
                "overflow run at page {first} ({pages} pages) cannot hold {dsize} bytes"
            ));
        }
        let run = self.read(first, pages)?;
        Ok(run[PAGE_HEADER..PAGE_HEADER + dsize].to_vec())
    }

    /// A free-list value: a count, then that many page numbers, each a
    /// page of the file (LMDB reuses them on the next write).
    fn free_list(&self, page: u64, node: usize, data: &[u8]) -> std::result::Result<(), String> {
        if data.len() < 8 || !data.len().is_multiple_of(8) {
            return Err(format!(
                "page {page}: free-list node {node} has {} bytes",
                data.len()
            ));
        }
        let n = u64_at(data, 0);
        if n != (data.len() as u64 / 8) - 1 {
            return Err(format!(
                "page {page}: free-list node {node} counts {n} pages"
            ));
        }
        for k in 1..=n as usize {
            let pg = u64_at(data, 8 * k);
            if pg < 2 || pg > self.last_page {
                return Err(format!(
                    "page {page}: free-list node {node} names page {pg}, outside the file"
                ));
            }
        }
        Ok(())
    }
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// The id in the marker beside the data file, if there is one.
pub(crate) fn read_marker(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(MARKER);
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(Error::ReadOnly {
            path: dir.to_path_buf(),
            reason: format!("cannot read {}: {e}", path.display()),
        }),
        Err(source) => Err(Error::Io {
            op: "read database marker",
            path,
            source,
        }),
    }
}

/// Writes the marker (through a temporary file, mode 0600).
pub(crate) fn write_marker(dir: &Path, id: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(MARKER);
    let tmp = dir.join(format!(".{MARKER}.{}", std::process::id()));
    let io = |source| Error::Io {
        op: "write database marker",
        path: path.clone(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(id.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// A new database id: 32 hex characters from the kernel's randomness.
pub(crate) fn new_db_id() -> Result<String> {
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|source| Error::Io {
            op: "read",
            path: "/dev/urandom".into(),
            source,
        })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(page: u64, txnid: u64, last: u64) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&MAGIC.to_le_bytes());
        b[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&VERSION.to_le_bytes());
        b[OFF_MAPSIZE..OFF_MAPSIZE + 8].copy_from_slice(&(1u64 << 30).to_le_bytes());
        b[OFF_PAGESIZE..OFF_PAGESIZE + 4].copy_from_slice(&4096u32.to_le_bytes());
        b[OFF_LAST_PAGE..OFF_LAST_PAGE + 8].copy_from_slice(&last.to_le_bytes());
        b[OFF_TXNID..OFF_TXNID + 8].copy_from_slice(&txnid.to_le_bytes());
        // Empty trees.
        b[OFF_FREE_ROOT..OFF_FREE_ROOT + 8].copy_from_slice(&P_INVALID.to_le_bytes());
        b[OFF_MAIN_ROOT..OFF_MAIN_ROOT + 8].copy_from_slice(&P_INVALID.to_le_bytes());
        b[0..8].copy_from_slice(&page.to_le_bytes());
        b
    }

    fn file(dir: &Path, pages: &[Vec<u8>], total: usize) {
        let mut all: Vec<u8> = pages.concat();
        all.resize(total, 0);
        std::fs::write(dir.join("data.mdb"), all).unwrap();
    }

    #[test]
    fn sound_truncated_and_damaged_files() {
        let d = tempfile::tempdir().unwrap();
        file(d.path(), &[meta(0, 6, 9), meta(1, 7, 10)], 11 * 4096);
        check_data_file(d.path()).unwrap();
        file(d.path(), &[meta(0, 6, 9), meta(1, 7, 10)], 6 * 4096);
        assert!(matches!(
            check_data_file(d.path()),
            Err(Error::Truncated { needed: 45056, .. })
        ));
        file(d.path(), &[meta(0, 6, 9)], 3000);
        assert!(matches!(
            check_data_file(d.path()),
            Err(Error::Truncated { .. })
        ));
        let mut wild = meta(0, 6, 9);
        wild[OFF_TXNID..OFF_TXNID + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        wild[OFF_LAST_PAGE..OFF_LAST_PAGE + 8].copy_from_slice(&(1u64 << 50).to_le_bytes());
        file(d.path(), &[wild, meta(1, 7, 10)], 11 * 4096);
        let err = check_data_file(d.path()).unwrap_err();
        assert!(err.to_string().contains("meta page 0 is damaged"), "{err}");
        let mut bad = meta(0, 6, 9);
        bad[OFF_MAGIC] ^= 0xff;
        file(d.path(), &[bad, meta(1, 7, 10)], 11 * 4096);
        assert!(
            check_data_file(d.path())
                .unwrap_err()
                .to_string()
                .contains("meta page 0")
        );
        std::fs::write(d.path().join("data.mdb"), b"").unwrap();
        check_data_file(d.path()).unwrap();
        assert!(!has_data(d.path()));
    }

    #[test]
    fn markers_round_trip() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_marker(d.path()).unwrap(), None);
        let id = new_db_id().unwrap();
        assert_eq!(id.len(), 32);
        write_marker(d.path(), &id).unwrap();
        assert_eq!(read_marker(d.path()).unwrap(), Some(id));
    }
}
