//! Images end to end (issue #15): archives loaded and saved, containers
//! run from images on overlay with the image's config applied, names,
//! removal and the store's sweep, hostile layers, a killed load, and
//! podman 4.3.1 as the other side of the archive formats.

use std::path::Path;
use std::process::Stdio;

use oxpod_test_support::image::{Fixture, hostile_archive};
use oxpod_tests::{TestEnv, require_containers};

fn fixture() -> Fixture {
    Fixture::new(Path::new(oxpod_test_support::BUSYBOX)).expect("build the test image")
}

fn write(env: &TestEnv, name: &str, bytes: &[u8]) -> String {
    let p = env.path().join(name);
    std::fs::write(&p, bytes).expect("write archive");
    p.display().to_string()
}

fn storage(env: &TestEnv, sub: &str) -> Vec<String> {
    let dir = env.root().join("storage").join(sub);
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn load_run_and_remove_an_image_with_its_config_applied() {
    require_containers!();
    let env = TestEnv::new();
    let fx = fixture();
    let archive = write(&env, "fx.tar", &fx.docker_archive(&["localhost/fixture:1"]));
    assert_eq!(
        env.ok(["load", "-i", &archive]),
        "Loaded image: localhost/fixture:1\n"
    );
    let images = env.ok(["images"]);
    let mut lines = images.lines();
    assert!(
        lines.next().unwrap_or_default().starts_with("REPOSITORY"),
        "{images}"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row[..3], ["localhost/fixture", "1", &fx.id()[..12]]);
    assert_eq!(env.ok(["images", "-q"]).trim(), &fx.id()[..12]);

    // The image's Entrypoint and Cmd.
    assert_eq!(env.ok(["run", "--rm", "fixture:1"]), "default-cmd\n");
    // Its User (a name, from its /etc/passwd), WorkingDir, Env; a
    // whiteout and an opaque directory of later layers.
    let out = env.ok([
        "run",
        "--rm",
        "fixture:1",
        "id; pwd; echo $FROM_IMAGE; ls /data; test -e /etc/motd && echo motd || echo no-motd; test -d /vol/data && echo vol",
    ]);
    assert_eq!(
        out,
        // podman's: the primary group is among the supplementary ones.
        "uid=1000(app) gid=1000(app) groups=1000(app)\n/work\nyes\ny\nno-motd\nvol\n"
    );
    // --entrypoint, -u, -e over the image's.
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "--entrypoint",
            "/bin/echo",
            "fixture:1",
            "hi"
        ]),
        "hi\n"
    );
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "-u",
            "0",
            "-e",
            "FROM_IMAGE=no",
            "fixture:1",
            "id -u; echo $FROM_IMAGE"
        ]),
        "0\nno\n"
    );
    env.fails(125, ["run", "--rm", "-u", "nobody", "fixture:1", "true"]);
    // ps and inspect name the image as typed; labels and stop signal come
    // from its config.
    env.ok(["create", "--name", "user", "fixture:1", "sleep 1000"]);
    assert_eq!(
        env.ok(["ps", "-a", "--format", "{{.Image}} {{.Names}}"]),
        "fixture:1 user\n"
    );
    assert_eq!(
        env.ok([
            "inspect", "--format",
            "{{.ImageName}} {{.Image}} {{.Config.StopSignal}} {{index .Config.Labels \"org.test\"}}",
            "user",
        ]),
        format!("fixture:1 {} 2 fixture\n", fx.id())
    );
    // A container's root is mounted while it runs, and gone after rm.
    env.ok(["start", "user"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(mounts.contains(&env.root().join("storage/containers").display().to_string()));
    // rmi: refused while a container uses it (podman's 2), -f removes
    // the container too; the store keeps nothing after.
    let err = env.fails(2, ["rmi", "fixture:1"]);
    assert!(err.contains("in use by container(s) user"), "{err}");
    let out = env.ok(["rmi", "-f", "fixture:1"]);
    assert_eq!(
        out,
        format!("Untagged: localhost/fixture:1\nDeleted: {}\n", fx.id())
    );
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
    assert_eq!(storage(&env, "layers"), Vec::<String>::new());
    assert_eq!(storage(&env, "blobs/sha256"), Vec::<String>::new());
    assert_eq!(storage(&env, "containers"), Vec::<String>::new());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(
        !mounts.contains(&env.root().join("storage").display().to_string()),
        "no mount left"
    );
    env.fails(1, ["rmi", "fixture:1"]);
    env.ok(["rmi", "-f", "fixture:1"]);
}

#[test]
fn archives_round_trip_in_both_formats_with_every_name() {
    require_containers!();
    let env = TestEnv::new();
    let fx = fixture();
    let oci = write(
        &env,
        "fx-oci.tar",
        &fx.oci_archive(&["localhost/a:1", "localhost/b:2"]),
    );
    let out = env.ok(["load", "-i", &oci]);
    assert_eq!(
        out,
        "Loaded image: localhost/a:1\nLoaded image: localhost/b:2\n"
    );
    assert_eq!(
        env.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/a:1\nlocalhost/b:2\n"
    );
    // tag, untag, rmi of one of several names only untags.
    env.ok(["tag", "a:1", "localhost/c:3"]);
    assert_eq!(env.ok(["rmi", "c:3"]), "Untagged: localhost/c:3\n");
    assert_eq!(env.run(["image", "exists", "a:1"]).status.code(), Some(0));
    assert_eq!(env.run(["image", "exists", "c:3"]).status.code(), Some(1));
    for format in ["docker-archive", "oci-archive"] {
        let out = env.path().join(format!("saved-{format}.tar"));
        let out = out.display().to_string();
        env.ok(["save", "--format", format, "-o", &out, "a:1"]);
        let other = TestEnv::new();
        assert_eq!(
            other.ok(["load", "-i", &out]),
            "Loaded image: localhost/a:1\n"
        );
        // The same image: the config, so the id, survives the trip.
        assert_eq!(
            other
                .ok(["image", "inspect", "--format", "{{.Id}}", "a:1"])
                .trim(),
            fx.id()
        );
        assert_eq!(other.ok(["run", "--rm", "a:1", "cat /data/y"]), "y\n");
    }
    // Loading the same layers again unpacks nothing new.
    let docker = write(&env, "fx.tar", &fx.docker_archive(&["localhost/d:4"]));
    env.ok(["load", "-i", &docker]);
    assert_eq!(
        storage(&env, "layers").len(),
        3,
        "layers are shared by chain id"
    );
    // `inspect` finds images after containers and pods, as podman's.
    assert_eq!(
        env.ok(["inspect", "--format", "{{.Id}}", "d:4"]).trim(),
        fx.id()
    );
    assert_eq!(
        env.ok(["inspect", "--type", "image", "--format", "{{.Os}}", "d:4"]),
        "linux\n"
    );
    let inspect = env.ok(["image", "inspect", "d:4"]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap_or_default();
    assert_eq!(v[0]["Config"]["User"], "app");
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        env.ok([
            "info",
            "--format",
            "{{.Store.GraphDriverName}} {{.Store.ImageStore.Number}}"
        ]),
        "overlay 1\n"
    );
}

/// zstd layers (as podman 4.3 pushes with `--compression-format zstd`),
/// compressed by the real `zstd` tool: loaded, run, saved as oci-archive
/// with their blobs and media type as they came, and as docker-archive
/// decompressed.
#[test]
fn zstd_layers_load_run_and_save() {
    require_containers!();
    if !Path::new("/usr/bin/zstd").exists() {
        oxpod_test_support::skip_or_fail("zstd is not installed (cargo xtask deps installs it)");
        return;
    }
    let env = TestEnv::new();
    let fx = fixture();
    let zstd = |plain: &[u8]| {
        let mut child = std::process::Command::new("zstd")
            .args(["-q", "-c", "-3"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run zstd");
        let mut stdin = child.stdin.take().expect("stdin");
        let plain = plain.to_vec();
        let feeder = std::thread::spawn(move || {
            use std::io::Write as _;
            stdin.write_all(&plain).expect("feed zstd");
        });
        let out = child.wait_with_output().expect("zstd");
        feeder.join().expect("feeder");
        assert!(out.status.success(), "zstd failed");
        out.stdout
    };
    let media = "application/vnd.oci.image.layer.v1.tar+zstd";
    let archive = write(
        &env,
        "fx-zstd.tar",
        &fx.oci_archive_with(&["localhost/z:1"], media, &zstd),
    );
    assert_eq!(
        env.ok(["load", "-i", &archive]),
        "Loaded image: localhost/z:1\n"
    );
    assert_eq!(env.ok(["run", "--rm", "z:1", "cat /data/y"]), "y\n");
    assert_eq!(env.ok(["run", "--rm", "z:1"]), "default-cmd\n");

    // oci-archive: the zstd blobs as they came.
    let oci = env.path().join("z-oci.tar");
    env.ok([
        "save",
        "--format",
        "oci-archive",
        "-o",
        &oci.display().to_string(),
        "z:1",
    ]);
    let listing = std::process::Command::new("tar")
        .args([
            "-xOf",
            &oci.display().to_string(),
            "--wildcards",
            "blobs/sha256/*",
        ])
        .output()
        .expect("tar");
    let text = String::from_utf8_lossy(&listing.stdout);
    assert_eq!(
        text.matches(media).count(),
        3,
        "three zstd layers in the manifest"
    );
    let other = TestEnv::new();
    other.ok(["load", "-i", &oci.display().to_string()]);
    assert_eq!(other.ok(["run", "--rm", "z:1", "cat /data/y"]), "y\n");

    // docker-archive: plain layer.tars whose digests are the diff ids.
    let docker = env.path().join("z-docker.tar");
    env.ok(["save", "-o", &docker.display().to_string(), "z:1"]);
    let third = TestEnv::new();
    third.ok(["load", "-i", &docker.display().to_string()]);
    assert_eq!(
        third
            .ok(["image", "inspect", "--format", "{{.Id}}", "z:1"])
            .trim(),
        fx.id()
    );
    assert_eq!(third.ok(["run", "--rm", "z:1", "cat /data/y"]), "y\n");

    // A zstd rootfs tarball imports too.
    let dir = oxpod_test_support::busybox_rootfs(&env.path().join("zstd-import")).expect("rootfs");
    let rootfs = std::process::Command::new("tar")
        .args(["-C", &dir.display().to_string(), "-cf", "-", "."])
        .output()
        .expect("tar the rootfs");
    let tarball = write(&env, "rootfs.tar.zst", &zstd(&rootfs.stdout));
    env.ok(["import", &tarball, "localhost/imported-zstd:1"]);
    assert_eq!(
        env.ok(["run", "--rm", "imported-zstd:1", "/bin/echo", "imported"]),
        "imported\n"
    );
}

/// `images --filter` with podman's keys: dangling, reference, label,
/// before, since and until (the image's creation time).
#[test]
fn images_filters_select_as_podmans() {
    require_containers!();
    let env = TestEnv::new();
    let fx = fixture();
    let a = write(&env, "fx.tar", &fx.docker_archive(&["localhost/f:1"]));
    env.ok(["load", "-i", &a]);
    let dir = oxpod_test_support::busybox_rootfs(&env.path().join("imp")).expect("rootfs");
    let tarball = env.path().join("rootfs.tar");
    let st = std::process::Command::new("tar")
        .args([
            "-C",
            &dir.display().to_string(),
            "-cf",
            &tarball.display().to_string(),
            ".",
        ])
        .status()
        .expect("tar");
    assert!(st.success());
    let imp = env.ok(["import", &tarball.display().to_string(), "localhost/imp:1"]);
    let imp = imp.trim().trim_start_matches("sha256:")[..12].to_owned();
    let f = fx.id()[..12].to_owned();
    let q = |filter: &str| {
        env.ok(["images", "-q", "--filter", filter])
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(q("label=org.test=fixture"), [f.as_str()]);
    assert_eq!(q("label=org.test"), [f.as_str()]);
    assert_eq!(q("reference=imp"), [imp.as_str()]);
    assert_eq!(q("reference=localhost/f:*"), [f.as_str()]);
    // The fixture was created in 2024, the import now.
    assert_eq!(q("until=2025-01-01T00:00:00Z"), [f.as_str()]);
    assert_eq!(q("until=2020-01-01T00:00:00Z"), Vec::<String>::new());
    assert_eq!(q("since=f:1"), [imp.as_str()]);
    assert_eq!(q("before=imp:1"), [f.as_str()]);
    assert_eq!(q("dangling=true"), Vec::<String>::new());
    env.ok(["untag", "imp:1"]);
    assert_eq!(q("dangling=true"), [imp.as_str()]);
    assert_eq!(q("dangling=false"), [f.as_str()]);
    let err = env.fails(125, ["images", "--filter", "colour=red"]);
    assert!(
        err.contains("dangling, reference, label, before, since, until"),
        "{err}"
    );
    let err = env.fails(125, ["images", "--filter", "until=soon"]);
    assert!(err.contains("invalid until filter"), "{err}");
}

/// A file system mounted over a test's root, unmounted on drop (a failed
/// assertion included).
struct Mounted(std::path::PathBuf);

impl Mounted {
    fn mount(at: &Path, fstype: &str, options: &str) -> Mounted {
        std::fs::create_dir_all(at).expect("mount point");
        let st = std::process::Command::new("mount")
            .args(["-t", fstype, "-o", options, "oxpod-test"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(st.success(), "mount {fstype} at {}", at.display());
        Mounted(at.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A load (and an import) into a full disk: the blob that does not fit
/// (16 MiB), or the layer that does not unpack (40 MiB): a clear error,
/// nothing half visible (no image, no layer, no blob, no temporary file),
/// `system check` clean, and a load that fits works afterwards.
#[test]
fn a_load_into_a_full_disk_leaves_nothing_half_visible() {
    require_containers!();
    // 24 MiB that do not compress.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let big: Vec<u8> = (0..24 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let big = oxpod_test_support::image::Fixture::of_files(&[("big", &big)]);
    let small = oxpod_test_support::image::Fixture::of_files(&[("small", b"fits\n")]);
    for size in ["16m", "40m"] {
        let env = TestEnv::new();
        let big_tar = write(&env, "big.tar", &big.docker_archive(&["localhost/big:1"]));
        let small_tar = write(
            &env,
            "small.tar",
            &small.docker_archive(&["localhost/small:1"]),
        );
        let _disk = Mounted::mount(&env.root(), "tmpfs", &format!("size={size},mode=0700"));
        env.ok(["images"]);
        let err = env.fails(125, ["load", "-i", &big_tar]);
        assert!(err.contains("No space left on device"), "{size}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(env.ok(["images", "-q"]), "", "{size}: no image record");
        assert_eq!(
            storage(&env, "layers"),
            Vec::<String>::new(),
            "{size}: no layer"
        );
        // No blob nothing uses (system check would name it).
        assert_eq!(env.ok(["system", "check"]), "no problems found\n", "{size}");
        // The same for import.
        let layer = write(&env, "big-layer.tar", &big.layers[0]);
        let err = env.fails(125, ["import", &layer, "localhost/big:2"]);
        assert!(err.contains("No space left on device"), "{size}: {err}");
        assert_eq!(env.ok(["images", "-q"]), "", "{size}: no image record");
        assert_eq!(env.ok(["system", "check"]), "no problems found\n", "{size}");
        assert_eq!(
            storage(&env, "tmp"),
            Vec::<String>::new(),
            "{size}: no temp files"
        );
        assert_eq!(
            env.ok(["load", "-i", &small_tar]),
            "Loaded image: localhost/small:1\n",
            "{size}"
        );
        assert_eq!(
            env.ok(["images", "--format", "{{.Repository}}"]),
            "localhost/small\n"
        );
    }
}

/// overlay is probed once per boot (the answer kept in the tmp dir with
/// the boot id) and shown in `info`; where it cannot work (a store on
/// overlayfs itself) creating a container names the reason and the vfs
/// remedy, and the vfs driver works on the same store.
#[test]
fn overlay_is_probed_once_per_boot_and_a_failure_named() {
    require_containers!();
    let mut env = TestEnv::new();
    let under = env.path().join("under");
    for d in ["l", "u", "w"] {
        std::fs::create_dir_all(under.join(d)).expect("overlay dirs");
    }
    let _fs = Mounted::mount(
        &env.root(),
        "overlay",
        &format!(
            "lowerdir={},upperdir={},workdir={}",
            under.join("l").display(),
            under.join("u").display(),
            under.join("w").display()
        ),
    );
    std::fs::set_permissions(
        env.root(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let small = oxpod_test_support::image::Fixture::of_files(&[("small", b"s\n")]);
    let archive = write(
        &env,
        "small.tar",
        &small.docker_archive(&["localhost/small:1"]),
    );
    env.ok(["load", "-i", &archive]);
    let status = |env: &TestEnv| {
        env.ok([
            "info",
            "--format",
            "{{index .Store.GraphStatus \"Backing Filesystem\"}} {{index .Store.GraphStatus \"Native Overlay Diff\"}}",
        ])
    };
    assert_eq!(status(&env), "overlayfs false\n");
    let probe = env.runroot().join("overlay-probe.json");
    let kept = std::fs::read_to_string(&probe).expect("the probe's answer is kept");
    assert!(kept.contains("mounting overlay failed"), "{kept}");
    let err = env.fails(125, ["create", "small:1", "/small"]);
    assert!(
        err.contains("overlay does not work for the store")
            && err.contains("storage_driver = \"vfs\""),
        "{err}"
    );
    // Kept for the boot: the same answer is read, not probed again; a
    // stale boot id is probed again.
    std::fs::write(
        &probe,
        kept.replace("\"error\":\"mounting", "\"error\":\"kept: mounting"),
    )
    .expect("mark the answer");
    let err = env.fails(125, ["create", "small:1", "/small"]);
    assert!(err.contains("kept: mounting overlay failed"), "{err}");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    let stale = std::fs::read_to_string(&probe)
        .expect("probe")
        .replace(boot.trim(), "00000000-0000-0000-0000-000000000000");
    std::fs::write(&probe, stale).expect("stale probe");
    let err = env.fails(125, ["create", "small:1", "/small"]);
    assert!(!err.contains("kept:"), "probed again after a reboot: {err}");
    assert!(
        std::fs::read_to_string(&probe)
            .expect("probe")
            .contains(boot.trim())
    );
    // vfs on the same store.
    let conf = env.path().join("vfs.conf");
    std::fs::write(&conf, "storage_driver = \"vfs\"\n").expect("config");
    env.extra = vec!["--config".into(), conf.display().to_string()];
    let id = env.ok(["create", "small:1", "/small"]);
    assert_eq!(status(&env), " \n", "vfs has no overlay status");
    env.ok(["rm", id.trim()]);
    env.ok(["rmi", "small:1"]);
}

#[test]
fn hostile_layers_are_refused_and_leave_nothing() {
    require_containers!();
    let env = TestEnv::new();
    for name in ["../escape", "/abs/escape"] {
        let a = write(&env, "h.tar", &hostile_archive(name));
        let err = env.fails(125, ["load", "-i", &a]);
        assert!(
            err.contains(&format!("{name:?}")),
            "the entry is named: {err}"
        );
        assert_eq!(env.ok(["images", "-q"]), "");
        assert!(storage(&env, "layers").is_empty(), "no half-made layer");
        assert!(!env.path().join("escape").exists() && !Path::new("/abs/escape").exists());
    }
    let junk = write(&env, "junk.tar", b"not an archive");
    let err = env.fails(125, ["load", "-i", &junk]);
    assert!(err.contains("cannot load the archive"), "{err}");
    env.fails(125, ["run", "--rm", "no-such-image", "true"]);
}

#[test]
fn a_killed_load_is_swept_and_the_next_load_works() {
    require_containers!();
    let env = TestEnv::new();
    let fx = fixture();
    let archive = write(&env, "fx.tar", &fx.docker_archive(&["localhost/k:1"]));
    for delay_ms in [0u64, 3, 8, 15, 30] {
        let mut child = env
            .cmd(["load", "-i", &archive])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn load");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // The next command sees a whole image or none, and the store no
        // temporaries once it is opened.
        let q = env.ok(["images", "-q"]);
        assert!(q.is_empty() || q.trim() == &fx.id()[..12], "{q}");
        env.ok(["load", "-i", &archive]);
        assert!(
            storage(&env, "layers").iter().all(|l| !l.contains(".tmp-")),
            "{:?}",
            storage(&env, "layers")
        );
        assert!(storage(&env, "ingest").is_empty());
        assert_eq!(env.ok(["run", "--rm", "k:1", "cat /data/y"]), "y\n");
        env.ok(["rmi", "-f", "k:1"]);
    }
}

/// podman 4.3.1 on the other side: an image podman made and saved runs
/// here, and one oxpod saved loads and runs in podman.
#[test]
fn podman_and_oxpod_read_each_others_archives() {
    require_containers!();
    if !Path::new("/usr/bin/podman").exists() {
        oxpod_test_support::skip_or_fail("podman is not installed (cargo xtask deps installs it)");
        return;
    }
    let env = TestEnv::new();
    let pm = env.path().join("podman");
    let podman = |args: &[&str]| {
        let out = std::process::Command::new("podman")
            .args(["--root", &pm.join("root").display().to_string()])
            .args(["--runroot", &pm.join("run").display().to_string()])
            .args(["--tmpdir", &pm.join("tmp").display().to_string()])
            .args([
                "--cgroup-manager=cgroupfs",
                "--runtime",
                "runc",
                "--events-backend",
                "none",
                "--storage-driver",
                "vfs",
            ])
            .args(args)
            .output()
            .expect("run podman");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // podman makes an image from a rootfs tar and saves it.
    let rootfs = env.rootfs();
    let tarball = env.path().join("rootfs.tar");
    let st = std::process::Command::new("tar")
        .args([
            "-C",
            &rootfs.display().to_string(),
            "-cf",
            &tarball.display().to_string(),
            ".",
        ])
        .status()
        .expect("tar");
    assert!(st.success());
    podman(&[
        "import",
        &tarball.display().to_string(),
        "localhost/frompodman:1",
    ]);
    let saved = env.path().join("podman-saved.tar").display().to_string();
    podman(&["save", "-o", &saved, "localhost/frompodman:1"]);
    assert_eq!(
        env.ok(["load", "-i", &saved]),
        "Loaded image: localhost/frompodman:1\n"
    );
    assert_eq!(
        env.ok(["run", "--rm", "frompodman:1", "echo", "made by podman"]),
        "made by podman\n"
    );
    // And back: oxpod saves, podman loads and runs.
    let fx = fixture();
    let a = write(
        &env,
        "fx.tar",
        &fx.docker_archive(&["localhost/fromoxpod:1"]),
    );
    env.ok(["load", "-i", &a]);
    for format in ["docker-archive", "oci-archive"] {
        let out = env
            .path()
            .join(format!("oxpod-{format}.tar"))
            .display()
            .to_string();
        env.ok(["save", "--format", format, "-o", &out, "fromoxpod:1"]);
        podman(&["load", "-i", &out]);
        let ran = podman(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "localhost/fromoxpod:1",
            "cat /data/y; id -u",
        ]);
        assert_eq!(ran, "y\n1000\n", "{format}");
        podman(&["rmi", "-f", "localhost/fromoxpod:1"]);
    }
}

#[test]
fn reset_unmounts_running_roots_and_removes_the_store() {
    require_containers!();
    let env = TestEnv::new();
    let fx = fixture();
    let a = write(&env, "fx.tar", &fx.docker_archive(&["localhost/r:1"]));
    env.ok(["load", "-i", &a]);
    env.ok(["run", "-d", "--name", "up", "r:1", "sleep 1000"]);
    env.ok(["system", "reset", "--force"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(
        !mounts.contains(&env.root().join("storage").display().to_string()),
        "no mount left"
    );
    assert!(
        !env.root().join("storage").exists(),
        "the images went with the reset"
    );
    assert_eq!(env.ok(["images", "-q"]), "");
}

/// `system check` compares the image store with the records (podman
/// #24106: nothing works after layer dirs are deleted, and nothing says
/// why); `--repair` removes what cannot be used.
#[test]
fn system_check_finds_and_repairs_the_image_store() {
    require_containers!();
    let env = TestEnv::new();
    let fx = fixture();
    let a = write(&env, "fx.tar", &fx.docker_archive(&["localhost/c:1"]));
    env.ok(["load", "-i", &a]);
    assert_eq!(env.ok(["system", "check"]), "no problems found\n");
    // A container root of no container, and a deleted layer.
    std::fs::create_dir_all(
        env.root()
            .join("storage/containers")
            .join("f".repeat(64))
            .join("diff"),
    )
    .expect("plant a root");
    let layers = storage(&env, "layers");
    std::fs::remove_dir_all(env.root().join("storage/layers").join(&layers[0]))
        .expect("delete a layer");
    let out = env.run(["system", "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("image localhost/c:1 lacks its layer"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "container root {} of the image store",
            "f".repeat(64)
        )),
        "{text}"
    );
    // One repair: the image goes, and with it its other layers.
    let out = env.run(["system", "check", "--repair"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("belongs to no image"), "{text}");
    assert_eq!(env.ok(["system", "check"]), "no problems found\n");
    assert_eq!(env.ok(["images", "-q"]), "");
    assert!(storage(&env, "layers").is_empty());
    assert!(storage(&env, "containers").is_empty());
    // And the image loads and runs again.
    env.ok(["load", "-i", &a]);
    assert_eq!(env.ok(["run", "--rm", "c:1", "cat /data/y"]), "y\n");
}

/// `import` a rootfs tarball, `commit` a container's changes (a deletion
/// becomes a whiteout of the new layer), `export` a container's root.
#[test]
fn import_commit_and_export() {
    require_containers!();
    let env = TestEnv::new();
    let tarball = env.path().join("rootfs.tar");
    let st = std::process::Command::new("tar")
        .args([
            "-C",
            &env.rootfs().display().to_string(),
            "-cf",
            &tarball.display().to_string(),
            ".",
        ])
        .status()
        .expect("tar");
    assert!(st.success());
    let id = env.ok(["import", &tarball.display().to_string(), "localhost/imp:1"]);
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    // No Cmd in an imported image: a command is needed.
    env.fails(125, ["run", "--rm", "imp:1"]);
    env.ok([
        "run",
        "--name",
        "chg",
        "imp:1",
        "sh",
        "-c",
        "echo changed > /etc/passwd; rm /bin/cat; mkdir /data; echo d > /data/f",
    ]);
    let committed = env.ok(["commit", "chg", "localhost/committed:1"]);
    assert_eq!(committed.trim().len(), 64);
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "committed:1",
            "sh",
            "-c",
            "test -e /bin/cat || echo no-cat; read l < /data/f; echo $l",
        ]),
        "no-cat\nd\n"
    );
    assert_eq!(
        env.ok([
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            "committed:1"
        ]),
        "2\n"
    );
    // history: newest first, the image id on top, podman's columns.
    let history = env.ok([
        "history",
        "--format",
        "{{.ID}}|{{.CreatedBy}}",
        "committed:1",
    ]);
    assert_eq!(
        history,
        format!(
            "{}|oxpod commit chg\n<missing>|oxpod import\n",
            &committed.trim()[..12]
        )
    );
    let exported = env.path().join("exp.tar");
    env.ok(["export", "-o", &exported.display().to_string(), "chg"]);
    let list = std::process::Command::new("tar")
        .args(["-tf", &exported.display().to_string()])
        .output()
        .expect("tar -t");
    let names = String::from_utf8_lossy(&list.stdout);
    assert!(names.lines().any(|l| l == "data/f"), "{names}");
    assert!(
        !names.lines().any(|l| l == "bin/cat"),
        "the deleted file is not in the root: {names}"
    );
    // An exported root imports again.
    env.ok([
        "import",
        &exported.display().to_string(),
        "localhost/again:1",
    ]);
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "again:1",
            "sh",
            "-c",
            "read l < /data/f; echo $l"
        ]),
        "d\n"
    );
    env.ok(["rm", "-f", "chg"]);
}

/// `storage_driver = "vfs"`: the same image, its whiteouts and opaque
/// directory applied by copying, for file systems overlay cannot use.
#[test]
fn the_vfs_driver_runs_the_same_image() {
    require_containers!();
    let mut env = TestEnv::new();
    let conf = env.path().join("vfs.conf");
    std::fs::write(&conf, "storage_driver = \"vfs\"\n").expect("write config");
    env.extra = vec!["--config".into(), conf.display().to_string()];
    let fx = fixture();
    let a = write(&env, "fx.tar", &fx.docker_archive(&["localhost/v:1"]));
    env.ok(["load", "-i", &a]);
    assert_eq!(
        env.ok(["info", "--format", "{{.Store.GraphDriverName}}"]),
        "vfs\n"
    );
    let out = env.ok([
        "run",
        "--rm",
        "v:1",
        "id -u; ls /data; test -e /etc/motd && echo motd || echo no-motd",
    ]);
    assert_eq!(out, "1000\ny\nno-motd\n");
    env.ok([
        "run",
        "--name",
        "keep",
        "-u",
        "0",
        "v:1",
        "echo kept > /tmp/f; rm /data/y",
    ]);
    // The copy is made once: a restart keeps the container's changes.
    env.ok(["start", "keep"]);
    env.ok(["wait", "keep"]);
    let ls = env.ok([
        "run",
        "--rm",
        "v:1",
        "test -e /tmp/f && echo leaked || echo fresh",
    ]);
    assert_eq!(ls, "fresh\n", "another container gets its own copy");
    // commit on vfs: the root compared with the image's layers.
    env.ok(["commit", "keep", "localhost/committed:1"]);
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "-u",
            "0",
            "committed:1",
            "cat /tmp/f; ls /data | wc -l"
        ])
        .split_whitespace()
        .collect::<Vec<_>>(),
        ["kept", "0"],
        "the new file is there and the removed one gone"
    );
    let layers = env.ok([
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "committed:1",
    ]);
    assert_eq!(layers.trim(), "4");
    // The new layer holds the changes only: far smaller than busybox.
    let history = env.ok(["history", "--format", "{{.Size}}", "committed:1"]);
    let top = history.lines().next().unwrap_or_default().to_owned();
    assert!(
        top.ends_with("kB") || top.ends_with('B') && !top.ends_with("MB"),
        "{history}"
    );
    env.ok(["rmi", "committed:1"]);
    env.ok(["rm", "keep"]);
    assert_eq!(storage(&env, "containers"), Vec::<String>::new());
    env.ok(["rmi", "v:1"]);
}

/// SIGKILL of `rmi -f` at spread moments (its container removed first,
/// then the record, then the sweep): the next command finds the image
/// whole or gone, `system check` finds nothing, and loading it again works.
#[test]
fn a_killed_rmi_leaves_a_whole_image_or_none() {
    require_containers!();
    let env = TestEnv::new();
    let fx = fixture();
    let archive = write(&env, "fx.tar", &fx.docker_archive(&["localhost/k:1"]));
    for delay_ms in [0u64, 2, 5, 10, 20, 40] {
        env.ok(["load", "-i", &archive]);
        env.ok(["create", "--name", "user", "k:1", "true"]);
        let mut child = env
            .cmd(["rmi", "-f", "k:1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rmi");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let check = env.run(["system", "check", "--repair"]);
        assert!(check.status.code().is_some(), "check ran");
        assert_eq!(
            env.ok(["system", "check"]),
            "no problems found\n",
            "after a kill at {delay_ms} ms"
        );
        let images = env.ok(["images", "-q"]);
        if images.trim().is_empty() {
            assert!(
                storage(&env, "blobs/sha256").is_empty(),
                "a gone image leaves no blob"
            );
        } else {
            // Whole: it still runs.
            assert_eq!(env.ok(["run", "--rm", "k:1", "cat /data/y"]), "y\n");
        }
        env.ok(["rm", "-a", "-f"]);
        env.ok(["rmi", "-a", "-f"]);
    }
}
