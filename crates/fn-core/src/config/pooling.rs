//! [`PoolingConfig`]: how instances are allocated, [`Config::pooling`](super::Config::pooling).

use serde::{Deserialize, Serialize};

/// How instances are allocated: from a pool of pre-reserved slots (fast) or on demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolingConfig {
    /// Use the pooling allocator. When the pool's address space cannot be reserved the
    /// engine falls back to on-demand allocation and logs it. Default true.
    pub enabled: bool,
    /// How many invocations may hold a slot at once (memories, tables, instances and
    /// async stacks each get this many). Admission's global limit
    /// (`admission.max_concurrent`) is at most this, so calls wait for a slot there, or
    /// are refused with [`crate::Error::Overloaded`], rather than find the pool full. Default 256.
    pub slots: u32,
    /// Bytes of each memory and table kept resident between uses and reset with
    /// `memset` instead of `madvise` (the rest of a used memory is given back with
    /// `madvise`). Default 64 KiB: a one-page guest is reset without a system call, and a
    /// larger one (a Rust guest starts at 17 pages) is not `memset` in full at every
    /// call; measured against 1 MiB in docs/performance.md (1.3x to 1.9x the calls per
    /// second of Rust guests, in process and over HTTP).
    #[serde(deserialize_with = "crate::units::size::deserialize")]
    pub keep_resident_bytes: u64,
    /// Initialise memories from copy-on-write images. Default true.
    pub copy_on_write: bool,
    /// Reset a used memory's resident part by asking Linux which pages the guest
    /// dirtied (the `PAGEMAP_SCAN` ioctl, Linux 6.7 and later; elsewhere the plain
    /// reset) instead of `memset` of all of it. Default true: 3.7x the HTTP invoke rate
    /// of `fnd serve` (docs/performance.md), and since wasmtime 48.0.11 a dirty page the
    /// kernel swapped out is reset too (fn-runtime's isolation test puts one through
    /// swap).
    pub pagemap_scan: bool,
}

impl Default for PoolingConfig {
    fn default() -> PoolingConfig {
        PoolingConfig {
            enabled: true,
            slots: 256,
            keep_resident_bytes: 64 << 10,
            copy_on_write: true,
            pagemap_scan: true,
        }
    }
}
