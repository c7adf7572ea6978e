//! The function engine's cache of compiled modules, usable alone: any value keyed by
//! the [`Cid`](fn_core::Cid) of the bytes it was built from, weighted in bytes.
//!
//! Two tiers:
//! - **memory**: [moka](https://docs.rs/moka)'s `future::Cache`, with TinyLFU admission
//!   (a value seen once does not push out one used often) and a capacity in bytes that
//!   each value reports ([`Weigh`]);
//! - **disk** (optional): an [`ArtifactStore`], one verified file per value, so that a
//!   restarted process loads what an earlier one built instead of building it again.
//!   How a value becomes bytes is an [`ArtifactCodec`]; this crate never sees wasmtime.
//!
//! And around them:
//! - **single flight**: however many callers miss one CID at once, one load runs, as its
//!   own task, so a caller that goes away neither cancels it for the others nor leaves
//!   them behind a future nobody polls; every waiter gets the same value or a clone of
//!   the same error, cause chain included;
//! - **negative entries**: a failure the policy says to remember ([`Remember`]) is
//!   returned at once to later lookups, for good or for a while;
//! - a **removal listener** and [`CacheStats`].
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use fn_cache::{Cache, Remember, Weigh};
//! use fn_core::{Cid, Error};
//!
//! struct Compiled(Vec<u8>);
//!
//! impl Weigh for Compiled {
//!     fn weight_bytes(&self) -> u64 {
//!         self.0.len() as u64
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache: Cache<Compiled, Error> = Cache::builder(64 << 20)
//!     .remember_failures(|error: &Error| match error {
//!         Error::Deploy { .. } => Remember::Forever,
//!         Error::CompileTimeout { .. } => Remember::For(Duration::from_secs(60)),
//!         _ => Remember::Never,
//!     })
//!     .build();
//!
//! let bytes = b"(module)".to_vec();
//! let cid = Cid::of(&bytes);
//! let module = cache
//!     .get_or_try_insert(&cid, || async move { Ok(Compiled(bytes)) })
//!     .await?;
//! assert_eq!(module.weight_bytes(), 8);
//!
//! let broken = Cid::of(b"not wasm");
//! let failure = || async move {
//!     Err(Error::Deploy { cid: broken, message: "magic header not detected".into() })
//! };
//! assert!(cache.get_or_try_insert(&broken, failure).await.is_err());
//! // Remembered: refused again without loading.
//! assert!(cache.get_or_try_insert(&broken, || async { unreachable!() }).await.is_err());
//!
//! let stats = cache.stats().await;
//! assert_eq!((stats.entries, stats.loads, stats.refusals), (1, 2, 1));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

mod artifact;
mod cache;
mod negative;
mod stats;

pub use crate::artifact::{ArtifactCodec, ArtifactStore};
pub use crate::cache::{Cache, CacheBuilder, LoadPanicked, Lookup, Miss, Removal, Weigh};
pub use crate::negative::{Clock, Remember};
pub use crate::stats::CacheStats;
