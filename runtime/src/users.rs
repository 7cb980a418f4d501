//! `--user` (or an image's User) to numeric ids, against the image's
//! `/etc/passwd` and `/etc/group`, by docker's rules: a number is used as
//! it is (its group from passwd when listed there, else 0); a name must be
//! listed.

use crate::images::{Image, Images};
use crate::{Error, Result};

/// `uid:gid` for `spec` (`""`, `uid`, `name`, `uid:gid`, `name:group`).
pub(crate) fn resolve(images: &Images<'_>, image: &Image, spec: &str) -> Result<String> {
    resolve_with(&|rel| images.read_file(image, rel), "the image's", spec)
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
