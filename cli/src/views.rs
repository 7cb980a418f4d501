//! What the CLI shows of containers and pods: `ps` rows, `inspect`
//! documents, with podman's field names. Built by hand from the records,
//! so the on-disk format and the output format can change separately.

use std::time::Duration;

use jiff::Timestamp;
use oxpod_runtime::{Container, ContainerStatus, Pod};
use serde_json::{Value, json};

use crate::human;

/// Ids are shown with 12 characters unless `--no-trunc`.
pub fn short(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        &id[..id.len().min(12)]
    }
}

fn since(t: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(t)).unwrap_or_default()
}

/// podman's STATUS column: `Created`, `Up 3 seconds`, `Exited (3) 2
/// seconds ago`, `Paused`.
pub fn status_text(c: &Container, now: Timestamp) -> String {
    let st = &c.state;
    match st.status {
        ContainerStatus::Configured | ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running => match st.started_at {
            Some(t) => format!("Up {}", human::duration(since(t, now))),
            None => "Up".into(),
        },
        ContainerStatus::Paused => "Paused".into(),
        ContainerStatus::Stopped | ContainerStatus::Exited => match st.finished_at {
            Some(t) => format!("Exited ({}) {}", st.exit_code, human::ago(since(t, now))),
            None => format!("Exited ({})", st.exit_code),
        },
        ContainerStatus::Removing => "Removing".into(),
    }
}

/// The command line as one string, as podman's COMMAND column.
pub fn command_text(c: &Container) -> String {
    c.config.command.join(" ")
}

/// One `ps` row, for templates: `{{.ID}}`, `{{.Names}}`, `{{.Status}}`, ...
pub fn ps_row(c: &Container, pod_name: Option<&str>, no_trunc: bool, now: Timestamp) -> Value {
    json!({
        "ID": short(&c.config.id, no_trunc),
        "Names": c.config.name,
        "Command": command_text(c),
        "Created": c.config.created.as_second(),
        "CreatedAt": c.config.created.to_string(),
        "CreatedHuman": human::ago(since(c.config.created, now)),
        "State": c.state.status.podman_word(),
        "Status": status_text(c, now),
        "ExitCode": c.state.exit_code,
        "Exited": c.state.exited,
        "Pid": c.state.pid.unwrap_or(0),
        "Pod": c.config.pod.as_deref().map(|p| short(p, no_trunc)).unwrap_or(""),
        "PodName": pod_name.unwrap_or(""),
        "Labels": c.config.labels,
        "Rootfs": c.config.rootfs,
    })
}

/// One `ps --format json` entry (podman 4's keys).
pub fn ps_json(c: &Container, pod_name: Option<&str>, now: Timestamp) -> Value {
    json!({
        "Id": c.config.id,
        "Names": [c.config.name],
        "Command": c.config.command,
        "Created": c.config.created.as_second(),
        "CreatedAt": human::ago(since(c.config.created, now)),
        "State": c.state.status.podman_word(),
        "Status": status_text(c, now),
        "Exited": c.state.exited,
        "ExitCode": c.state.exit_code,
        "ExitedAt": c.state.finished_at.map_or(0, |t| t.as_second()),
        "StartedAt": c.state.started_at.map_or(0, |t| t.as_second()),
        "Pid": c.state.pid.unwrap_or(0),
        "Pod": c.config.pod.clone().unwrap_or_default(),
        "PodName": pod_name.unwrap_or(""),
        "Labels": c.config.labels,
        "Namespace": c.config.namespace,
        "Rootfs": c.config.rootfs,
        "AutoRemove": c.config.auto_remove,
    })
}

fn time_or_zero(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), |t| t.to_string())
}

/// `inspect` of a container (podman's layout, the fields we have).
pub fn inspect_container(c: &Container) -> Value {
    let st = &c.state;
    let running = matches!(
        st.status,
        ContainerStatus::Running | ContainerStatus::Paused
    );
    json!({
        "Id": c.config.id,
        "Created": c.config.created.to_string(),
        "Path": c.config.command.first().cloned().unwrap_or_default(),
        "Args": c.config.command.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "OciVersion": "1.0.2",
            "Status": st.status.podman_word(),
            "Running": running,
            "Paused": st.status == ContainerStatus::Paused,
            "OOMKilled": st.oom_killed,
            "Dead": false,
            "Pid": st.pid.unwrap_or(0),
            "ConmonPid": st.conmon_pid.unwrap_or(0),
            "ExitCode": st.exit_code,
            "StartedAt": time_or_zero(st.started_at),
            "FinishedAt": time_or_zero(st.finished_at),
        },
        "Name": c.config.name,
        "Namespace": c.config.namespace,
        "Pod": c.config.pod.clone().unwrap_or_default(),
        "LockID": c.config.lock_id,
        "Rootfs": c.config.rootfs,
        "OCIRuntime": c.config.oci_runtime,
        "LogPath": c.config.log_path,
        "BundlePath": st.bundle_path,
        "RestartCount": st.restart_count,
        "Dependencies": c.config.dependencies,
        "Config": {
            "Hostname": c.config.hostname,
            "Env": c.config.env,
            "Cmd": c.config.command,
            "WorkingDir": c.config.working_dir,
            "User": c.config.user,
            "Labels": c.config.labels,
            "Annotations": c.config.annotations,
            "StopSignal": c.config.stop_signal,
            "StopTimeout": c.config.stop_timeout,
            "AutoRemove": c.config.auto_remove,
        },
    })
}

/// `pod inspect` / `pod ps --format json`.
pub fn inspect_pod(pod: &Pod, containers: &[Container]) -> Value {
    json!({
        "Id": pod.config.id,
        "Name": pod.config.name,
        "Namespace": pod.config.namespace,
        "Created": pod.config.created.to_string(),
        "Labels": pod.config.labels,
        "LockID": pod.config.lock_id,
        "State": pod_status(containers),
        "NumContainers": containers.len(),
        "Containers": containers.iter().map(|c| json!({
            "Id": c.config.id,
            "Name": c.config.name,
            "State": c.state.status.podman_word(),
        })).collect::<Vec<_>>(),
    })
}

/// A pod's status from its containers', as podman words it: Running (all
/// run), Degraded (some do), Paused, Exited (all stopped), Stopped (some
/// stopped), Error, Created.
pub fn pod_status(containers: &[Container]) -> &'static str {
    let count = |s: &[ContainerStatus]| {
        containers
            .iter()
            .filter(|c| s.contains(&c.state.status))
            .count()
    };
    let n = containers.len();
    let running = count(&[ContainerStatus::Running]);
    let stopped = count(&[ContainerStatus::Exited, ContainerStatus::Stopped]);
    let errored = count(&[ContainerStatus::Removing]);
    // podman's order: all running; some running; all paused; all stopped;
    // some stopped; any in error; else created (and an empty pod).
    if n == 0 {
        "Created"
    } else if running == n {
        "Running"
    } else if running > 0 {
        "Degraded"
    } else if count(&[ContainerStatus::Paused]) == n {
        "Paused"
    } else if stopped == n {
        "Exited"
    } else if stopped > 0 {
        "Stopped"
    } else if errored > 0 {
        "Error"
    } else {
        "Created"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxpod_runtime::{ContainerConfig, ContainerState};

    fn ctr(status: ContainerStatus) -> Container {
        let t0 = Timestamp::from_second(1_700_000_000).unwrap();
        Container {
            config: ContainerConfig {
                id: "0123456789abcdef".repeat(4),
                name: "web".into(),
                command: vec!["sleep".into(), "60".into()],
                created: t0,
                ..ContainerConfig::default()
            },
            state: ContainerState {
                status,
                started_at: Some(t0),
                finished_at: Some(t0),
                exit_code: 3,
                ..ContainerState::default()
            },
        }
    }

    #[test]
    fn status_column_like_podman() {
        let now = Timestamp::from_second(1_700_000_003).unwrap();
        assert_eq!(
            status_text(&ctr(ContainerStatus::Running), now),
            "Up 3 seconds"
        );
        assert_eq!(
            status_text(&ctr(ContainerStatus::Exited), now),
            "Exited (3) 3 seconds ago"
        );
        assert_eq!(
            status_text(&ctr(ContainerStatus::Configured), now),
            "Created"
        );
        assert_eq!(status_text(&ctr(ContainerStatus::Paused), now), "Paused");
    }

    #[test]
    fn inspect_snapshot() {
        let mut c = ctr(ContainerStatus::Exited);
        c.config.labels.insert("app".into(), "web".into());
        c.config.env = vec!["PATH=/bin".into()];
        c.state.pid = None;
        expect_test::expect![[r#"
            {
              "Args": [
                "60"
              ],
              "BundlePath": null,
              "Config": {
                "Annotations": {},
                "AutoRemove": false,
                "Cmd": [
                  "sleep",
                  "60"
                ],
                "Env": [
                  "PATH=/bin"
                ],
                "Hostname": "",
                "Labels": {
                  "app": "web"
                },
                "StopSignal": 0,
                "StopTimeout": 0,
                "User": "",
                "WorkingDir": ""
              },
              "Created": "2023-11-14T22:13:20Z",
              "Dependencies": [],
              "Id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
              "LockID": 0,
              "LogPath": "",
              "Name": "web",
              "Namespace": "",
              "OCIRuntime": "",
              "Path": "sleep",
              "Pod": "",
              "RestartCount": 0,
              "Rootfs": "",
              "State": {
                "ConmonPid": 0,
                "Dead": false,
                "ExitCode": 3,
                "FinishedAt": "2023-11-14T22:13:20Z",
                "OOMKilled": false,
                "OciVersion": "1.0.2",
                "Paused": false,
                "Pid": 0,
                "Running": false,
                "StartedAt": "2023-11-14T22:13:20Z",
                "Status": "exited"
              }
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&inspect_container(&c)).unwrap());
    }

    #[test]
    fn pod_status_from_members() {
        let running = ctr(ContainerStatus::Running);
        let exited = ctr(ContainerStatus::Exited);
        assert_eq!(pod_status(&[]), "Created");
        assert_eq!(pod_status(std::slice::from_ref(&running)), "Running");
        // podman's Degraded: some members run, not all (conformance A5).
        assert_eq!(pod_status(&[exited.clone(), running]), "Degraded");
        assert_eq!(
            pod_status(&[exited.clone(), ctr(ContainerStatus::Configured)]),
            "Stopped"
        );
        assert_eq!(pod_status(&[exited.clone(), exited]), "Exited");
        assert_eq!(pod_status(&[ctr(ContainerStatus::Configured)]), "Created");
    }

    #[test]
    fn ps_row_snapshot() {
        let now = Timestamp::from_second(1_700_000_003).unwrap();
        let row = ps_row(&ctr(ContainerStatus::Running), None, false, now);
        expect_test::expect![[r#"
            {
              "Command": "sleep 60",
              "Created": 1700000000,
              "CreatedAt": "2023-11-14T22:13:20Z",
              "CreatedHuman": "3 seconds ago",
              "ExitCode": 3,
              "Exited": false,
              "ID": "0123456789ab",
              "Labels": {},
              "Names": "web",
              "Pid": 0,
              "Pod": "",
              "PodName": "",
              "Rootfs": "",
              "State": "running",
              "Status": "Up 3 seconds"
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&row).unwrap());
    }
}
