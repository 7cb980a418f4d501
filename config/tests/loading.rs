//! Loading through the public API: the podman 1.4.4 fixture, precedence of the
//! layers, every class of bad input (asserting on the message), the database
//! fill, and the TOML round trip.

use std::path::{Path, PathBuf};

use oxpod_config::{Error, Identity, Loaded, Loader, Origin, Value, Warning};
use tempfile::TempDir;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libpod.conf")
}

/// A root loader that reads nothing outside `dir`.
fn loader(dir: &TempDir) -> Loader {
    Loader::new(Identity::root())
        .system_files([
            dir.path().join("share/oxpod.conf"),
            dir.path().join("etc/oxpod.conf"),
        ])
        .user_file(None)
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn load_err(loader: Loader) -> Error {
    match loader.load() {
        Ok(l) => panic!("expected an error, got {:?}", l.config),
        Err(e) => e,
    }
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

#[test]
fn podman_fixture_loads_as_written() {
    let dir = TempDir::new().unwrap();
    let loaded = loader(&dir).config_file(Some(fixture())).load().unwrap();
    let c = &loaded.config;
    assert_eq!(loaded.warnings, vec![]);
    assert_eq!(loaded.files_read, vec![fixture()]);
    assert_eq!(
        c.runtimes["runc"],
        paths(&[
            "/usr/bin/runc",
            "/usr/sbin/runc",
            "/usr/local/bin/runc",
            "/usr/local/sbin/runc",
            "/sbin/runc",
            "/bin/runc",
            "/usr/lib/cri-o-runc/sbin/runc",
        ])
    );
    assert_eq!(
        c.runtimes["crun"],
        paths(&["/usr/bin/crun", "/usr/local/bin/crun"])
    );
    // Entries the file does not name keep their defaults.
    assert!(c.runtimes.contains_key("youki"));
    assert_eq!(loaded.origin("runtimes.youki"), Some(&Origin::Default));
    assert_eq!(
        loaded.origin("runtimes.crun"),
        Some(&Origin::File(fixture()))
    );
    assert_eq!(
        c.conmon_path,
        paths(&[
            "/usr/libexec/podman/conmon",
            "/usr/local/libexec/podman/conmon",
            "/usr/local/lib/podman/conmon",
            "/usr/bin/conmon",
            "/usr/sbin/conmon",
            "/usr/local/bin/conmon",
            "/usr/local/sbin/conmon",
        ])
    );
    assert_eq!(c.num_locks, 2048);
    assert_eq!(c.cgroup_manager.as_str(), "systemd");
    // `events_logger` is commented out in the fixture: the default stays.
    assert_eq!(c.events_logger.as_str(), "file");
    assert_eq!(loaded.origin("events_logger"), Some(&Origin::Default));
    assert_eq!(c.runtime.to_string(), "runc");
    assert_eq!(c.runtime_supports_json, vec!["runc".to_owned()]);
    assert_eq!(c.tmp_dir, Path::new("/var/run/libpod"));
    assert_eq!(
        c.events_logfile_path,
        Path::new("/var/run/libpod/events/events.log")
    );
    assert_eq!(c.max_log_size, -1);
    assert_eq!(c.cni_default_network, "podman");
    assert_eq!(c.infra_image, "k8s.gcr.io/pause:3.1");
    assert!(loaded.is_explicit("cgroup_manager"));
    assert!(loaded.is_explicit("num_locks"));
    assert!(!loaded.is_explicit("static_dir"));
    assert!(!loaded.is_explicit("events_logfile_path"));
}

#[test]
fn layers_apply_in_order_and_merge_key_by_key() {
    let dir = TempDir::new().unwrap();
    let share = write(
        &dir,
        "share/oxpod.conf",
        "num_locks = 100\nnamespace = \"share\"\n[runtimes]\nkata = [\"/usr/bin/kata\"]\n",
    );
    let etc = write(
        &dir,
        "etc/oxpod.conf",
        "namespace = \"etc\"\ncgroup_manager = \"systemd\"\n[runtimes]\nrunc = [\"/opt/runc\"]\n",
    );
    let user = write(&dir, "user.conf", "events_logger = \"none\"\n");
    let env = write(&dir, "env.conf", "cgroup_manager = \"cgroupfs\"\n");
    let explicit = write(&dir, "explicit.conf", "tmp_dir = \"/tmp/ox\"\n");
    let loaded = loader(&dir)
        .user_file(Some(user.clone()))
        .env_file(Some(env.clone()))
        .config_file(Some(explicit.clone()))
        .flag("namespace", "flag")
        .load()
        .unwrap();
    let c = &loaded.config;
    assert_eq!(
        loaded.files_read,
        vec![
            share.clone(),
            etc.clone(),
            user.clone(),
            env,
            explicit.clone()
        ]
    );
    assert_eq!(c.num_locks, 100);
    assert_eq!(
        loaded.origin("num_locks"),
        Some(&Origin::File(share.clone()))
    );
    assert_eq!(c.namespace, "flag");
    assert_eq!(loaded.origin("namespace"), Some(&Origin::Flag));
    assert_eq!(c.cgroup_manager.as_str(), "cgroupfs");
    assert_eq!(loaded.origin("cgroup_manager"), Some(&Origin::Env));
    assert_eq!(c.events_logger.as_str(), "none");
    assert_eq!(loaded.origin("events_logger"), Some(&Origin::File(user)));
    assert_eq!(c.tmp_dir, Path::new("/tmp/ox"));
    assert_eq!(
        c.events_logfile_path,
        Path::new("/tmp/ox/events/events.log")
    );
    assert_eq!(loaded.origin("events_logfile_path"), Some(&Origin::Default));
    assert_eq!(c.runtimes["kata"], paths(&["/usr/bin/kata"]));
    assert_eq!(c.runtimes["runc"], paths(&["/opt/runc"]));
    assert!(c.runtimes["crun"].contains(&PathBuf::from("/usr/bin/crun")));
    assert_eq!(loaded.origin("runtimes.kata"), Some(&Origin::File(share)));
    assert_eq!(
        loaded.origin("runtimes.runc"),
        Some(&Origin::File(etc.clone()))
    );
    assert_eq!(loaded.origin("runtimes"), Some(&Origin::File(etc)));
    assert_eq!(loaded.origin("static_dir"), Some(&Origin::Default));
    assert_eq!(loaded.origin("no_such_key"), None);
}

#[test]
fn rootless_loader_reads_the_user_file_root_does_not() {
    let dir = TempDir::new().unwrap();
    let mut id = Identity::rootless(1000, dir.path().join("home"));
    id.xdg_runtime_dir = Some(dir.path().join("run"));
    write(&dir, "home/.config/oxpod/oxpod.conf", "num_locks = 64\n");
    let loaded = Loader::new(id.clone())
        .system_files(Vec::<PathBuf>::new())
        .load()
        .unwrap();
    assert_eq!(loaded.config.num_locks, 64);
    assert_eq!(
        loaded.config.static_dir,
        dir.path().join("home/.local/share/oxpod")
    );
    assert_eq!(loaded.config.tmp_dir, dir.path().join("run/oxpod"));
    assert_eq!(loaded.config.lock_name, "/oxpod_rootless_lock_1000");

    let mut root = Identity::root();
    root.home = Some(dir.path().join("home"));
    let loaded = Loader::new(root)
        .system_files(Vec::<PathBuf>::new())
        .load()
        .unwrap();
    assert_eq!(loaded.config.num_locks, 2048);
    assert_eq!(loaded.files_read, Vec::<PathBuf>::new());
}

#[test]
fn missing_optional_files_are_skipped_required_ones_fail() {
    let dir = TempDir::new().unwrap();
    let loaded = loader(&dir)
        .user_file(Some(dir.path().join("nope.conf")))
        .load()
        .unwrap();
    assert_eq!(loaded.files_read, Vec::<PathBuf>::new());

    let missing = dir.path().join("missing.conf");
    let err = load_err(loader(&dir).env_file(Some(missing.clone())));
    assert_eq!(
        err.to_string(),
        format!(
            "OXPOD_CONFIG file {} does not exist: create it or point OXPOD_CONFIG at an existing file",
            missing.display()
        )
    );
    let err = load_err(loader(&dir).config_file(Some(missing.clone())));
    assert!(
        matches!(
            err,
            Error::MissingFile {
                what: "--config",
                ..
            }
        ),
        "{err}"
    );
    let err = load_err(loader(&dir).config_file(Some(PathBuf::new())));
    assert_eq!(
        err.to_string(),
        "invalid configuration file specified: --config is empty"
    );
    // A directory where a file should be is an error, not a silent skip.
    std::fs::create_dir_all(dir.path().join("etc/oxpod.conf")).unwrap();
    let err = load_err(loader(&dir));
    assert!(
        err.to_string().starts_with(&format!(
            "cannot read configuration file {}",
            dir.path().join("etc/oxpod.conf").display()
        )),
        "{err}"
    );
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "etc/oxpod.conf",
        "# comment\nnum_locks = 2048\ncgroup_manager = \"systemd\nruntime = \"runc\"\n",
    );
    let err = load_err(loader(&dir));
    let Error::Syntax {
        path: p,
        line,
        column,
        message,
    } = &err
    else {
        panic!("not a syntax error: {err}");
    };
    assert_eq!(p, &path);
    assert_eq!((*line, *column), (3, 26));
    assert!(message.contains("expected"), "{message}");
    assert!(
        err.to_string()
            .starts_with(&format!("syntax error in {}:3:26: ", path.display())),
        "{err}"
    );

    write(&dir, "etc/oxpod.conf", "num_locks = \n");
    let err = load_err(loader(&dir)).to_string();
    assert!(err.contains("oxpod.conf:1:"), "{err}");
    assert!(err.contains("expected"), "{err}");
}

#[test]
fn wrong_type_names_key_expected_type_and_file() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "etc/oxpod.conf", "num_locks = \"many\"\n");
    let err = load_err(loader(&dir));
    assert_eq!(
        err.to_string(),
        format!(
            "wrong type for key `num_locks` in {}: expected a non-negative integer, found string \"many\"",
            path.display()
        )
    );

    let path = write(
        &dir,
        "etc/oxpod.conf",
        "conmon_path = \"/usr/bin/conmon\"\n",
    );
    assert_eq!(
        load_err(loader(&dir)).to_string(),
        format!(
            "wrong type for key `conmon_path` in {}: expected an array of paths (strings), found string \"/usr/bin/conmon\"",
            path.display()
        )
    );

    // A key after [runtimes] belongs to that table: say so.
    let path = write(
        &dir,
        "etc/oxpod.conf",
        "[runtimes]\nrunc = [\"/usr/bin/runc\"]\nnum_locks = 4096\n",
    );
    assert_eq!(
        load_err(loader(&dir)).to_string(),
        format!(
            "wrong type for key `runtimes.num_locks` in {}: expected an array of paths (strings), found integer 4096 \
             (every key after [runtimes] belongs to that table: move `num_locks` above it)",
            path.display()
        )
    );

    let env = write(&dir, "env.conf", "no_pivot_root = \"yes\"\n");
    std::fs::remove_file(dir.path().join("etc/oxpod.conf")).unwrap();
    assert_eq!(
        load_err(loader(&dir).env_file(Some(env.clone()))).to_string(),
        format!(
            "wrong type for key `no_pivot_root` in {} (from OXPOD_CONFIG): expected a boolean (true or false), found string \"yes\"",
            env.display()
        )
    );

    let err = load_err(loader(&dir).flag("num_locks", "lots"));
    assert_eq!(
        err.to_string(),
        "wrong type for key `num_locks` in a command-line flag: expected a non-negative integer, found string \"lots\""
    );
}

#[test]
fn unknown_keys_warn_or_fail_when_strict() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "etc/oxpod.conf",
        "num_locks = 64\ngraph_driver_options = \"x\"\n",
    );
    let loaded = loader(&dir).load().unwrap();
    assert_eq!(loaded.config.num_locks, 64);
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(
        loaded.warnings[0].to_string(),
        format!(
            "unknown configuration key `graph_driver_options` in {} was ignored",
            path.display()
        )
    );
    assert!(
        matches!(&loaded.warnings[0], Warning::UnknownKey { key, .. } if key == "graph_driver_options")
    );

    let err = load_err(loader(&dir).strict(true));
    assert_eq!(
        err.to_string(),
        format!(
            "unknown configuration key `graph_driver_options` in {} (the keys are those of libpod.conf v1.4 plus oxpod's own)",
            path.display()
        )
    );

    std::fs::remove_file(&path).unwrap();
    let err = load_err(loader(&dir).flag("num_lock", 5));
    assert!(
        err.to_string()
            .starts_with("unknown configuration key `num_lock` in a command-line flag"),
        "{err}"
    );
}

#[test]
fn invalid_values_each_give_one_message_with_origin() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "etc/oxpod.conf",
        r#"
cgroup_manager = "cgroupv2"
events_logger = "syslog"
num_locks = 0
runtime = "kata"
static_dir = "relative/dir"
max_log_size = -5
"#,
    );
    let err = load_err(loader(&dir));
    let Error::Invalid { problems } = &err else {
        panic!("not invalid: {err}");
    };
    let f = path.display();
    let msgs: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        vec![
            format!(
                "cgroup_manager = \"cgroupv2\" is invalid (set in {f}): invalid cgroup manager specified: must be \"systemd\" or \"cgroupfs\""
            ),
            format!(
                "events_logger = \"syslog\" is invalid (set in {f}): must be \"file\", \"journald\" or \"none\""
            ),
            format!(
                "num_locks = 0 is invalid (set in {f}): must be between 1 and 1048576; after changing it run `oxpod system renumber`"
            ),
            format!(
                "max_log_size = -5 is invalid (set in {f}): must be -1 (unlimited) or a size of 0 or more"
            ),
            format!(
                "runtime = \"kata\" is invalid (set in {f}): not in [runtimes] (crun, runc, youki) and not an absolute path: add it to [runtimes] or give its full path"
            ),
            // volume_path, derived from static_dir, is not reported again.
            format!(
                "static_dir = \"relative/dir\" is invalid (set in {f}): must be an absolute path"
            ),
        ]
    );
}

#[test]
fn out_of_range_integers_are_invalid_values() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "etc/oxpod.conf",
        "num_locks = -3\nstate_map_size = -1\n",
    );
    let err = load_err(loader(&dir)).to_string();
    let f = path.display();
    assert_eq!(
        err,
        format!(
            "invalid configuration: num_locks = -3 is invalid (set in {f}): out of range: expected a non-negative integer that fits; \
             state_map_size = -1 is invalid (set in {f}): out of range: expected a non-negative integer that fits"
        )
    );
    write(&dir, "etc/oxpod.conf", "num_locks = 99999999999\n");
    let err = load_err(loader(&dir)).to_string();
    assert!(err.contains("num_locks = 99999999999 is invalid"), "{err}");
}

#[test]
fn database_fills_only_keys_not_explicitly_set() {
    let dir = TempDir::new().unwrap();
    write(&dir, "etc/oxpod.conf", "tmp_dir = \"/run/from-file\"\n");
    let mut loaded: Loaded = loader(&dir).load().unwrap();
    let changed = loaded
        .fill_from_database([
            ("static_dir", Value::from("/srv/db-static")),
            ("tmp_dir", Value::from("/run/db-tmp")),
            ("volume_path", Value::from("")),
            ("num_locks", Value::from(2048)),
        ])
        .unwrap();
    assert_eq!(
        changed,
        vec!["volume_path".to_owned(), "static_dir".to_owned()]
    );
    let c = &loaded.config;
    assert_eq!(c.static_dir, Path::new("/srv/db-static"));
    assert_eq!(loaded.origin("static_dir"), Some(&Origin::Database));
    assert!(!loaded.is_explicit("static_dir"));
    // The file's tmp_dir is explicit: the database does not override it.
    assert_eq!(c.tmp_dir, Path::new("/run/from-file"));
    // Empty database values are ignored; derived defaults follow.
    assert_eq!(c.volume_path, Path::new("/srv/db-static/volumes"));
    assert_eq!(loaded.origin("volume_path"), Some(&Origin::Default));
    // Same value: no change, origin stays Default.
    assert_eq!(loaded.origin("num_locks"), Some(&Origin::Default));
    loaded.validate().unwrap();

    // The database's volume path wins over a derived default.
    let changed = loaded
        .fill_from_database([("volume_path", Value::from("/srv/volumes"))])
        .unwrap();
    assert_eq!(changed, vec!["volume_path".to_owned()]);
    assert_eq!(loaded.origin("volume_path"), Some(&Origin::Database));

    let err = loaded
        .fill_from_database([("graph_root", Value::from("/x"))])
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown configuration key `graph_root` in the database")
    );
    let err = loaded
        .fill_from_database([("num_locks", Value::from("x"))])
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("wrong type for key `num_locks` in the database")
    );

    // A database value that is invalid is reported by validate, with its origin.
    loaded
        .fill_from_database([("static_dir", Value::from("rel"))])
        .unwrap();
    let err = loaded.validate().unwrap_err().to_string();
    assert!(
        err.contains(
            "static_dir = \"rel\" is invalid (set in the database): must be an absolute path"
        ),
        "{err}"
    );
}

#[test]
fn effective_config_round_trips_through_toml() {
    let dir = TempDir::new().unwrap();
    let loaded = loader(&dir)
        .config_file(Some(fixture()))
        .flag("namespace", "ns")
        .flag("hooks_dir", Value::Array(vec![Value::from("/etc/hooks")]))
        .flag(
            "runtime_path",
            Value::Array(vec![Value::from("/usr/sbin/runc")]),
        )
        .flag(
            "runtimes",
            Value::Table(
                [("kata".to_owned(), Value::Array(vec![Value::from("/k")]))]
                    .into_iter()
                    .collect(),
            ),
        )
        .load()
        .unwrap();
    let text = loaded.to_toml().unwrap();
    let file = write(&dir, "effective.conf", &text);
    let again = Loader::new(Identity::root())
        .system_files(Vec::<PathBuf>::new())
        .config_file(Some(file))
        .strict(true)
        .load()
        .unwrap();
    assert_eq!(again.config, loaded.config, "{text}");
    assert_eq!(again.warnings, vec![]);
}
