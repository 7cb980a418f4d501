//! `cargo xtask demo`: oxpod's main job, end to end, on a fresh machine.
//!
//! Installs what is missing (runc, conmon, busybox-static), builds oxpod
//! and a busybox rootfs under `target/demo/`, then runs a container that
//! prints a line, runs a detached one, lists them, shows logs, stops and
//! removes them; then makes a busybox image archive (tar and sha256sum),
//! loads it, runs it, lists images and containers, and removes them; then
//! makes a network, publishes a container's port and fetches a page from
//! it, and reaches one container from another by name. Everything lives
//! under `target/demo/` with its own lock segment, so the host's
//! `/var/lib/oxpod` is untouched; every command runs in a network
//! namespace of the demo's own (`unshare -n`), so the host's bridges and
//! firewall are untouched too.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{run as sh, workspace_root};

const LOCK_NAME: &str = "/oxpod_demo_lock";

pub fn run() -> Result<()> {
    crate::deps::run()?;
    sh(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "-p", "oxpod"]),
    )?;
    let root = workspace_root();
    let demo = root.join("target/demo");
    let rootfs = demo.join("rootfs");
    crate::rootfs::build(&rootfs)?;
    // The demo's own network namespace, held by a sleep (killed on drop).
    let holder = crate::util::NetnsHolder::start()?;
    let oxpod = Oxpod {
        bin: root.join("target/debug/oxpod"),
        root: demo.join("root"),
        runroot: demo.join("run"),
        networks: demo.join("networks"),
        netns: holder.path(),
    };
    // A previous demo that was interrupted: start clean.
    if oxpod.root.exists() {
        oxpod.quiet(&["system", "reset", "--force"]);
        let _ = std::fs::remove_dir_all(&oxpod.root);
        let _ = std::fs::remove_dir_all(&oxpod.runroot);
    }
    let rootfs = rootfs.to_string_lossy().into_owned();

    oxpod.show(&["info", "--format", "runtime {{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}, conmon {{.Host.Conmon.Path}}, {{.Host.FreeLocks}} free locks"])?;
    let hello = oxpod.show(&[
        "run",
        "--rm",
        "--name",
        "demo-hello",
        "--rootfs",
        &rootfs,
        "echo",
        "hello from an oxpod container",
    ])?;
    if !hello.contains("hello from an oxpod container") {
        bail!("the container did not print its line; it printed {hello:?}");
    }
    oxpod.show(&[
        "run",
        "-d",
        "--name",
        "demo-sleeper",
        "--label",
        "demo=yes",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo sleeper started; exec sleep 600",
    ])?;
    oxpod.show(&[
        "create",
        "--name",
        "demo-created",
        "--rootfs",
        &rootfs,
        "true",
    ])?;
    let ps = oxpod.show(&["ps", "-a"])?;
    if !ps.contains("demo-sleeper") || !ps.contains("Up ") {
        bail!("`ps -a` does not show demo-sleeper running");
    }
    oxpod.wait_for_log("demo-sleeper", "sleeper started")?;
    oxpod.show(&["logs", "demo-sleeper"])?;
    oxpod.show(&["stop", "-t", "2", "demo-sleeper"])?;
    oxpod.show(&["ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}"])?;
    oxpod.show(&["rm", "demo-sleeper", "demo-created"])?;
    oxpod.show(&["ps", "-a"])?;
    // A real image: the busybox rootfs as a one-layer docker-archive,
    // made with tar and sha256sum, loaded, run, listed and removed.
    let archive =
        crate::rootfs::build_image_archive(&demo, Path::new(&rootfs), "localhost/demo-busybox:1")?;
    let archive = archive.to_string_lossy().into_owned();
    oxpod.show(&["load", "-i", &archive])?;
    oxpod.show(&["images"])?;
    let ran = oxpod.show(&["run", "--rm", "localhost/demo-busybox:1"])?;
    if !ran.contains("hello from an oxpod image") {
        bail!("the image's container did not print its line; it printed {ran:?}");
    }
    oxpod.show(&[
        "run",
        "-d",
        "--name",
        "demo-from-image",
        "demo-busybox:1",
        "sleep",
        "600",
    ])?;
    oxpod.show(&["ps"])?;
    // Networking: a network, a published port, a name another container
    // resolves (aardvark-dns).
    oxpod.show(&["network", "create", "demo-net"])?;
    oxpod.show(&[
        "run",
        "-d",
        "--name",
        "demo-web",
        "--network",
        "demo-net",
        "-p",
        "18080:80",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo hello over the network > /tmp/index.html; exec httpd -f -p 80 -h /tmp",
    ])?;
    oxpod.show(&["port", "demo-web"])?;
    let page = oxpod.fetch(18080)?;
    println!("\n$ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 18080\n{page}");
    if !page.contains("hello over the network") {
        bail!("the published port did not answer with the page; it gave {page:?}");
    }
    let by_name = oxpod.show(&[
        "run",
        "--rm",
        "--network",
        "demo-net",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc demo-web 80 | tail -1",
    ])?;
    if !by_name.contains("hello over the network") {
        bail!("demo-web was not reached by name; got {by_name:?}");
    }
    oxpod.show(&["rm", "-f", "demo-web"])?;
    oxpod.show(&["network", "rm", "demo-net"])?;
    oxpod.show(&["rmi", "-f", "demo-busybox:1"])?;
    oxpod.show(&["images"])?;
    oxpod.show(&["events", "--stream=false"])?;
    oxpod.show(&["system", "check"])?;
    oxpod.show(&["system", "reset", "--force"])?;
    drop(holder);
    eprintln!(
        "\nxtask: demo done: real containers ran from a rootfs and from a loaded image, were listed, stopped and removed, and served a page over a published port."
    );
    Ok(())
}

struct Oxpod {
    bin: PathBuf,
    root: PathBuf,
    runroot: PathBuf,
    networks: PathBuf,
    netns: PathBuf,
}

impl Oxpod {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.netns.display()))
            .arg("--")
            .arg(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .arg("--network-config-dir")
            .arg(&self.networks)
            .args(["--lock-name", LOCK_NAME, "--cgroup-manager", "cgroupfs"])
            .args(args);
        c
    }

    /// An HTTP GET of `/` on 127.0.0.1:`port` in the demo's namespace.
    fn fetch(&self, port: u16) -> Result<String> {
        for _ in 0..100 {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nsenter --net={} -- timeout 4 busybox nc -w 3 127.0.0.1 {port}",
                    self.netns.display()
                ))
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("200 OK") {
                return Ok(text.lines().last().unwrap_or_default().to_owned());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        bail!("nothing answered on 127.0.0.1:{port}")
    }

    /// Prints the command, runs it, prints and returns its output; fails
    /// when it fails.
    fn show(&self, args: &[&str]) -> Result<String> {
        println!(
            "\n$ oxpod {}",
            args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
        );
        let out = self
            .command(args)
            .output()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!("`oxpod {}` failed: {}", args.join(" "), out.status);
        }
        Ok(stdout)
    }

    fn quiet(&self, args: &[&str]) {
        let _ = self.command(args).output();
    }

    fn wait_for_log(&self, name: &str, text: &str) -> Result<()> {
        for _ in 0..100 {
            let out = self.command(&["logs", name]).output()?;
            if String::from_utf8_lossy(&out.stdout).contains(text) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        bail!("{name} did not print {text:?} within 5 s")
    }
}

fn quote(a: &str) -> String {
    if a.contains(' ') || a.contains('{') || a.is_empty() {
        format!("'{a}'")
    } else {
        a.to_owned()
    }
}
