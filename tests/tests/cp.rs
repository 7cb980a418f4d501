//! `cp` between the host and a container (issue #18) end to end: both
//! directions, podman's naming rules and owners, running containers (their
//! mounts seen) and stopped ones (an image's root mounted for the copy),
//! tar streams, and paths that try to leave the container through links.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oxpod_tests::{TestEnv, require_containers};

fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .expect("a tar")
        .map(|e| {
            e.expect("an entry")
                .path()
                .expect("a name")
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn cp_copies_both_ways_into_a_running_container_and_its_volumes() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run", "-d", "--name", "c", "-v", "vol:/v", "--rootfs", &rootfs, "sh", "-c",
        "busybox mkdir -p /d/sub && echo in > /d/sub/f && echo top > /d/t && busybox ln -s / /escape && busybox ln -s ../../../../../etc /e2 && echo mine > /etc/marker && sleep 100",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env
        .run(["exec", "c", "busybox", "test", "-L", "/e2"])
        .status
        .code()
        != Some(0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container's setup ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let host = env.path().join("host");
    std::fs::create_dir_all(&host).expect("mkdir");
    // Host to container: into a directory, under the source's name, owned
    // by the container's user whatever the host file's owner.
    let f = host.join("hostf");
    std::fs::write(&f, b"from host\n").expect("write");
    std::os::unix::fs::chown(&f, Some(2000), Some(2000)).expect("chown");
    env.ok(["cp", &f.display().to_string(), "c:/tmp"]);
    assert_eq!(
        env.ok([
            "exec",
            "c",
            "busybox",
            "stat",
            "-c",
            "%u:%g %s",
            "/tmp/hostf"
        ]),
        "0:0 10\n"
    );
    // Into its volume (its mounts are what it sees), as a new name.
    env.ok(["cp", &f.display().to_string(), "c:/v/renamed"]);
    assert_eq!(env.ok(["exec", "c", "cat", "/v/renamed"]), "from host\n");
    // Container to host: a directory as a new path, then its contents
    // into an existing one.
    let out = host.join("newdir");
    env.ok(["cp", "c:/d", &out.display().to_string()]);
    assert_eq!(std::fs::read(out.join("sub/f")).expect("copied"), b"in\n");
    let existing = host.join("existing");
    std::fs::create_dir_all(&existing).expect("mkdir");
    env.ok(["cp", "c:/d/.", &existing.display().to_string()]);
    assert_eq!(std::fs::read(existing.join("t")).expect("copied"), b"top\n");
    assert!(!existing.join("d").exists());
    assert_eq!(
        std::fs::metadata(existing.join("t")).expect("stat").uid(),
        0
    );
    // Links lead nowhere outside: /e2/marker is the container's /etc/marker,
    // and /escape/tmp is its /tmp, not the host's.
    let got = host.join("marker");
    env.ok(["cp", "c:/e2/marker", &got.display().to_string()]);
    assert_eq!(std::fs::read(&got).expect("copied"), b"mine\n");
    let unique = format!("oxpod-cp-{}", std::process::id());
    let probe = host.join(&unique);
    std::fs::write(&probe, b"x").expect("write");
    env.ok(["cp", &probe.display().to_string(), "c:/escape/tmp/"]);
    assert!(
        !Path::new("/tmp").join(&unique).exists(),
        "written on the host's /tmp"
    );
    env.ok([
        "exec",
        "c",
        "busybox",
        "test",
        "-f",
        &format!("/tmp/{unique}"),
    ]);
    // podman's errors.
    let err = env.fails(125, ["cp", "c:/nothing", &host.display().to_string()]);
    assert!(err.contains("could not be found"), "{err}");
    let err = env.fails(125, ["cp", "c:/d", &f.display().to_string()]);
    assert!(err.contains("destination must be a directory"), "{err}");
    let err = env.fails(125, ["cp", &f.display().to_string(), "c:/no/such/dir/"]);
    assert!(err.contains("could not be found"), "{err}");
    env.fails(
        125,
        ["cp", &f.display().to_string(), &host.display().to_string()],
    );
    env.fails(125, ["cp", "c:/d", "nosuch:/x"]);
    // Tar streams: out to stdout, in from stdin.
    let tar = env.cmd(["cp", "c:/d", "-"]).output().expect("cp to stdout");
    assert!(tar.status.success());
    let mut names = tar_names(&tar.stdout);
    names.sort();
    assert_eq!(names, ["d/", "d/sub/", "d/sub/f", "d/t"]);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o600);
    h.set_uid(1234);
    b.append_data(&mut h, "streamed", &b"st\n"[..])
        .expect("tar");
    let bytes = b.into_inner().expect("tar");
    let mut child = env
        .cmd(["cp", "-", "c:/tmp"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &bytes).expect("feed");
    assert!(child.wait().expect("wait").success());
    assert_eq!(
        env.ok([
            "exec",
            "c",
            "busybox",
            "stat",
            "-c",
            "%u %a",
            "/tmp/streamed"
        ]),
        "0 600\n"
    );
    // A hostile stream: `..` is refused, nothing written outside.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_old_mut().name[..9].copy_from_slice(b"../../x-y");
    h.set_cksum();
    b.append(&h, &b"x"[..]).expect("tar");
    let bytes = b.into_inner().expect("tar");
    let mut child = env
        .cmd(["cp", "-", "c:/tmp"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &bytes).expect("feed");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".."));
}

#[test]
fn cp_reaches_a_stopped_containers_root_and_mounts() {
    require_containers!();
    let env = TestEnv::new();
    let fx = oxpod_test_support::image::Fixture::new(Path::new(oxpod_test_support::BUSYBOX))
        .expect("the test image");
    let archive = env.path().join("fx.tar");
    std::fs::write(&archive, fx.docker_archive(&["localhost/fx:1"])).expect("write");
    env.ok(["load", "-q", "-i", &archive.display().to_string()]);
    let bind = env.path().join("bind");
    std::fs::create_dir_all(&bind).expect("mkdir");
    env.ok([
        "create",
        "--name",
        "s",
        "-u",
        "0",
        "-v",
        &format!("{}:/b", bind.display()),
        "localhost/fx:1",
        "cat /tmp/in /b/in2",
    ]);
    let host = env.path().join("host");
    std::fs::create_dir_all(&host).expect("mkdir");
    // Out of the image's root, which is mounted for the copy only.
    env.ok(["cp", "s:/data/y", &host.display().to_string()]);
    assert_eq!(std::fs::read(host.join("y")).expect("copied"), b"y\n");
    let inspect = env.ok([
        "inspect",
        "s",
        "--format",
        "{{.GraphDriver.Data.MergedDir}}",
    ]);
    let merged = inspect.trim().to_owned();
    let mounted = |p: &str| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .expect("mountinfo")
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(p))
    };
    assert!(
        !merged.is_empty() && !mounted(&merged),
        "unmounted after the copy: {merged}"
    );
    // In, before it ever ran: into its root and into a bind mount (the
    // host's directory).
    std::fs::write(host.join("in"), b"one\n").expect("write");
    std::fs::write(host.join("in2"), b"two\n").expect("write");
    env.ok(["cp", &host.join("in").display().to_string(), "s:/tmp/in"]);
    env.ok(["cp", &host.join("in2").display().to_string(), "s:/b/"]);
    assert_eq!(
        std::fs::read(bind.join("in2")).expect("in the bind source"),
        b"two\n"
    );
    assert_eq!(env.ok(["start", "-a", "s"]), "one\ntwo\n");
}
