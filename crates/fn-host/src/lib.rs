//! Host services for the function engine's guests, usable without it. Today:
//! - [`Guard`]: whether an outbound HTTP request may leave, judged against the
//!   function's rules ([`fn_core::OutboundRule`]) and on every address its host
//!   resolves to — loopback, private, link-local (the cloud's metadata address), CGNAT,
//!   documentation, multicast and the other ranges no function may reach are refused,
//!   in whatever form they are written, unless a rule names the address literally or
//!   the operator allowed the range — handing back the addresses to connect to and no
//!   others ([`Vetted`]).
//! - [`Sender`]: fn-core's [`fn_core::OutboundHttp`] behind the guard: a connection of
//!   its own to a vetted address (TLS with rustls, verified against the Mozilla roots),
//!   no proxy, no redirects followed, the connect, first-byte and between-bytes waits
//!   and both bodies bounded ([`SenderOptions`]).
//!
//! No dependency on wasmtime: the runtime turns a [`Refused`] into wasi:http's own
//! error codes.
//!
//! # Example
//!
//! ```
//! use fn_core::OutboundRule;
//! use fn_host::{Guard, Refused, SystemResolver};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let rules: Vec<OutboundRule> = vec![
//!     "http://*:*".parse().unwrap(),
//!     "http://127.0.0.1:8081".parse().unwrap(),
//! ];
//! let guard = Guard::default();
//! // Any host is allowed, but not the metadata address, however it is written.
//! let metadata = "http://[::ffff:169.254.169.254]/latest".parse().unwrap();
//! match guard.vet(&rules, &metadata, &SystemResolver).await {
//!     Err(Refused::Prohibited { range, .. }) => assert!(range.starts_with("link-local")),
//!     other => panic!("{other:?}"),
//! }
//! // A loopback address a rule names literally may be reached, on that port only.
//! let named = "http://127.0.0.1:8081/".parse().unwrap();
//! let vetted = guard.vet(&rules, &named, &SystemResolver).await.unwrap();
//! assert_eq!(vetted.addresses, ["127.0.0.1:8081".parse().unwrap()]);
//! let other_port = "http://127.0.0.1:8082/".parse().unwrap();
//! assert!(guard.vet(&rules, &other_port, &SystemResolver).await.is_err());
//! # });
//! ```

mod guard;
mod sender;

pub use crate::guard::{Guard, Refused, Resolve, SystemResolver, Vetted, prohibited};
pub use crate::sender::{Sender, SenderOptions};
