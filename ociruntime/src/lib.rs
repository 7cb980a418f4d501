//! oxpod-ociruntime: finds conmon and the OCI runtimes (runc, crun, youki,
//! ...), writes an OCI `config.json`, and drives the runtime through conmon
//! (create, start, state, kill, delete, pause, resume).
//!
//! It takes plain paths and ids, never state records, and keeps no state of
//! its own.
#![forbid(unsafe_code)]
