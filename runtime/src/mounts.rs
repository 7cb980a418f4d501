//! The mounts a container asks for (`-v SRC:DST[:OPTS]`, `--mount
//! type=bind|tmpfs,...`, `--tmpfs DST[:OPTS]`, `--read-only`), parsed and
//! checked as podman 4.3 does, bind sources resolved once at creation; and
//! the `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` every container
//! gets, written into its bundle and bind-mounted over the root's.
//!
//! Parsing lives here, not in the CLI, so every front end (the API later)
//! gives the same answers to the same strings.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use oxpod_state::ContainerMount;
use tracing::debug;

use crate::{Error, Result};

/// A mount as asked for, before its source is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountRequest {
    /// A host path bound into the container.
    Bind {
        /// The host path as given (absolute, or relative to the current
        /// directory when it starts with `.`).
        source: PathBuf,
        /// Where it appears (absolute, cleaned).
        destination: String,
        /// OCI options (`rbind`/`bind`, propagation, `ro`/`rw`, ...).
        options: Vec<String>,
        /// `U`: the source is chowned to the container's user.
        chown: bool,
    },
    /// A named volume (made on first use), or an anonymous one.
    Volume {
        /// The volume's name; empty for an anonymous volume.
        name: String,
        /// Where it appears (absolute, cleaned).
        destination: String,
        /// OCI options, as for a bind mount.
        options: Vec<String>,
    },
    /// An image's root file system (`--mount type=image`), read-only
    /// unless `rw` (then the container's changes go to an upper layer in
    /// its bundle, thrown away at each start).
    Image {
        /// The image, as given.
        image: String,
        /// Where it appears (absolute, cleaned).
        destination: String,
        /// Writable.
        rw: bool,
    },
    /// A tmpfs.
    Tmpfs {
        /// Where it appears (absolute, cleaned).
        destination: String,
        /// Its options (podman's defaults `rw,noexec,nosuid,nodev`, then
        /// what was asked).
        options: Vec<String>,
    },
}

impl MountRequest {
    /// Where it appears in the container.
    pub fn destination(&self) -> &str {
        match self {
            MountRequest::Bind { destination, .. }
            | MountRequest::Volume { destination, .. }
            | MountRequest::Image { destination, .. }
            | MountRequest::Tmpfs { destination, .. } => destination,
        }
    }
}

fn invalid(spec: &str, reason: impl Into<String>) -> Error {
    Error::InvalidMount {
        spec: spec.to_owned(),
        reason: reason.into(),
    }
}

/// Parses `-v`/`--volume`: `SRC:DST[:OPTS]` with SRC a host path.
pub fn parse_volume(spec: &str) -> Result<MountRequest> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, opts) = match parts.as_slice() {
        // An anonymous volume: made for this container, named by a
        // random id, removed with it by `rm -v` and `run --rm`.
        [dst] => {
            return Ok(MountRequest::Volume {
                name: String::new(),
                destination: container_path(spec, dst)?,
                options: volume_options(bind_options(spec, std::iter::empty())?.0),
            });
        }
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => {
            return Err(invalid(
                spec,
                "incorrect volume format, should be host-dir:ctr-dir[:option]",
            ));
        }
    };
    if source.is_empty() {
        return Err(invalid(spec, "host directory cannot be empty"));
    }
    let destination = container_path(spec, destination)?;
    let (options, chown) = bind_options(spec, opts.split(',').filter(|o| !o.is_empty()))?;
    if !source.starts_with('/') && !source.starts_with('.') {
        crate::volumes::check_name(source)?;
        if chown {
            return Err(invalid(spec, "`U` on a named volume is not supported yet"));
        }
        return Ok(MountRequest::Volume {
            name: source.to_owned(),
            destination,
            options: volume_options(options),
        });
    }
    Ok(MountRequest::Bind {
        source: PathBuf::from(source),
        destination,
        options,
        chown,
    })
}

/// A container path: absolute, not `/`, cleaned of `.`, `..` and repeated
/// slashes (`..` never climbs above `/`).
fn container_path(spec: &str, path: &str) -> Result<String> {
    if !path.starts_with('/') {
        return Err(invalid(
            spec,
            format!("invalid container path {path:?}, must be an absolute path"),
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if parts.is_empty() {
        return Err(invalid(
            spec,
            "a mount over the container's root `/` is refused",
        ));
    }
    let clean = format!("/{}", parts.join("/"));
    // runc refuses every mount in /proc but these files (lxcfs's); said
    // here, before anything is made, not as runc's error at start.
    if (clean == "/proc" || clean.starts_with("/proc/"))
        && !RUNC_PROC_FILES.contains(&clean.as_str())
    {
        return Err(invalid(
            spec,
            format!("a mount over {clean} is refused: the runtime allows none in /proc"),
        ));
    }
    Ok(clean)
}

/// The `/proc` files runc lets a bind mount cover.
const RUNC_PROC_FILES: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
];

/// Options that exclude each other: at most one of each group.
/// The mount propagation options.
pub const PROPAGATIONS: &[&str] = &[
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "unbindable",
    "runbindable",
];

const GROUPS: [&[&str]; 7] = [
    &["ro", "rw"],
    // A volume's copy-up (kept in the record, never given to the runtime).
    &["copy", "nocopy"],
    &["z", "Z"],
    PROPAGATIONS,
    &["bind", "rbind"],
    &["nosuid", "suid"],
    &["nodev", "dev"],
];

/// A bind mount's options as podman reads them: each at most once, none
/// with its opposite; `z`/`Z` accepted and ignored (no SELinux here).
/// Returns the OCI options and whether `U` was given.
fn bind_options<'a>(
    spec: &str,
    given: impl Iterator<Item = &'a str>,
) -> Result<(Vec<String>, bool)> {
    let mut seen: Vec<&str> = Vec::new();
    let mut chown = false;
    for o in given {
        match o {
            "U" => {
                if chown {
                    return Err(invalid(spec, "option \"U\" given twice"));
                }
                chown = true;
                continue;
            }
            "O" => {
                if seen.contains(&"O") {
                    return Err(invalid(spec, "option \"O\" given twice"));
                }
                seen.push("O");
                continue;
            }
            "idmap" => return Err(invalid(spec, "idmapped mounts are not supported yet")),
            "noexec" | "exec" => {}
            o if GROUPS.iter().any(|g| g.contains(&o)) => {}
            other => {
                return Err(invalid(spec, format!("invalid option type {other:?}")));
            }
        }
        let group: &[&str] = match o {
            "noexec" | "exec" => &["noexec", "exec"],
            o => GROUPS
                .iter()
                .find(|g| g.contains(&o))
                .copied()
                .unwrap_or(&[]),
        };
        if let Some(prev) = seen.iter().find(|s| group.contains(s)) {
            return Err(invalid(
                spec,
                if *prev == o {
                    format!("option {o:?} given twice")
                } else {
                    format!("options {prev:?} and {o:?} conflict")
                },
            ));
        }
        seen.push(o);
    }
    let has = |o: &str| seen.contains(&o);
    // An overlay (`O`): the source is its lower layer, the container's
    // changes go to an upper layer in its bundle, thrown away at each
    // start (podman's). Only z/Z go with it.
    if has("O") {
        if chown {
            return Err(invalid(spec, "option \"O\" cannot be combined with \"U\""));
        }
        if let Some(other) = seen.iter().find(|o| !matches!(**o, "O" | "z" | "Z")) {
            return Err(invalid(
                spec,
                format!("option \"O\" cannot be combined with {other:?}"),
            ));
        }
        return Ok((vec!["O".to_owned()], false));
    }
    if has("z") || has("Z") {
        debug!(
            spec,
            "SELinux is not enabled: the relabel option is ignored"
        );
    }
    // podman's order: what was given, then the defaults it lacks.
    let mut options: Vec<String> = seen
        .iter()
        .filter(|o| !matches!(**o, "z" | "Z"))
        .map(|o| (*o).to_owned())
        .collect();
    if !has("ro") && !has("rw") {
        options.push("rw".to_owned());
    }
    if !PROPAGATIONS.iter().any(|p| has(p)) {
        options.push("rprivate".to_owned());
    }
    if !has("bind") && !has("rbind") {
        options.push("rbind".to_owned());
    }
    Ok((options, chown))
}

/// A volume mount's options: a bind's, with podman's `nosuid,nodev`
/// first unless `suid`/`dev` were asked for.
fn volume_options(bind: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (default, opposite) in [("nosuid", "suid"), ("nodev", "dev")] {
        if !bind.iter().any(|o| o == default || o == opposite) {
            out.push(default.to_owned());
        }
    }
    out.extend(bind);
    out
}

/// Parses `--tmpfs DST[:OPTS]`.
pub fn parse_tmpfs(spec: &str) -> Result<MountRequest> {
    let (dst, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let destination = container_path(spec, dst)?;
    let options = tmpfs_options(spec, opts.split(',').filter(|o| !o.is_empty()))?;
    Ok(MountRequest::Tmpfs {
        destination,
        options,
    })
}

/// podman 4.3's tmpfs options: what was given, then its defaults
/// (`rw,rprivate,nosuid,nodev,tmpcopyup`) that nothing given overrides;
/// sizes and modes checked.
fn tmpfs_options<'a>(spec: &str, given: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    let mut options: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for o in given {
        let key = o.split_once('=').map_or(o, |(k, _)| k);
        let group = match key {
            "ro" | "rw" => "rw",
            "exec" | "noexec" => "exec",
            "suid" | "nosuid" => "suid",
            "dev" | "nodev" => "dev",
            "tmpcopyup" | "notmpcopyup" => "tmpcopyup",
            k if PROPAGATIONS.contains(&k) => "propagation",
            k => k,
        };
        if !seen.insert(group.to_owned()) {
            return Err(invalid(
                spec,
                format!("option {key:?} given twice, or with its opposite"),
            ));
        }
        match o.split_once('=') {
            Some(("size", v)) => check_size(spec, v)?,
            Some(("mode", v)) => {
                if v.is_empty() || u32::from_str_radix(v, 8).map_or(true, |m| m > 0o7777) {
                    return Err(invalid(spec, format!("invalid tmpfs mode {v:?} (octal)")));
                }
            }
            Some(("nr_inodes" | "uid" | "gid", v)) => {
                if v.parse::<u64>().is_err() {
                    return Err(invalid(spec, format!("invalid number in {o:?}")));
                }
            }
            Some(_) => return Err(invalid(spec, format!("invalid tmpfs option {o:?}"))),
            None if matches!(
                key,
                "ro" | "rw"
                    | "exec"
                    | "noexec"
                    | "suid"
                    | "nosuid"
                    | "dev"
                    | "nodev"
                    | "tmpcopyup"
                    | "notmpcopyup"
                    | "strictatime"
                    | "relatime"
                    | "norelatime"
                    | "noatime"
                    | "atime"
            ) || group == "propagation" => {}
            None => return Err(invalid(spec, format!("invalid tmpfs option {o:?}"))),
        }
        options.push(o.to_owned());
    }
    for (group, default) in [
        ("rw", "rw"),
        ("propagation", "rprivate"),
        ("suid", "nosuid"),
        ("dev", "nodev"),
        ("tmpcopyup", "tmpcopyup"),
    ] {
        if !seen.contains(group) {
            options.push(default.to_owned());
        }
    }
    options.retain(|o| o != "notmpcopyup");
    Ok(options)
}

/// A tmpfs size: a number with an optional `k`, `m`, `g` (either case) or
/// `%` suffix, as the kernel reads it.
fn check_size(spec: &str, v: &str) -> Result<()> {
    let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    let suffix = &v[digits.len()..];
    if digits.is_empty() || suffix.len() > 1 || digits.parse::<u64>().is_err() {
        return Err(invalid(
            spec,
            format!("invalid tmpfs size {v:?}: a number with an optional k, m, g or % suffix"),
        ));
    }
    Ok(())
}

/// Splits a `--mount` value into its fields, as Go's encoding/csv reads
/// one record: commas separate, a field may be quoted (`""` is a quote).
fn csv_fields(spec: &str) -> Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = spec.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' if !quoted => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
            }
            c => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(invalid(spec, "unterminated quote"));
    }
    fields.push(cur);
    Ok(fields)
}

/// Parses `--mount type=bind|tmpfs,...` with podman's keys.
pub fn parse_mount(spec: &str) -> Result<MountRequest> {
    let mut kind = None;
    let mut source = None;
    let mut destination = None;
    let mut bind: Vec<String> = Vec::new();
    let mut tmpfs: Vec<String> = Vec::new();
    let mut readonly = false;
    // An image mount is read-only unless rw=true is given.
    let mut rw_given = false;
    let mut chown = false;
    for field in csv_fields(spec)? {
        if field.is_empty() {
            continue;
        }
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field.as_str(), None),
        };
        let flag = |v: Option<&str>| -> Result<bool> {
            match v {
                None | Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(invalid(
                    spec,
                    format!("{key}={other}: expected true or false"),
                )),
            }
        };
        let need = |v: Option<&str>| -> Result<String> {
            v.filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| invalid(spec, format!("{key} needs a value")))
        };
        match key {
            "type" => kind = Some(need(value)?),
            "src" | "source" => source = Some(need(value)?),
            "dst" | "target" | "destination" => destination = Some(need(value)?),
            "ro" | "readonly" => readonly = flag(value)?,
            "rw" => {
                readonly = !flag(value)?;
                rw_given = !readonly;
            }
            "bind-propagation" => bind.push(need(value)?),
            "bind-nonrecursive" => {
                if flag(value)? {
                    bind.push("bind".to_owned());
                }
            }
            "relabel" => match value {
                Some("shared") => bind.push("z".to_owned()),
                Some("private") => bind.push("Z".to_owned()),
                _ => return Err(invalid(spec, "relabel must be shared or private")),
            },
            "U" | "chown" => chown = flag(value)?,
            "tmpfs-size" => tmpfs.push(format!("size={}", need(value)?)),
            "tmpfs-mode" => tmpfs.push(format!("mode={}", need(value)?)),
            "nosuid" | "suid" | "nodev" | "dev" | "noexec" | "exec" if value.is_none() => {
                bind.push(key.to_owned());
                tmpfs.push(key.to_owned());
            }
            other => {
                return Err(invalid(spec, format!("unknown --mount key {other:?}")));
            }
        }
    }
    let destination =
        destination.ok_or_else(|| invalid(spec, "a destination is required (dst=PATH)"))?;
    let destination = container_path(spec, &destination)?;
    match kind.as_deref() {
        Some("bind") => {
            let source =
                source.ok_or_else(|| invalid(spec, "a bind mount needs a source (src=PATH)"))?;
            if !source.starts_with('/') && !source.starts_with('.') {
                return Err(invalid(
                    spec,
                    format!("bind source {source:?} must be a host path"),
                ));
            }
            if readonly {
                bind.push("ro".to_owned());
            }
            let (options, u) = bind_options(spec, bind.iter().map(String::as_str))?;
            Ok(MountRequest::Bind {
                source: PathBuf::from(source),
                destination,
                options,
                chown: chown || u,
            })
        }
        Some("tmpfs") => {
            if source.is_some() {
                return Err(invalid(spec, "a tmpfs has no source"));
            }
            if readonly {
                tmpfs.push("ro".to_owned());
            }
            let options = tmpfs_options(spec, tmpfs.iter().map(String::as_str))?;
            Ok(MountRequest::Tmpfs {
                destination,
                options,
            })
        }
        Some("volume") => {
            // Without a source: an anonymous volume.
            let name = source.unwrap_or_default();
            if !name.is_empty() {
                crate::volumes::check_name(&name)?;
            }
            if readonly {
                bind.push("ro".to_owned());
            }
            let (options, u) = bind_options(spec, bind.iter().map(String::as_str))?;
            if chown || u {
                return Err(invalid(spec, "`U` on a named volume is not supported yet"));
            }
            Ok(MountRequest::Volume {
                name,
                destination,
                options: volume_options(options),
            })
        }
        Some("image") => {
            let image =
                source.ok_or_else(|| invalid(spec, "an image mount needs a source (src=IMAGE)"))?;
            if !bind.is_empty() || !tmpfs.is_empty() || chown {
                return Err(invalid(
                    spec,
                    "an image mount takes only src, dst and rw/ro",
                ));
            }
            Ok(MountRequest::Image {
                image,
                destination,
                rw: !readonly && rw_given,
            })
        }
        Some("devpts") => Err(invalid(
            spec,
            "--mount type=devpts is not supported yet (bind, volume, tmpfs and image are)",
        )),
        Some(other) => Err(invalid(spec, format!("invalid mount type {other:?}"))),
        None => Err(invalid(spec, "type is required (type=bind or type=tmpfs)")),
    }
}

/// Resolves requests into the mounts a record keeps: destinations unique,
/// bind sources existing and resolved once (a symlink followed here, never
/// again), `U` sources chowned to `uid:gid` (never through a symlink).
pub(crate) fn resolve(
    requests: &[MountRequest],
    uid: u32,
    gid: u32,
    volume: &mut dyn FnMut(&str) -> Result<(String, PathBuf)>,
    image: &mut dyn FnMut(&str) -> Result<String>,
) -> Result<Vec<ContainerMount>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(requests.len());
    for r in requests {
        if !seen.insert(r.destination().to_owned()) {
            return Err(Error::InvalidMount {
                spec: r.destination().to_owned(),
                reason: "duplicate mount destination".to_owned(),
            });
        }
        match r {
            MountRequest::Bind {
                source,
                destination,
                options,
                chown,
            } => {
                let resolved = std::fs::canonicalize(source)
                    .map_err(|e| Error::io("use bind source", source, e))?;
                if is_overlay(options) {
                    check_overlay_source(&resolved)?;
                }
                if *chown {
                    if resolved == Path::new("/") {
                        return Err(Error::InvalidMount {
                            spec: source.display().to_string(),
                            reason: "`U` on the host's root is refused".to_owned(),
                        });
                    }
                    chown_tree(&resolved, uid, gid)?;
                }
                out.push(ContainerMount {
                    kind: "bind".to_owned(),
                    name: String::new(),
                    source: resolved,
                    destination: destination.clone(),
                    options: options.clone(),
                });
            }
            MountRequest::Volume {
                name,
                destination,
                options,
            } => {
                let (name, source) = volume(name)?;
                out.push(ContainerMount {
                    kind: "volume".to_owned(),
                    name,
                    source,
                    destination: destination.clone(),
                    options: options.clone(),
                });
            }
            MountRequest::Image {
                image: name,
                destination,
                rw,
            } => out.push(ContainerMount {
                kind: "image".to_owned(),
                name: image(name)?,
                source: PathBuf::new(),
                destination: destination.clone(),
                options: vec![if *rw { "rw" } else { "ro" }.to_owned()],
            }),
            MountRequest::Tmpfs {
                destination,
                options,
            } => out.push(ContainerMount {
                kind: "tmpfs".to_owned(),
                name: String::new(),
                source: PathBuf::new(),
                destination: destination.clone(),
                options: options.clone(),
            }),
        }
    }
    Ok(out)
}

/// Whether a mount's options ask for an overlay (`:O`).
pub(crate) fn is_overlay(options: &[String]) -> bool {
    options.iter().any(|o| o == "O")
}

/// Whether a mount has an upper layer in the bundle, made fresh at each
/// start: an overlay bind (`:O`) or a writable image mount.
pub(crate) fn has_upper(m: &ContainerMount) -> bool {
    is_overlay(&m.options) || (m.kind == "image" && m.options.iter().any(|o| o == "rw"))
}

/// An overlay's lower directory goes into overlay's option string, where
/// `,` and `:` separate: a path with them is refused, and a directory is
/// required.
pub(crate) fn check_overlay_source(source: &Path) -> Result<()> {
    let text = source.to_string_lossy();
    if text.contains([',', ':']) {
        return Err(Error::InvalidMount {
            spec: text.into_owned(),
            reason: "an overlay (`O`) source cannot contain `,` or `:`".to_owned(),
        });
    }
    if !source.is_dir() {
        return Err(Error::InvalidMount {
            spec: text.into_owned(),
            reason: "an overlay (`O`) source must be a directory".to_owned(),
        });
    }
    Ok(())
}

/// The upper and work directories of a container's overlay mount number
/// `index`, in its bundle.
pub(crate) fn overlay_dirs(bundle: &Path, index: usize) -> (PathBuf, PathBuf) {
    let base = bundle.join("overlay").join(index.to_string());
    (base.join("upper"), base.join("work"))
}

/// Changes the owner of `root` and everything under it, links themselves
/// rather than what they point to; never leaves `root`'s filesystem tree.
fn chown_tree(root: &Path, uid: u32, gid: u32) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid))
            .map_err(|e| Error::io("chown", &p, e))?;
        let meta = std::fs::symlink_metadata(&p).map_err(|e| Error::io("stat", &p, e))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&p).map_err(|e| Error::io("read", &p, e))? {
                let entry = entry.map_err(|e| Error::io("read", &p, e))?;
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Whether one of `mounts` covers `path` (the same path or a parent of it).
pub fn covered(mounts: &[ContainerMount], path: &str) -> bool {
    mounts.iter().any(|m| {
        path == m.destination
            || path
                .strip_prefix(&m.destination)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The container's `/etc/hosts`: `--add-host` entries, then the host's
/// (it shares the host's network), then its own names on 127.0.0.1
/// (podman's order; podman's `host.containers.internal` on a documentation
/// address is left out).
pub(crate) fn hosts_file(
    host_hosts: &str,
    add_hosts: &[String],
    hostname: &str,
    name: &str,
) -> String {
    shared_hosts_file(host_hosts, add_hosts, &[(hostname, name)])
}

/// An `/etc/hosts` for several containers sharing it (a pod's): the
/// `--add-host` lines, the host's file, then each one's hostname and name
/// on 127.0.0.1.
pub(crate) fn shared_hosts_file(
    host_hosts: &str,
    add_hosts: &[String],
    members: &[(&str, &str)],
) -> String {
    let mut s = String::new();
    for entry in add_hosts {
        if let Some((host, ip)) = entry.split_once(':') {
            s.push_str(&format!("{ip}\t{host}\n"));
        }
    }
    s.push_str(host_hosts);
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    for (hostname, name) in members {
        let names = if hostname == name {
            (*hostname).to_owned()
        } else {
            format!("{hostname} {name}")
        };
        s.push_str(&format!("127.0.0.1\t{names}\n"));
    }
    s
}

/// The container's `/etc/resolv.conf`: the host's, with `--dns`,
/// `--dns-search` (`.` for none) and `--dns-option` replacing its lines of
/// that kind.
pub(crate) fn resolv_file(
    host: &str,
    servers: &[String],
    search: &[String],
    options: &[String],
) -> String {
    let mut out = String::new();
    let domains: Vec<&str> = search
        .iter()
        .map(String::as_str)
        .filter(|s| *s != ".")
        .collect();
    if !domains.is_empty() {
        out.push_str(&format!("search {}\n", domains.join(" ")));
    }
    for line in host.lines() {
        let key = line.split_whitespace().next().unwrap_or_default();
        let replaced = (key == "nameserver" && !servers.is_empty())
            || ((key == "search" || key == "domain") && !search.is_empty())
            || (key == "options" && !options.is_empty());
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// Checks `--add-host NAME:IP` (the IP after the first colon may itself
/// hold colons, IPv6).
pub fn check_add_host(entry: &str) -> Result<()> {
    let bad = |reason: String| Error::InvalidArgument {
        what: format!("--add-host {entry:?}"),
        reason,
    };
    let (host, ip) = entry
        .split_once(':')
        .ok_or_else(|| bad("expected HOST:IP".to_owned()))?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad(format!("invalid host name {host:?}")));
    }
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(bad(format!("invalid IP address {ip:?}")));
    }
    Ok(())
}

/// Checks `--dns`: an IP address.
pub fn check_dns_server(server: &str) -> Result<()> {
    server
        .parse::<std::net::IpAddr>()
        .map(|_| ())
        .map_err(|_| Error::InvalidArgument {
            what: format!("--dns {server:?}"),
            reason: "not an IP address".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(spec: &str) -> (String, String, Vec<String>, bool) {
        match parse_volume(spec).unwrap() {
            MountRequest::Bind {
                source,
                destination,
                options,
                chown,
            } => (source.display().to_string(), destination, options, chown),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn volumes_parse_as_podmans() {
        // podman 4.3.1's spec options for the same flags.
        assert_eq!(
            bind("/a:/b"),
            (
                "/a".into(),
                "/b".into(),
                vec!["rw".into(), "rprivate".into(), "rbind".into()],
                false
            )
        );
        assert_eq!(bind("/a:/b:ro").2, ["ro", "rprivate", "rbind"]);
        assert_eq!(
            bind("/a:/b/../c//d/:ro,Z,U,nosuid,shared"),
            (
                "/a".into(),
                "/c/d".into(),
                vec![
                    "ro".into(),
                    "nosuid".into(),
                    "shared".into(),
                    "rbind".into()
                ],
                true
            )
        );
        assert_eq!(bind("./rel:/b:bind").2, ["bind", "rw", "rprivate"]);
        // A destination alone: an anonymous volume, with podman's options.
        assert_eq!(
            parse_volume("/x").unwrap(),
            MountRequest::Volume {
                name: String::new(),
                destination: "/x".into(),
                options: ["nosuid", "nodev", "rw", "rprivate", "rbind"]
                    .map(String::from)
                    .to_vec(),
            }
        );
        for (spec, want) in [
            (":/x", "host directory cannot be empty"),
            ("/a:relative", "must be an absolute path"),
            ("/a:/b:ro,rw", "conflict"),
            ("/a:/b:ro,ro", "given twice"),
            ("/a:/b:Z,z", "conflict"),
            ("/a:/b:shared,slave", "conflict"),
            ("/a:/b:bogus", "invalid option type"),
            ("/a:/b:O,ro", "cannot be combined"),
            ("/a:/b:O,O", "given twice"),
            ("/a:/proc/sys", "refused"),
            ("/a:/", "root"),
            ("/a:/..", "root"),
            ("bad/name:/x", "volume name"),
            ("/a:/b:ro:extra", "incorrect volume format"),
        ] {
            let err = parse_volume(spec).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn tmpfs_options_start_from_podmans_defaults() {
        let MountRequest::Tmpfs {
            destination,
            options,
        } = parse_tmpfs("/t").unwrap()
        else {
            panic!()
        };
        // podman 4.3.1's spec options for the same flags.
        assert_eq!(destination, "/t");
        assert_eq!(options, ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]);
        let MountRequest::Tmpfs { options, .. } = parse_tmpfs("/t:size=1m,exec").unwrap() else {
            panic!()
        };
        assert_eq!(
            options,
            [
                "size=1m",
                "exec",
                "rw",
                "rprivate",
                "nosuid",
                "nodev",
                "tmpcopyup"
            ]
        );
        for (spec, want) in [
            ("/t:size=10q", "invalid tmpfs size"),
            ("/t:size=", "invalid tmpfs size"),
            ("/t:mode=999", "invalid tmpfs mode"),
            ("/t:exec,noexec", "with its opposite"),
            ("/t:size=1m,size=2m", "given twice"),
            ("/t:bogus", "invalid tmpfs option"),
            ("t", "absolute"),
        ] {
            let err = parse_tmpfs(spec).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn mount_csv_takes_podmans_keys_and_quotes() {
        match parse_mount("type=bind,src=/a,dst=/b,ro=true,bind-propagation=rslave").unwrap() {
            MountRequest::Bind {
                destination,
                options,
                ..
            } => {
                assert_eq!(destination, "/b");
                assert_eq!(options, ["rslave", "ro", "rbind"]);
            }
            other => panic!("{other:?}"),
        }
        match parse_mount("\"type=bind\",\"source=/a,b\",target=/c").unwrap() {
            MountRequest::Bind { source, .. } => assert_eq!(source, PathBuf::from("/a,b")),
            other => panic!("{other:?}"),
        }
        match parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700").unwrap() {
            MountRequest::Tmpfs { options, .. } => {
                assert!(options.contains(&"size=1m".to_owned()));
                assert!(options.contains(&"mode=700".to_owned()));
            }
            other => panic!("{other:?}"),
        }
        for (spec, want) in [
            ("type=bind,dst=/b", "needs a source"),
            ("type=bind,src=/a", "destination is required"),
            ("src=/a,dst=/b", "type is required"),
            ("type=bind,src=/a,dst=/b,colour=red", "unknown --mount key"),
            ("type=bind,\"src=/a,dst=/b", "unterminated quote"),
            ("type=tmpfs,dst=/t,tmpfs-size=10q", "invalid tmpfs size"),
            ("type=devpts,dst=/b", "not supported yet"),
            ("type=image,dst=/b", "needs a source"),
            (
                "type=image,src=i,dst=/b,bind-propagation=shared",
                "takes only",
            ),
            ("type=nfs,dst=/b", "invalid mount type"),
        ] {
            let err = parse_mount(spec).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn duplicate_destinations_and_missing_sources_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().display().to_string();
        let a = parse_volume(&format!("{src}:/x")).unwrap();
        let b = parse_tmpfs("/x/").unwrap();
        let mut none = |_: &str| -> Result<(String, PathBuf)> { unreachable!("no volume here") };
        let mut no_image = |_: &str| -> Result<String> { unreachable!("no image here") };
        let err = resolve(&[a.clone(), b], 0, 0, &mut none, &mut no_image)
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate mount destination"), "{err}");
        let missing = parse_volume(&format!("{src}/nope:/y")).unwrap();
        let err = resolve(&[missing], 0, 0, &mut none, &mut no_image)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        // A symlinked source is resolved once, at creation.
        std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
        let linked = parse_volume(&format!("{src}/link:/z")).unwrap();
        let m = resolve(&[linked], 0, 0, &mut none, &mut no_image).unwrap();
        assert_eq!(m[0].source, dir.path().canonicalize().unwrap());
    }

    #[test]
    fn etc_files_are_the_hosts_with_the_asked_changes() {
        let hosts = hosts_file(
            "127.0.0.1 localhost\n",
            &["db:10.0.0.2".into()],
            "h1",
            "web",
        );
        assert_eq!(
            hosts,
            "10.0.0.2\tdb\n127.0.0.1 localhost\n127.0.0.1\th1 web\n"
        );
        let resolv = resolv_file(
            "# generated\nnameserver 1.1.1.1\nsearch lan\noptions rotate\n",
            &["9.9.9.9".into()],
            &[".".into()],
            &[],
        );
        assert_eq!(resolv, "# generated\noptions rotate\nnameserver 9.9.9.9\n");
        let resolv = resolv_file(
            "nameserver 1.1.1.1\n",
            &["9.9.9.9".into()],
            &["ex.com".into()],
            &["ndots:2".into()],
        );
        assert_eq!(
            resolv,
            "search ex.com\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
        assert!(check_add_host("h:::1").is_ok());
        assert!(check_add_host("h:1.2.3").is_err());
        assert!(check_add_host("nohost").is_err());
        assert!(check_dns_server("x").is_err());
    }

    #[test]
    fn a_mount_covers_paths_below_it() {
        let m = vec![ContainerMount {
            destination: "/etc".into(),
            ..ContainerMount::default()
        }];
        assert!(covered(&m, "/etc/hosts"));
        assert!(covered(&m, "/etc"));
        assert!(!covered(&m, "/etcx"));
    }
}
