//! The command line, defined once with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// oxpod: a daemonless container engine (podman's libpod core, in Rust).
#[derive(Debug, Parser)]
#[command(
    name = "oxpod",
    version,
    about,
    max_term_width = 100,
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version (podman's -v)
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes; they override the configuration files.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub struct Global {
    /// Configuration file read after the system and user files
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Static directory: the database and container bundles (static_dir)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Per-boot directory, best on a tmpfs (tmp_dir)
    #[arg(long, visible_alias = "tmpdir", global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// Default OCI runtime: a name from [runtimes] or an absolute path
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub runtime: Option<String>,
    /// Events backend
    #[arg(long, global = true, value_name = "BACKEND")]
    pub events_backend: Option<EventsBackend>,
    /// Cgroup manager
    #[arg(long, global = true, value_name = "MANAGER")]
    pub cgroup_manager: Option<CgroupManager>,
    /// Number of locks in the lock segment (change it with `system renumber`)
    #[arg(long, global = true, value_name = "N")]
    pub num_locks: Option<u32>,
    /// Name of the shared-memory lock segment (default /oxpod_lock)
    #[arg(long, global = true, value_name = "NAME", hide = true)]
    pub lock_name: Option<String>,
    /// Directory of network definitions (network_config_dir)
    #[arg(long, global = true, value_name = "DIR")]
    pub network_config_dir: Option<PathBuf>,
    /// Namespace: objects outside it are invisible
    #[arg(long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Log messages at this level and above, to stderr
    #[arg(long, global = true, value_name = "LEVEL", default_value = "warn")]
    pub log_level: LogLevel,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EventsBackend {
    File,
    Journald,
    None,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CgroupManager {
    Cgroupfs,
    Systemd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show how oxpod sees the host and its store
    Info(InfoArgs),
    /// Show oxpod's version
    Version(FormatArg),
    /// Show a container's or pod's configuration and state as JSON
    Inspect(InspectArgs),
    #[command(flatten)]
    Verb(ContainerVerb),
    /// List images
    Images(ImagesArgs),
    /// Load images from an archive (docker-archive, oci-archive, oci-dir)
    Load(LoadArgs),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// Push an image to a registry
    Push(PushArgs),
    /// Search registries' catalogs for repositories
    Search(SearchArgs),
    /// Log in to a registry (credentials checked, then kept in the auth file)
    Login(LoginArgs),
    /// Log out of a registry
    Logout(LogoutArgs),
    /// Save images to an archive
    Save(SaveArgs),
    /// Remove images
    Rmi(RmiArgs),
    /// Give an image more names
    Tag(TagArgs),
    /// Take names off an image
    Untag(UntagArgs),
    /// Make an image of a root file system tarball
    Import(ImportArgs),
    /// Show how an image was made
    History(HistoryArgs),
    /// Make an image of a container's changes
    Commit(CommitArgs),
    /// Write a container's root file system as a tar
    Export(ExportArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage pods
    #[command(subcommand)]
    Pod(PodCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Show a container's published ports
    Port(PortArgs),
    /// Run health checks
    #[command(subcommand)]
    Healthcheck(HealthcheckCommand),
    /// Show events
    Events(EventsArgs),
    /// Manage oxpod itself
    #[command(subcommand)]
    System(SystemCommand),
}

/// The container commands podman has both at the top level and under
/// `container` (`oxpod ps` is `oxpod container ps`).
#[derive(Debug, Subcommand)]
pub enum ContainerVerb {
    /// Create a container from a root filesystem directory
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Create and start a container; attached unless -d
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// List containers
    #[command(visible_alias = "list", visible_alias = "ls")]
    Ps(PsArgs),
    /// Remove containers
    Rm(RmArgs),
    /// Start containers
    Start(StartArgs),
    /// Stop containers: stop signal, then SIGKILL after the timeout
    Stop(StopArgs),
    /// Send a signal to containers
    Kill(KillArgs),
    /// Wait for containers to exit (or reach --condition) and print their exit codes
    Wait(WaitArgs),
    /// Pause containers
    Pause(AllNamesArgs),
    /// Unpause containers
    Unpause(AllNamesArgs),
    /// Restart containers
    Restart(StopArgs),
    /// Show containers' output
    Logs(LogsArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Copy files between the host and a container (CTR:PATH on one side; - is a tar on stdin or stdout)
    Cp(CpArgs),
    /// Change a container's cgroup limits (live when it runs; kept for its next start)
    Update(UpdateArgs),
    /// Show a container's processes
    Top(TopArgs),
    /// Show containers' resource use
    Stats(StatsArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Attach to a running container's output (and stdin, when it keeps one)
    Attach(AttachArgs),
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not pass our stdin on
    #[arg(long)]
    pub no_stdin: bool,
    /// Keys that detach (default ctrl-p,ctrl-q; "" disables)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Pass the signals oxpod receives to the container (without a terminal)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Use the most recently created container
    #[arg(short, long)]
    pub latest: bool,
    /// The container (name, id, or unique id prefix)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep stdin open and pass it on
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Run in the background and print the session id
    #[arg(short, long)]
    pub detach: bool,
    /// Keys that detach (default ctrl-p,ctrl-q; "" disables)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Environment variable KEY=VALUE, or KEY for the host's value (repeatable)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file: KEY=VALUE or KEY lines
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Run as this user: uid[:gid], or name[:group] from the container's /etc/passwd and /etc/group
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Give the process every capability
    #[arg(long)]
    pub privileged: bool,
    /// Use the most recently created container
    #[arg(short, long)]
    pub latest: bool,
    /// CONTAINER COMMAND [ARG...] (COMMAND [ARG...] with --latest)
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "CONTAINER COMMAND"
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Use the most recently created container
    #[arg(short, long)]
    pub latest: bool,
    /// The container, then format descriptors (user pid ppid pcpu etime tty time args comm uid gid group vsz rss nice)
    #[arg(trailing_var_arg = true, value_name = "CONTAINER [DESCRIPTOR...]")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Every running container
    #[arg(short, long)]
    pub all: bool,
    /// Print once and exit (default: refresh every --interval seconds)
    #[arg(long)]
    pub no_stream: bool,
    /// Seconds between refreshes
    #[arg(short, long, default_value_t = 5)]
    pub interval: u64,
    /// Output format: json, or a Go template such as "{{.Name}} {{.CPUPerc}}"
    #[arg(long)]
    pub format: Option<String>,
    /// Accepted for podman's scripts (oxpod always shows the stored totals)
    #[arg(long)]
    pub no_reset: bool,
    /// Containers (default: every running one)
    pub containers: Vec<String>,
}

// Parsed once per process: the size of the enum costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    #[command(flatten)]
    Verb(ContainerVerb),
    /// Show a container's configuration and state as JSON
    Inspect(InspectArgs),
    /// Exit 0 if the container exists, 1 if not
    Exists(NameArg),
    /// Remove every stopped container
    Prune(PruneArgs),
    /// Save a container's exit and clean up after it (conmon's exit command)
    #[command(hide = true)]
    Cleanup {
        /// Container id
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "ls", visible_alias = "list")]
    Images(ImagesArgs),
    /// Show images' configuration as JSON
    Inspect(ImageInspectArgs),
    /// Remove images
    Rm(RmiArgs),
    /// Exit 0 if the image exists, 1 if not
    Exists(ImageNameArg),
    /// Give an image more names
    Tag(TagArgs),
    /// Take names off an image
    Untag(UntagArgs),
    /// Load images from an archive
    Load(LoadArgs),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// Push an image to a registry
    Push(PushArgs),
    /// Save images to an archive
    Save(SaveArgs),
    /// Remove images without names (with -a: every image) no container uses
    Prune(ImagePruneArgs),
    /// Make an image of a root file system tarball
    Import(ImportArgs),
    /// Show how an image was made, one row per step
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Do not shorten ids or CREATED BY
    #[arg(long)]
    pub no_trunc: bool,
    /// Print image ids only
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format: json, or a Go template such as "{{.CreatedBy}} {{.Size}}"
    #[arg(long)]
    pub format: Option<String>,
    /// The image (name or id)
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// The tarball (plain, gzip or zstd), or - for standard input
    pub file: PathBuf,
    /// A name for the image
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// The container (name, id, or unique id prefix)
    pub container: String,
    /// A name for the image
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file (default: standard output, if it is not a terminal)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The container (name, id, or unique id prefix)
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show every image (oxpod keeps no intermediate images: the same as without)
    #[arg(short, long)]
    pub all: bool,
    /// Print image ids only
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not shorten ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Output format: json, or a Go template such as "table {{.Repository}}\t{{.Tag}}\t{{.ID}}"
    #[arg(long)]
    pub format: Option<String>,
    /// Filter key=value: dangling, reference, label, before, since, until (repeatable)
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Print no header row
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Only images whose name matches (a reference, `*` wildcards allowed)
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read the archive from this file or OCI directory (default: standard input)
    #[arg(short, long, value_name = "PATH")]
    pub input: Option<PathBuf>,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write the archive to this file (default: standard output, if it is not a terminal)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// docker-archive or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    /// Accepted for podman's scripts: several images always go in one archive
    #[arg(short = 'm', long)]
    pub multi_image_archive: bool,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
    /// Images (name or id)
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove the containers that use the image too
    #[arg(short, long)]
    pub force: bool,
    /// Remove every image
    #[arg(short, long)]
    pub all: bool,
    /// Ignore images that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Images (name or id)
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image (name or id)
    pub image: String,
    /// New names
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    /// The image (name or id)
    pub image: String,
    /// Names to take off (default: all)
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Output format: json, or a Go template such as {{.Id}}
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images (name or id)
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageNameArg {
    /// The image (name or id)
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove every image no container uses, named or not
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation (oxpod never asks: accepted for podman's scripts)
    #[arg(short, long)]
    pub force: bool,
}

/// The cgroup limit flags `create`, `run` and `update` share.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Memory limit (e.g. 512m, 1g)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long, value_name = "SIZE")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap (-1: unlimited)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPUs the container may use (e.g. 0.5)
    #[arg(long, value_name = "N")]
    pub cpus: Option<String>,
    /// Relative CPU weight
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPU time per period, in microseconds
    #[arg(long, value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// The CPU period, in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPUs allowed (e.g. 0-2,4)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Most processes (-1: unlimited)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Relative block I/O weight, 10 to 1000 (discarded with a warning where the kernel has none)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Verify TLS certificates and refuse plain HTTP (default: registries.conf decides)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// The platform to pull from a multi-platform image: os/arch[/variant]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// The architecture to pull (default: the host's)
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The operating system to pull (default: linux)
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// The architecture's variant to pull (arm's v7, v8)
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Credentials: USER[:PASSWORD]
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub creds: Option<String>,
    /// The auth file to read credentials from (default: podman's)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// Every tag of the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// The image: registry/repository[:tag|@digest], or a short name searched in registries.conf
    pub image: String,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// At most this many results per registry
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// Verify TLS certificates and refuse plain HTTP (default: registries.conf decides)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Output format: json, or a Go template such as "{{.Name}}"
    #[arg(long)]
    pub format: Option<String>,
    /// What to look for: TERM, or REGISTRY/TERM
    pub term: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// No progress on stderr
    #[arg(short, long)]
    pub quiet: bool,
    /// Verify TLS certificates and refuse plain HTTP (default: registries.conf decides)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Credentials: USER[:PASSWORD]
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub creds: Option<String>,
    /// The auth file to read credentials from (default: podman's)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// The manifest format: v2s2 (docker's, the default) or oci
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Write the pushed manifest's digest to this file
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<std::path::PathBuf>,
    /// The local image
    pub image: String,
    /// Where to: registry/repository[:tag] (docker:// accepted; default: the image's name)
    pub destination: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (visible to other users in ps: prefer --password-stdin)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The auth file to write (default: podman's)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// Verify TLS certificates and refuse plain HTTP (default: registries.conf decides)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// The registry (host[:port])
    pub registry: String,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Every registry's credentials
    #[arg(short, long)]
    pub all: bool,
    /// The auth file (default: podman's)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// The registry (host[:port])
    pub registry: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The container (name, id, or unique id prefix)
    pub container: String,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Chown what is copied to the destination's user (podman's default; false is not supported)
    #[arg(short, long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub archive: bool,
    /// Replace a directory by a file, or a file by a directory (not supported)
    #[arg(long)]
    pub overwrite: bool,
    /// What to copy: a host path, CTR:PATH, or - (a tar on stdin)
    pub src: String,
    /// Where to: a host path, CTR:PATH, or - (a tar on stdout)
    pub dst: String,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container (name, id, or unique id prefix)
    pub container: String,
    /// Its new name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// Name, id, or unique id prefix
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation (oxpod never asks: accepted for podman's scripts)
    #[arg(short, long)]
    pub force: bool,
    /// Only those matching key=value: label, until (repeatable)
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run in the background and print the container id
    #[arg(short, long)]
    pub detach: bool,
    /// Remove the container after it exits
    #[arg(long)]
    pub rm: bool,
    /// Pass the signals oxpod receives to the container (attached runs)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Containers (name, id, or unique id prefix)
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output and exit with its exit code
    #[arg(short, long)]
    pub attach: bool,
    /// Start every container that is not running
    #[arg(long)]
    pub all: bool,
    /// With --attach, pass our stdin on (the container needs -i)
    #[arg(short, long)]
    pub interactive: bool,
    /// Keys that detach (default ctrl-p,ctrl-q; "" disables)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Containers (name, id, or unique id prefix)
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The state to wait for: configured, created, running, paused, stopped or exited (repeatable; default exited)
    #[arg(long = "condition", value_name = "STATE")]
    pub conditions: Vec<String>,
    /// How often to look: a duration such as 250ms or 1s, or milliseconds
    #[arg(short, long, default_value = "250ms")]
    pub interval: String,
    /// Wait for the most recently created container
    #[arg(short, long)]
    pub latest: bool,
    /// Containers (name, id, or unique id prefix)
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for the stop signal before SIGKILL
    #[arg(short, long)]
    pub time: Option<u32>,
    /// Every running container (restart: every container)
    #[arg(short, long, conflicts_with = "names")]
    pub all: bool,
    /// Containers (name, id, or unique id prefix)
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

/// Containers by name, or `--all` of them.
#[derive(Debug, Args)]
pub struct AllNamesArgs {
    /// Every container this applies to (pause: running, unpause: paused)
    #[arg(short, long, conflicts_with = "names")]
    pub all: bool,
    /// Containers (name, id, or unique id prefix)
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send: a name (KILL, SIGTERM) or a number
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// Every running container
    #[arg(short, long, conflicts_with = "names")]
    pub all: bool,
    /// Containers (name, id, or unique id prefix)
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new output while the container runs
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines (-1: all)
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub tail: Option<i64>,
    /// Prefix each line with its time (RFC 3339 with nanoseconds)
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only output since this time: RFC 3339, a date, Unix seconds, or a duration such as 10m
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only output until this time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Prefix each line with the container's name (the default with several containers)
    #[arg(short, long)]
    pub names: bool,
    /// Show the most recently created container's output
    #[arg(short, long)]
    pub latest: bool,
    /// Containers (name, id, or unique id prefix)
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FormatArg {
    /// Output format: json, or a Go template such as {{.Client.Version}}
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct LocksArgs {
    /// Output format: json, or a Go template such as "{{.Available}} of {{.Capacity}}"
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Output format: json, or a Go template such as {{.Host.OCIRuntime.Name}}
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Print help (-h is --hostname here, as in podman)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Name of the container (default, or empty: a generated adjective_surname)
    #[arg(long)]
    pub name: Option<String>,
    /// Hostname inside the container (default: the short id)
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Pod to join (name or id)
    #[arg(long)]
    pub pod: Option<String>,
    /// Label key=value (repeatable)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Environment variable KEY=VALUE, or KEY for the host's value (repeatable)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file: KEY=VALUE or KEY lines
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Read labels from a file: KEY=VALUE lines
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Root filesystem directory of the container
    /// Run from this root filesystem directory instead of an image (then every argument is the command)
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Replace the image's entrypoint (and drop its default command); '' clears it
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Run as this user: uid[:gid], or name[:group] from the image's /etc/passwd and /etc/group
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Signal `stop` sends first: a name (TERM, SIGINT) or a number
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits for the stop signal before SIGKILL (default 10)
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Remove a container of the same name first, if there is one
    #[arg(long)]
    pub replace: bool,
    /// Keep stdin open for attaching (with `run`, pass ours on)
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Keys that detach an attached run (default ctrl-p,ctrl-q; "" disables)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Bind mount a host path: SRC:DST[:OPTS] (ro, rw, z, Z, U, propagation, nosuid, nodev, noexec)
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:OPTS]")]
    pub volumes: Vec<String>,
    /// Attach a mount: type=bind|tmpfs,src=..,dst=..[,ro][,...]
    #[arg(long = "mount", value_name = "type=TYPE,...")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs: DST[:OPTS]
    #[arg(long, value_name = "DST[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// What the image's volumes become: bind (an anonymous volume), tmpfs or ignore
    #[arg(long, default_value = "bind", value_name = "MODE")]
    pub image_volume: String,
    /// Mount the container's root read-only
    #[arg(long)]
    pub read_only: bool,
    /// With --read-only, tmpfs on /tmp, /var/tmp and /run
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub read_only_tmpfs: bool,
    /// Add a line to /etc/hosts: HOST:IP
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
    #[command(flatten)]
    pub net: NetworkArgs,
    /// Publish every port the image exposes, each on a free host port
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// A name server for /etc/resolv.conf
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// A search domain for /etc/resolv.conf ("." for none)
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// A resolver option for /etc/resolv.conf
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_options: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// A resource limit: NAME=SOFT[:HARD]
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Add a capability (ALL, or a name with or without CAP_)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability (ALL drops every default one)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options: no-new-privileges, seccomp=unconfined|FILE, mask=PATHS, unmask=PATHS|ALL, label=disable
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Every capability, the host's devices, no masked paths, no seccomp
    #[arg(long)]
    pub privileged: bool,
    /// A host device: HOST[:CONTAINER][:PERMISSIONS]
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// The PID namespace: private (default) or host
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// The IPC namespace: private (default), shareable or host
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// The UTS namespace: private (default) or host
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// The user namespace: host (the default; others come with rootless)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// The cgroup namespace: host (default on cgroup v1) or private
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Keep the OOM killer away from the container
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// The cgroup the container's goes under (a path; a slice with systemd)
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// A health check: a shell command, a JSON array (["CMD", ...]), or NONE
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between health checks (run them with `healthcheck run`)
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub health_interval: String,
    /// Failures in a row that make the container unhealthy
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub health_retries: u32,
    /// Longest a health check may run; it is killed past it
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub health_timeout: String,
    /// Time after the start in which failed checks do not count
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub health_start_period: String,
    /// No health check
    #[arg(long)]
    pub no_healthcheck: bool,
    /// When to pull the image: missing (default), always, newer, never
    #[arg(long, default_value = "missing", value_name = "POLICY")]
    pub pull: String,
    /// With a pull: verify TLS and refuse plain HTTP (default: registries.conf decides)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Restart policy: no, on-failure[:N], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// A supplementary group (a name in the container's /etc/group, or a number)
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Run an init (catatonit) as pid 1 that reaps zombies and passes signals on
    #[arg(long)]
    pub init: bool,
    /// A namespaced sysctl: KEY=VALUE
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// The container process's OOM score adjustment (-1000 to 1000)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Size of /dev/shm (default 64m)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// IMAGE [COMMAND [ARG...]], or with --rootfs COMMAND [ARG...]
    #[arg(required = true, trailing_var_arg = true, value_name = "IMAGE|COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running only)
    #[arg(short, long)]
    pub all: bool,
    /// Print ids only
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not shorten ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter key=value: id, name, label, status, pod (repeatable)
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Output format: json, or a Go template such as "table {{.ID}}\t{{.Names}}"
    #[arg(long)]
    pub format: Option<String>,
    /// Show the N most recently created containers (all states)
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// Show the most recently created container (all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Sort by command, created, id, image, names, pod, runningfor, size or status
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Add a SIZE column
    #[arg(short, long)]
    pub size: bool,
    /// Add POD ID and PODNAME columns
    #[arg(short, long)]
    pub pod: bool,
    /// Also show containers of other tools (oxpod has no such containers: accepted for podman's scripts)
    #[arg(long)]
    pub external: bool,
    /// Print no header row
    #[arg(long)]
    pub noheading: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Output format: json, or a Go template such as {{.State.Status}}
    #[arg(short, long)]
    pub format: Option<String>,
    /// What to look for: container, pod, image or all
    #[arg(short = 't', long = "type", default_value = "all")]
    pub kind: String,
    /// Inspect the most recently created container
    #[arg(short, long)]
    pub latest: bool,
    /// Show sizes (accepted; oxpod has no image layers to size yet)
    #[arg(short, long)]
    pub size: bool,
    /// Containers or pods (name, id, or unique id prefix)
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove running containers too (killed at once, or stopped within --time)
    #[arg(short, long)]
    pub force: bool,
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// With --force: stop a running container with its stop signal and give it this many seconds before SIGKILL
    #[arg(short, long, value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Ignore containers that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Remove the most recently created container
    #[arg(short, long)]
    pub latest: bool,
    /// Remove the container's anonymous volumes too
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers (name, id, or unique id prefix)
    pub names: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum HealthcheckCommand {
    /// Run a container's health check once: exit 0 healthy, 1 unhealthy
    Run(NameArg),
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Show volumes in detail
    Inspect(VolumeInspectArgs),
    /// Remove volumes
    #[command(alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove every volume no container uses
    Prune(VolumePruneArgs),
    /// Exit 0 if the volume exists, 1 if not
    Exists(VolumeExistsArgs),
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// A label: KEY=VALUE
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The driver (only local)
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// A driver option: type=, device=, o= (mount options, uid=, gid=), nocopy
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
    /// Its name (default: a random id)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Names only
    #[arg(short, long)]
    pub quiet: bool,
    /// json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// name=, label=, driver=, dangling=true|false
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// No header line
    #[arg(long)]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// json, or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Every volume
    #[arg(short, long)]
    pub all: bool,
    /// The volumes
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Remove the containers using it first
    #[arg(short, long)]
    pub force: bool,
    /// Every volume
    #[arg(short, long)]
    pub all: bool,
    /// The volumes
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Do not ask
    #[arg(short, long)]
    pub force: bool,
    /// Only volumes that match: label=KEY[=VALUE], label!=KEY[=VALUE], until=TIME
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeExistsArgs {
    /// The volume
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Show networks in detail
    Inspect(NetworkInspectArgs),
    /// Remove networks
    #[command(alias = "remove")]
    Rm(NetworkRmArgs),
    /// Remove every network no container uses
    Prune(NetworkPruneArgs),
    /// Exit 0 if the network exists, 1 if not
    Exists(NetworkExistsArgs),
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
    /// Set up running containers' networks again (after a firewall flush)
    Reload(NetworkReloadArgs),
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// Another name of the container on this network (repeatable)
    #[arg(long = "alias", value_name = "ALIAS")]
    pub aliases: Vec<String>,
    /// Its IPv4 address on this network
    #[arg(long)]
    pub ip: Option<String>,
    /// Its MAC address on this network
    #[arg(long)]
    pub mac_address: Option<String>,
    /// The network
    pub network: String,
    /// The container
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Accepted for podman's sake (a stopped container is disconnected too)
    #[arg(short, long)]
    pub force: bool,
    /// The network
    pub network: String,
    /// The container
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkReloadArgs {
    /// Every running container
    #[arg(short, long)]
    pub all: bool,
    /// The containers
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// bridge or macvlan
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// The subnet (CIDR); default: a free /24 of 10.89.0.0/16
    #[arg(long)]
    pub subnet: Option<String>,
    /// The gateway (default: the subnet's first address)
    #[arg(long)]
    pub gateway: Option<String>,
    /// Hand out addresses from this range only (CIDR inside the subnet)
    #[arg(long)]
    pub ip_range: Option<String>,
    /// No route out (and no gateway)
    #[arg(long)]
    pub internal: bool,
    /// No DNS by container name on it
    #[arg(long)]
    pub disable_dns: bool,
    /// A label: KEY=VALUE
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// A driver option: mtu=, vlan=, parent= (macvlan), mode=
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
    /// IPv6 (not supported yet)
    #[arg(long)]
    pub ipv6: bool,
    /// Its name (default: podmanN)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Names only
    #[arg(short, long)]
    pub quiet: bool,
    /// json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// name=, id=, driver=, label=KEY[=VALUE]
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// No header line
    #[arg(long)]
    pub noheading: bool,
    /// Full ids
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    /// json, or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// The networks
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    /// Remove the containers using it first
    #[arg(short, long)]
    pub force: bool,
    /// The networks
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Do not ask
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct NetworkExistsArgs {
    /// The network
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Every container's
    #[arg(short, long)]
    pub all: bool,
    /// The container
    pub container: Option<String>,
    /// Only this port: PORT[/PROTOCOL]
    pub port: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PodCommand {
    /// Create a pod
    Create(PodCreateArgs),
    /// List pods
    #[command(visible_alias = "list", visible_alias = "ls")]
    Ps(PodPsArgs),
    /// Show a pod's configuration and state as JSON
    Inspect(PodInspectArgs),
    /// Remove pods
    Rm(PodRmArgs),
    /// Start every container of pods
    Start(PodNamesArgs),
    /// Stop every container of pods
    Stop(PodStopArgs),
    /// Stop, then start every container of pods
    Restart(PodStopArgs),
    /// Send a signal to every container of pods
    Kill(PodKillArgs),
    /// Pause every running container of pods
    Pause(PodNamesArgs),
    /// Unpause every paused container of pods
    Unpause(PodNamesArgs),
    /// Exit 0 if the pod exists, 1 if not
    Exists(PodNameArg),
    /// Remove every pod with no running container
    Prune(PodPruneArgs),
    /// Show the processes of a pod's containers
    Top(TopArgs),
    /// Show pods' resource use
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
pub struct PodNamesArgs {
    /// Every pod
    #[arg(short, long, conflicts_with = "names")]
    pub all: bool,
    /// Pods (name, id, or unique id prefix)
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodStopArgs {
    /// Seconds to wait for each container's stop signal before SIGKILL
    #[arg(short, long)]
    pub time: Option<u32>,
    /// Every pod
    #[arg(short, long, conflicts_with = "names")]
    pub all: bool,
    /// Pods (name, id, or unique id prefix)
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodKillArgs {
    /// Signal to send: a name (KILL, SIGTERM) or a number
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// Every pod
    #[arg(short, long, conflicts_with = "names")]
    pub all: bool,
    /// Pods (name, id, or unique id prefix)
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodRmArgs {
    /// Kill the pods' running containers and remove them too
    #[arg(short, long)]
    pub force: bool,
    /// Remove every pod
    #[arg(short, long)]
    pub all: bool,
    /// Ignore pods that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Pods (name, id, or unique id prefix)
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodInspectArgs {
    /// Output format: json, or a Go template such as {{.State}} or {{.NumContainers}}
    #[arg(short, long)]
    pub format: Option<String>,
    /// Pods (name, id, or unique id prefix)
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodNameArg {
    /// The pod (name, id, or unique id prefix)
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PodPruneArgs {
    /// Do not ask for confirmation (oxpod never asks: accepted for podman's scripts)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PodCreateArgs {
    /// Name of the pod (default: a generated adjective_surname)
    #[arg(long)]
    pub name: Option<String>,
    /// Label key=value (repeatable)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// An infra container holding the pod's network (--infra=false: none)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set)]
    pub infra: bool,
    /// The pod's network, held by its infra container
    #[command(flatten)]
    pub net: NetworkArgs,
    /// Namespaces the members share (only net is shared so far)
    #[arg(long, value_name = "NS[,NS]")]
    pub share: Vec<String>,
}

/// The network flags `create`, `run` and `pod create` share.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// The network: bridge, NAME[,NAME...] (each NAME[:ip=IP,mac=MAC,alias=A]), host, none, container:ID, ns:PATH
    #[arg(long, alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// Another name on its networks (repeatable)
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_aliases: Vec<String>,
    /// Its IPv4 address on its network
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// Its MAC address on its network
    #[arg(long, value_name = "MAC")]
    pub mac_address: Option<String>,
    /// Publish a port: [IP:][HOSTPORT[-END]:]PORT[-END][/tcp|udp|sctp] (repeatable)
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodPsArgs {
    /// Print ids only
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not shorten ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format: json, or a Go template such as "table {{.Name}}\t{{.Status}}"
    #[arg(long)]
    pub format: Option<String>,
    /// Filter key=value: id, name, label, status, ctr-names, ctr-ids, ctr-status, ctr-number, until, network (repeatable)
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Add a column of the containers' names
    #[arg(long)]
    pub ctr_names: bool,
    /// Add a column of the containers' ids
    #[arg(long)]
    pub ctr_ids: bool,
    /// Add a column of the containers' statuses
    #[arg(long)]
    pub ctr_status: bool,
    /// Sort by created, id, name, number or status
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Show the most recently created pod
    #[arg(short, long)]
    pub latest: bool,
    /// Print no header row
    #[arg(long)]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show events since this time (RFC 3339, Unix time, or a duration such as 10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show events until this time
    #[arg(long)]
    pub until: Option<String>,
    /// Filter key=value: container, event, image, pod, type, volume, label (repeatable)
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Output format: json (one object per line), or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Keep streaming new events (default true; --stream=false lists and exits)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub stream: bool,
    /// Show full ids (podman's default; --no-trunc=false shortens them)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub no_trunc: bool,
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show how oxpod sees the host and its store (`oxpod info`)
    Info(InfoArgs),
    /// Give every container and pod a new lock, after num_locks changed
    Renumber,
    /// Apply migrations to the stored containers
    Migrate,
    /// Remove everything oxpod owns: containers, pods, database, locks, events
    Reset(ResetArgs),
    /// Check the database against the lock segment
    Check(CheckArgs),
    /// Show the lock segment: capacity, allocated and held locks
    Locks(LocksArgs),
    /// Remove stopped containers (not in pods) and exited pods
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Fix what the check finds
    #[arg(long)]
    pub repair: bool,
}
