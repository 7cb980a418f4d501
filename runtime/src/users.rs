//! `--user` (or an image's User) to numeric ids, against the image's
//! `/etc/passwd` and `/etc/group`, by docker's rules: a number is used as
//! it is (its group from passwd when listed there, else 0); a name must be
//! listed.

use crate::images::{Image, Images};
use crate::{Error, Result};

/// What a container's user is, as podman works it out: its ids, its home
/// (passwd's, `/` for a uid passwd does not list), and its supplementary
/// groups (its primary group, the groups `/etc/group` lists it in, and
/// `--group-add`'s, names looked up in `/etc/group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserInfo {
    /// `uid:gid`.
    pub ids: String,
    /// `HOME` unless the container sets one.
    pub home: String,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// [`UserInfo`] from an image's files.
pub(crate) fn lookup(
    images: &Images<'_>,
    image: &Image,
    spec: &str,
    group_add: &[String],
) -> Result<UserInfo> {
    lookup_with(
        &|rel| images.read_file(image, rel),
        "the image's",
        spec,
        group_add,
    )
}

/// [`UserInfo`] from a root file system (every file read inside it).
pub(crate) fn lookup_in_root(
    root: &std::path::Path,
    spec: &str,
    group_add: &[String],
) -> Result<UserInfo> {
    lookup_with(
        &|rel| Ok(oxpod_storage::read_file_in_root(root, rel)?),
        "the container's",
        spec,
        group_add,
    )
}

fn lookup_with(
    read: &ReadFile<'_>,
    whose: &str,
    spec: &str,
    group_add: &[String],
) -> Result<UserInfo> {
    let ids = resolve_with(read, whose, spec)?;
    let (uid, gid) = ids
        .split_once(':')
        .and_then(|(u, g)| Some((u.parse::<u32>().ok()?, g.parse::<u32>().ok()?)))
        .unwrap_or((0, 0));
    let text = |rel: &str| -> Result<String> {
        Ok(read(rel)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default())
    };
    let passwd = text("etc/passwd")?;
    // name:x:uid:gid:gecos:home:shell
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.get(2)?.parse::<u32>().ok()? == uid).then(|| {
            (
                f[0].to_owned(),
                f.get(5).map(|h| (*h).to_owned()).unwrap_or_default(),
            )
        })
    });
    let home = match &entry {
        Some((_, h)) if !h.is_empty() => h.clone(),
        _ => "/".to_owned(),
    };
    let group_file = text("etc/group")?;
    // name:x:gid:member,member
    let groups_listed: Vec<(String, u32, Vec<String>)> = group_file
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((
                f.first()?.to_string(),
                f.get(2)?.parse().ok()?,
                f.get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|x| !x.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        })
        .collect();
    let mut groups = vec![gid];
    if let Some((name, _)) = &entry {
        for (_, g, members) in &groups_listed {
            if members.iter().any(|m| m == name) {
                groups.push(*g);
            }
        }
    }
    for g in group_add {
        let id = match g.parse::<u32>() {
            Ok(id) => id,
            Err(_) => groups_listed
                .iter()
                .find(|(n, _, _)| n == g)
                .map(|(_, id, _)| *id)
                .ok_or_else(|| Error::UnknownUser {
                    spec: format!("--group-add {g}"),
                    reason: format!("no group {g:?} in {whose} /etc/group"),
                })?,
        };
        groups.push(id);
    }
    let mut seen = std::collections::BTreeSet::new();
    groups.retain(|g| seen.insert(*g));
    Ok(UserInfo { ids, home, groups })
}

/// [`resolve`] against a root file system on disk (a running container's).
pub(crate) fn resolve_in_root(root: &std::path::Path, spec: &str) -> Result<String> {
    resolve_with(
        &|rel| Ok(oxpod_storage::read_file_in_root(root, rel)?),
        "the container's",
        spec,
    )
}

type ReadFile<'a> = dyn Fn(&str) -> Result<Option<Vec<u8>>> + 'a;

fn resolve_with(read: &ReadFile<'_>, whose: &str, spec: &str) -> Result<String> {
    if spec.is_empty() {
        return Ok("0:0".to_owned());
    }
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = || -> Result<String> {
        Ok(read("etc/passwd")?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default())
    };
    let unknown = |what: &str, name: &str| Error::UnknownUser {
        spec: spec.to_owned(),
        reason: format!(
            "no {what} {name:?} in {whose} /etc/{what_file}",
            what_file = if what == "user" { "passwd" } else { "group" }
        ),
    };
    // passwd: name:x:uid:gid:...
    let entries = |text: &str| -> Vec<(String, u32, u32)> {
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some((
                    f.first()?.to_string(),
                    f.get(2)?.parse().ok()?,
                    f.get(3).and_then(|g| g.parse().ok()).unwrap_or(0),
                ))
            })
            .collect()
    };
    let (uid, primary_gid) = match user.parse::<u32>() {
        Ok(uid) => {
            let text = passwd()?;
            let gid = entries(&text)
                .into_iter()
                .find(|e| e.1 == uid)
                .map_or(0, |e| e.2);
            (uid, gid)
        }
        Err(_) => {
            let text = passwd()?;
            match entries(&text).into_iter().find(|e| e.0 == user) {
                Some((_, uid, gid)) => (uid, gid),
                None => return Err(unknown("user", user)),
            }
        }
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let text = read("etc/group")?
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                match entries(&text).into_iter().find(|e| e.0 == g) {
                    // group: name:x:gid:members
                    Some((_, gid, _)) => gid,
                    None => return Err(unknown("group", g)),
                }
            }
        },
    };
    Ok(format!("{uid}:{gid}"))
}
