//! Bind mounts, tmpfs, `--read-only` and the generated `/etc` files
//! (issue #18, first part) end to end with runc: what the process sees,
//! what reaches the host, what `inspect` shows, and the bad inputs podman
//! refuses.

use std::os::unix::fs::MetadataExt;

use oxpod_tests::{TestEnv, require_containers};

#[test]
fn binds_are_read_only_or_written_through_and_chowned_with_u() {
    require_containers!();
    let env = TestEnv::new();
    let host = env.path().join("data");
    std::fs::create_dir_all(host.join("sub")).expect("host dir");
    std::fs::write(host.join("f"), "from host\n").expect("host file");
    let src = host.display().to_string();
    let ro = format!("{src}:/data:ro");
    let (code, out, err) = env.sh(
        &["-v", &ro],
        "cat /data/f; echo x > /data/new || echo refused",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "from host\nrefused\n");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!host.join("new").exists());
    // rw through --mount; a symlinked source is resolved once.
    let link = env.path().join("link");
    std::os::unix::fs::symlink(&host, &link).expect("symlink");
    let mount = format!("type=bind,src={},dst=/d", link.display());
    let (code, _, err) = env.sh(&["--mount", &mount], "echo written > /d/new");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(host.join("new")).unwrap(),
        "written\n"
    );
    // U: the source becomes the container user's, links not followed.
    let u = format!("{src}:/data:U");
    let (code, _, err) = env.sh(&["-v", &u, "--user", "1234:4321"], "true");
    assert_eq!(code, Some(0), "{err}");
    for p in [
        host.clone(),
        host.join("f"),
        host.join("sub"),
        host.join("new"),
    ] {
        let m = std::fs::metadata(&p).expect("stat");
        assert_eq!((m.uid(), m.gid()), (1234, 4321), "{}", p.display());
    }
    // inspect shows podman's shapes, the source resolved.
    let rootfs = env.rootfs().display().to_string();
    let ro_link = format!("{}:/m:ro", link.display());
    env.ok([
        "create",
        "--name",
        "i",
        "-v",
        &ro_link,
        "-v",
        &format!("{src}:/w"),
        "--rootfs",
        &rootfs,
        "true",
    ]);
    let mounts: serde_json::Value =
        serde_json::from_str(&env.ok(["inspect", "--format", "{{json .Mounts}}", "i"]))
            .expect("json");
    let real = host.canonicalize().unwrap().display().to_string();
    assert_eq!(mounts[0]["Source"], real.as_str());
    assert_eq!(mounts[0]["Destination"], "/m");
    assert_eq!(mounts[0]["RW"], false);
    assert_eq!(mounts[0]["Propagation"], "rprivate");
    assert_eq!(mounts[0]["Options"], serde_json::json!(["rbind"]));
    assert_eq!(mounts[1]["RW"], true);
    let binds = env.ok(["inspect", "--format", "{{json .HostConfig.Binds}}", "i"]);
    assert_eq!(
        binds.trim(),
        format!("[\"{real}:/m:ro,rprivate,rbind\",\"{real}:/w:rw,rprivate,rbind\"]")
    );
    let check = env.ok(["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
}

#[test]
fn tmpfs_sizes_hold_and_read_only_keeps_tmp_writable() {
    require_containers!();
    let env = TestEnv::new();
    // 1 MiB: writing 2 MiB fails with ENOSPC.
    let (code, _, err) = env.sh(
        &["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m"],
        "busybox dd if=/dev/zero of=/t/big bs=1024 count=2048",
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("No space left on device"), "{err}");
    // The options reach the mount (runc 1.1 then gives the tmpfs the mode
    // of the directory it covers, for podman too).
    let (code, out, err) = env.sh(
        &["--tmpfs", "/t:size=64k,mode=700"],
        "grep ' /t ' /proc/mounts",
    );
    assert_eq!(code, Some(0), "{err}");
    for o in ["size=64k", "mode=700", "nosuid", "nodev"] {
        assert!(out.contains(o), "{o}: {out}");
    }
    // --read-only: the root refuses writes, /tmp, /var/tmp and /run take them.
    let (code, out, err) = env.sh(
        &["--read-only"],
        "touch /x 2>/dev/null || echo root-ro; for d in /tmp /var/tmp /run; do touch $d/y && echo $d-ok; done",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "root-ro\n/tmp-ok\n/var/tmp-ok\n/run-ok\n");
    let (_, out, _) = env.sh(
        &["--read-only", "--read-only-tmpfs=false"],
        "touch /tmp/y 2>/dev/null || echo tmp-ro",
    );
    assert_eq!(out, "tmp-ro\n");
}

#[test]
fn etc_files_carry_the_hostname_hosts_and_dns_asked_for() {
    require_containers!();
    let env = TestEnv::new();
    let (code, out, err) = env.sh(
        &[
            "--name",
            "web",
            "--hostname",
            "h1",
            "--add-host",
            "db:10.0.0.2",
            "--add-host",
            "v6:fd00::1",
            "--dns",
            "9.9.9.9",
            "--dns-search",
            "example.com",
            "--dns-option",
            "ndots:2",
        ],
        "cat /etc/hostname; echo --; cat /etc/hosts; echo --; cat /etc/resolv.conf",
    );
    assert_eq!(code, Some(0), "{err}");
    let parts: Vec<&str> = out.split("--\n").collect();
    assert_eq!(parts[0], "h1\n");
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut want = format!("10.0.0.2\tdb\nfd00::1\tv6\n{host_hosts}");
    if !want.ends_with('\n') {
        want.push('\n');
    }
    want.push_str("127.0.0.1\th1 web\n");
    assert_eq!(parts[1], want);
    assert!(parts[2].starts_with("search example.com\n"), "{}", parts[2]);
    assert!(parts[2].contains("nameserver 9.9.9.9\n"));
    assert!(
        !parts[2]
            .lines()
            .any(|l| l.starts_with("nameserver") && !l.contains("9.9.9.9"))
    );
    assert!(parts[2].ends_with("options ndots:2\n"));
    // Without flags: the host's resolv.conf as it is.
    let (_, out, _) = env.sh(&[], "cat /etc/resolv.conf");
    assert_eq!(
        out,
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
    );
    // A mount of /etc/hosts of the user's own wins.
    let mine = env.path().join("myhosts");
    std::fs::write(&mine, "1.2.3.4 mine\n").expect("write");
    let v = format!("{}:/etc/hosts:ro", mine.display());
    let (_, out, _) = env.sh(&["-v", &v], "cat /etc/hosts");
    assert_eq!(out, "1.2.3.4 mine\n");
}

#[test]
fn bad_mounts_are_refused_before_anything_is_made() {
    require_containers!();
    let env = TestEnv::new();
    let dir = env.path().display().to_string();
    let missing = format!("{dir}/missing:/x");
    let twice = [format!("{dir}:/x"), "/x".to_owned()];
    for (args, want) in [
        (vec!["-v".to_owned(), missing], "missing"),
        (
            vec!["-v".to_owned(), format!("{dir}:relative")],
            "must be an absolute path",
        ),
        (vec!["-v".to_owned(), format!("{dir}:/x:ro,rw")], "conflict"),
        (vec!["-v".to_owned(), format!("{dir}:/x:Z,z")], "conflict"),
        (
            vec!["-v".to_owned(), ":/x".to_owned()],
            "host directory cannot be empty",
        ),
        (vec!["-v".to_owned(), format!("{dir}:/")], "root"),
        (
            vec![
                "-v".to_owned(),
                twice[0].clone(),
                "--tmpfs".to_owned(),
                twice[1].clone(),
            ],
            "duplicate mount destination",
        ),
        (
            vec!["--tmpfs".to_owned(), "/t:size=10q".to_owned()],
            "invalid tmpfs size",
        ),
        (
            vec!["--mount".to_owned(), "type=bind,\"src=/a,dst=/b".to_owned()],
            "unterminated quote",
        ),
        (
            vec![
                "--mount".to_owned(),
                "type=bind,src=/a,dst=/b,colour=red".to_owned(),
            ],
            "unknown --mount key",
        ),
        (
            vec!["--add-host".to_owned(), "db:notanip".to_owned()],
            "invalid IP address",
        ),
        (
            vec!["--dns".to_owned(), "x".to_owned()],
            "not an IP address",
        ),
    ] {
        env.create_refused(&args, want);
    }
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
    let check = env.ok(["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
    assert_eq!(
        std::fs::read_dir(env.root().join("containers"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no bundle left"
    );
}

#[test]
fn overlay_binds_show_changes_inside_and_keep_the_host_dir_untouched() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    let dir = env.path().join("lower");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a"), b"original\n").expect("write");
    let spec = format!("{}:/o:O", dir.display());
    let (code, out, err) = env.sh(
        &["-v", &spec],
        "echo new > /o/b && echo changed > /o/a && cat /o/a && ls /o",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "changed\na\nb\n");
    assert_eq!(std::fs::read(dir.join("a")).expect("read"), b"original\n");
    assert!(
        !dir.join("b").exists(),
        "the host's directory is the lower layer only"
    );
    // Each start begins from the lower layer again.
    env.ok([
        "create",
        "--name",
        "ov",
        "-v",
        &spec,
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "ls /o; echo x > /o/c",
    ]);
    assert_eq!(env.ok(["start", "-a", "ov"]), "a\n");
    assert_eq!(env.ok(["start", "-a", "ov"]), "a\n");
    assert!(!dir.join("c").exists());
    // Nothing of it is mounted on the host, running or not.
    let bundle = env.root().join("containers");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mountinfo.contains(&*bundle.to_string_lossy()),
        "no host mount under the bundles"
    );
    env.ok(["rm", "ov"]);
    let file = dir.join("a").display().to_string();
    for (spec, want) in [
        (format!("{}:/o:O,ro", dir.display()), "cannot be combined"),
        (format!("{}:/o:O,U", dir.display()), "cannot be combined"),
        (format!("{file}:/o:O"), "must be a directory"),
    ] {
        env.create_refused(&["-v".to_owned(), spec], want);
    }
}

#[test]
fn image_mounts_show_the_stacked_layers_read_only_or_with_a_throwaway_upper() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    let fx =
        oxpod_test_support::image::Fixture::new(std::path::Path::new(oxpod_test_support::BUSYBOX))
            .expect("the test image");
    let one = oxpod_test_support::image::Fixture::of_files(&[("only", b"one layer\n")]);
    for (f, tag, file) in [
        (&fx, "localhost/fx:1", "fx.tar"),
        (&one, "localhost/one:1", "one.tar"),
    ] {
        let archive = env.path().join(file);
        std::fs::write(&archive, f.docker_archive(&[tag])).expect("write");
        env.ok(["load", "-q", "-i", &archive.display().to_string()]);
    }
    // The layers as the image's own containers see them: whiteouts and
    // opaque directories applied; read-only by default.
    let (code, out, err) = env.sh(
        &["--mount", "type=image,src=localhost/fx:1,dst=/img"],
        "ls /img/data; ls /img/etc/motd 2>/dev/null; touch /img/z 2>/dev/null || echo read-only",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "y\nread-only\n");
    let (code, out, err) = env.sh(
        &["--mount", "type=image,source=one:1,target=/one"],
        "cat /one/only; touch /one/z 2>/dev/null || echo read-only",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "one layer\nread-only\n");
    // rw=true: writable, and each start begins from the image again.
    env.ok([
        "create",
        "--name",
        "w",
        "--mount",
        "type=image,src=localhost/fx:1,dst=/img,rw=true",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "ls /img/new 2>/dev/null; echo x > /img/new && echo wrote",
    ]);
    assert_eq!(env.ok(["start", "-a", "w"]), "wrote\n");
    assert_eq!(env.ok(["start", "-a", "w"]), "wrote\n");
    // The image is in use while the container exists.
    env.fails(2, ["rmi", "localhost/fx:1"]);
    env.ok(["rm", "w"]);
    env.ok(["rmi", "localhost/fx:1"]);
    env.create_refused(
        &["--mount", "type=image,src=localhost/nosuch:1,dst=/x"],
        "nosuch",
    );
    let check = env.ok(["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
}

#[test]
fn a_pods_members_share_one_etc_hosts_naming_them_all() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok(["pod", "create", "--infra=false", "--name", "p"]);
    env.ok([
        "run",
        "-d",
        "--pod",
        "p",
        "--name",
        "a",
        "--hostname",
        "alpha",
        "--add-host",
        "db:10.1.2.3",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    env.ok([
        "create",
        "--pod",
        "p",
        "--name",
        "b",
        "--rootfs",
        &rootfs,
        "cat",
        "/etc/hosts",
    ]);
    let b_hosts = env.ok(["start", "-a", "b"]);
    assert!(b_hosts.contains("127.0.0.1\talpha a\n"), "{b_hosts}");
    assert!(b_hosts.contains("10.1.2.3\tdb\n"), "{b_hosts}");
    let b_id = env.ok(["inspect", "b", "--format", "{{.Config.Hostname}}"]);
    assert!(
        b_hosts.contains(&format!("127.0.0.1\t{} b\n", b_id.trim())),
        "{b_hosts}"
    );
    // a, started first, sees b too: one file, rewritten in place.
    let a_hosts = env.ok(["exec", "a", "cat", "/etc/hosts"]);
    assert_eq!(a_hosts, b_hosts);
    assert_eq!(
        env.ok(["inspect", "a", "--format", "{{.HostsPath}}"]),
        env.ok(["inspect", "b", "--format", "{{.HostsPath}}"])
    );
    // Outside the pod a container has its own.
    let (_, own, _) = env.sh(&[], "cat /etc/hosts");
    assert!(!own.contains("alpha"), "{own}");
    env.ok(["pod", "rm", "-f", "p"]);
    let left = env.runroot().join("pods");
    assert_eq!(
        std::fs::read_dir(&left).map(|d| d.count()).unwrap_or(0),
        0,
        "the pod's hosts file went with it"
    );
}
