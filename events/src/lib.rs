//! oxpod-events: the events log of oxpod: the event model (podman's JSON
//! field names), the file, journald and none backends, filters, time bounds,
//! following and rotation.
//!
//! It records and reads events; it never decides what happened.
#![forbid(unsafe_code)]
