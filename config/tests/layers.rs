//! Property test: for random stacks of layers (system files, user file,
//! `OXPOD_CONFIG`, `--config`, flags), every key's value and origin are those of
//! the last layer that set it, else the default's; and the effective config
//! round-trips through TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oxpod_config::{Config, Identity, Loader, Origin, Value};
use proptest::prelude::*;

/// A layer: key (`runtimes.<name>` for a runtime entry) → value.
type Layer = BTreeMap<String, Value>;

fn abs_path() -> impl Strategy<Value = String> {
    "/[a-z]{1,6}(/[a-z0-9]{1,6}){0,2}"
}

fn path_list() -> impl Strategy<Value = Value> {
    prop::collection::vec(abs_path().prop_map(Value::from), 1..4).prop_map(Value::Array)
}

fn choice(options: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::sample::select(options).prop_map(Value::from)
}

/// One (key, value) pair with a valid value.
fn entry() -> impl Strategy<Value = (String, Value)> {
    let s = |k: &str| k.to_owned();
    prop_oneof![
        (1i64..5000).prop_map(move |n| (s("num_locks"), Value::from(n))),
        choice(&["systemd", "cgroupfs"]).prop_map(move |v| (s("cgroup_manager"), v)),
        choice(&["file", "journald", "none", "JOURNALD"])
            .prop_map(move |v| (s("events_logger"), v)),
        choice(&["runc", "crun", "youki", "/opt/bin/runtime"]).prop_map(move |v| (s("runtime"), v)),
        "[a-z]{0,8}".prop_map(move |v| (s("namespace"), Value::from(v))),
        any::<bool>().prop_map(move |v| (s("no_pivot_root"), Value::from(v))),
        any::<bool>().prop_map(move |v| (s("label"), Value::from(v))),
        abs_path().prop_map(move |v| (s("static_dir"), Value::from(v))),
        abs_path().prop_map(move |v| (s("tmp_dir"), Value::from(v))),
        abs_path().prop_map(move |v| (s("volume_path"), Value::from(v))),
        abs_path().prop_map(move |v| (s("events_logfile_path"), Value::from(v))),
        path_list().prop_map(move |v| (s("conmon_path"), v)),
        path_list().prop_map(move |v| (s("hooks_dir"), v)),
        (-1i64..100_000).prop_map(move |n| (s("max_log_size"), Value::from(n))),
        (-1i64..100_000).prop_map(move |n| (s("events_logfile_max_size"), Value::from(n))),
        "/[a-z_]{1,12}".prop_map(move |v| (s("lock_name"), Value::from(v))),
        choice(&["ctrl-p,ctrl-q", "ctrl-a", "", "x,ctrl-_"])
            .prop_map(move |v| (s("detach_keys"), v)),
        prop::collection::vec("[a-z]{1,5}".prop_map(Value::from), 0..3)
            .prop_map(move |v| (s("runtime_supports_json"), Value::Array(v))),
        (
            prop::sample::select(&["runc", "crun", "youki", "kata", "runsc"][..]),
            path_list()
        )
            .prop_map(|(name, v)| (format!("runtimes.{name}"), v)),
    ]
}

fn layer() -> impl Strategy<Value = Layer> {
    prop::collection::vec(entry(), 0..8).prop_map(|entries| entries.into_iter().collect())
}

/// The TOML document of a layer (runtime entries in a `[runtimes]` table).
fn to_document(layer: &Layer) -> String {
    let mut top = toml::Table::new();
    let mut runtimes = toml::Table::new();
    for (k, v) in layer {
        match k.strip_prefix("runtimes.") {
            Some(name) => {
                runtimes.insert(name.to_owned(), v.clone());
            }
            None => {
                top.insert(k.clone(), v.clone());
            }
        }
    }
    if !runtimes.is_empty() {
        top.insert("runtimes".to_owned(), Value::Table(runtimes));
    }
    toml::to_string(&top).unwrap()
}

/// The six layer slots, lowest first: two system files, the user file,
/// `OXPOD_CONFIG`, `--config`, flags. `None` = that layer is absent.
#[derive(Debug, Clone)]
struct Stack {
    layers: [Option<Layer>; 6],
}

fn stack() -> impl Strategy<Value = Stack> {
    prop::array::uniform6(prop::option::of(layer())).prop_map(|layers| Stack { layers })
}

fn value_of(config: &Config, key: &str) -> Option<Value> {
    match key.strip_prefix("runtimes.") {
        Some(name) => config
            .runtimes
            .get(name)
            .map(|v| Value::try_from(v).unwrap()),
        None => config.value(key),
    }
}

fn run(stack: &Stack) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name);
    let names = [
        "share.conf",
        "etc.conf",
        "user.conf",
        "env.conf",
        "explicit.conf",
    ];
    let mut origins: Vec<Origin> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if let Some(layer) = &stack.layers[i] {
            std::fs::write(file(name), to_document(layer)).unwrap();
        }
        origins.push(if i == 3 {
            Origin::Env
        } else {
            Origin::File(file(name))
        });
    }
    origins.push(Origin::Flag);

    let present = |i: usize| stack.layers[i].is_some().then(|| file(names[i]));
    let mut loader = Loader::new(Identity::root())
        .system_files([file(names[0]), file(names[1])])
        .user_file(Some(file(names[2])))
        .env_file(present(3))
        .config_file(present(4))
        .strict(true);
    if let Some(flags) = &stack.layers[5] {
        for (k, v) in flags {
            match k.strip_prefix("runtimes.") {
                Some(name) => loader.set_flag(
                    "runtimes",
                    Value::Table([(name.to_owned(), v.clone())].into_iter().collect()),
                ),
                None => loader.set_flag(k.clone(), v.clone()),
            }
        }
    }
    let loaded = loader
        .load()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;

    // The model: last layer that set each key.
    let mut expected: BTreeMap<String, (Value, Origin)> = BTreeMap::new();
    for (i, layer) in stack.layers.iter().enumerate() {
        for (k, v) in layer.iter().flatten() {
            expected.insert(k.clone(), (v.clone(), origins[i].clone()));
        }
    }
    let defaults = Config::defaults(&Identity::root()).unwrap();
    let mut keys: Vec<String> = Config::KEYS.iter().map(|k| (*k).to_owned()).collect();
    keys.retain(|k| k != "runtimes");
    keys.extend(
        loaded
            .config
            .runtimes
            .keys()
            .map(|n| format!("runtimes.{n}")),
    );
    keys.extend(defaults.runtimes.keys().map(|n| format!("runtimes.{n}")));
    for key in &keys {
        let (want_value, want_origin) = match expected.get(key) {
            Some((v, o)) => (Some(v.clone()), o.clone()),
            None => {
                let derived = match key.as_str() {
                    "volume_path" => Some(Value::from(
                        loaded
                            .config
                            .static_dir
                            .join("volumes")
                            .display()
                            .to_string(),
                    )),
                    "events_logfile_path" => Some(Value::from(
                        loaded
                            .config
                            .tmp_dir
                            .join("events/events.log")
                            .display()
                            .to_string(),
                    )),
                    _ => value_of(&defaults, key),
                };
                (derived, Origin::Default)
            }
        };
        // events_logger is read case-insensitively and kept in its one spelling.
        let want_value = match (key.as_str(), want_value) {
            ("events_logger", Some(toml::Value::String(v))) => {
                Some(toml::Value::String(v.to_ascii_lowercase()))
            }
            (_, v) => v,
        };
        prop_assert_eq!(
            value_of(&loaded.config, key),
            want_value,
            "value of {}",
            key
        );
        prop_assert_eq!(loaded.origin(key), Some(&want_origin), "origin of {}", key);
        prop_assert_eq!(loaded.is_explicit(key), want_origin != Origin::Default);
    }
    // `runtimes` itself: the last layer that set any entry.
    let last_runtimes = stack
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.iter().flatten().any(|(k, _)| k.starts_with("runtimes.")))
        .map(|(i, _)| origins[i].clone())
        .next_back()
        .unwrap_or(Origin::Default);
    prop_assert_eq!(loaded.origin("runtimes"), Some(&last_runtimes));

    // Round trip: load(serialise(c)) == c.
    let text = loaded
        .to_toml()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path: PathBuf = dir.path().join("effective.conf");
    std::fs::write(&path, &text).unwrap();
    let again = Loader::new(Identity::root())
        .system_files(Vec::<&Path>::new())
        .config_file(Some(path))
        .strict(true)
        .load()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&again.config, &loaded.config);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn last_layer_wins_key_by_key(stack in stack()) {
        run(&stack)?;
    }
}

/// Any TOML value, of any type.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        abs_path().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Table(m.into_iter().collect())),
        ]
    })
}

/// A document of known and unknown keys with values of random types.
fn any_document() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(Config::KEYS).prop_map(str::to_owned),
        "[a-z_]{1,10}",
    ];
    prop_oneof![
        prop::collection::btree_map(key, any_value(), 0..10).prop_map(|m| {
            let table: toml::Table = m.into_iter().collect();
            toml::to_string(&table).unwrap_or_default()
        }),
        ".{0,200}",
        // Broken TOML: a valid document cut at a random point.
        (
            prop::collection::vec(entry(), 1..6),
            any::<prop::sample::Index>()
        )
            .prop_map(|(entries, cut)| {
                let text = to_document(&entries.into_iter().collect());
                let mut at = cut.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text[..at].to_owned()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// No input makes loading panic: it loads or returns an error.
    #[test]
    fn any_input_loads_or_fails_cleanly(doc in any_document(), strict in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("any.conf");
        std::fs::write(&path, &doc).unwrap();
        let result = Loader::new(Identity::root())
            .system_files(Vec::<&Path>::new())
            .config_file(Some(path))
            .strict(strict)
            .load();
        match result {
            Ok(loaded) => {
                // What loads is valid and serialises.
                prop_assert!(loaded.validate().is_ok());
                prop_assert!(loaded.to_toml().is_ok());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
