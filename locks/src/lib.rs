//! oxpod-locks: numbered locks shared by every oxpod process on a host,
//! as robust process-shared pthread mutexes in a POSIX shared-memory segment,
//! plus an in-memory twin for tests and embedding.
//!
//! It knows nothing of containers, pods or the database: it hands out and
//! takes back lock numbers, and locks them. It is the one crate allowed
//! `unsafe`, confined to one module.
