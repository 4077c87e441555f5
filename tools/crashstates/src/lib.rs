// SPDX-License-Identifier: GPL-2.0

//! Crash states of an rsfs disk with a volatile write cache.
//!
//! `make check` cuts the power by killing QEMU, and QEMU's disk writes
//! straight through to the host file: a cut then leaves exactly the writes
//! that completed, in order. A real drive with a volatile write cache may
//! leave any subset of the writes it acknowledged since the last flush,
//! in any order, some of them in part. This crate reads the kernel's
//! dm-log-writes log of a workload on an rsfs disk ([`log`]) and makes the
//! disk states such a drive can leave ([`plan`]). The workloads
//! ([`workload`]) write tagged blocks ([`tag`]) and keep a journal, from
//! which [`oracle`] knows what each crash state must hold. [`explore`]
//! puts it together inside the test VM, with the kernel's dm-log-writes
//! target ([`dm`]) as the recorder.

pub mod dm;
pub mod explore;
pub mod log;
pub mod oracle;
pub mod plan;
pub mod tag;
pub mod workload;
