//! oxpod-state: the records of containers and pods and the `State` trait
//! over them, with an LMDB backend (crash-safe, shared by processes) and an
//! in-memory twin.
//!
//! It stores and finds records; it never runs a container or takes a
//! container lock.
