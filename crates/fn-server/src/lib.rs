//! The function engine as a server: the HTTP [`gateway`] (an axum router over an engine
//! and a function store, testable and embeddable without the binary, and its graceful
//! [`gateway::serve`]), its wire types ([`api`]) and typed [`client`], and the
//! [`telemetry`] a process runs with. The `fnd` binary is a thin command line over it.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use fn_core::{Config, FunctionDefinition, FunctionStore};
//! use fn_engine::Engine;
//! use fn_registry::InMemoryRegistry;
//! use fn_server::gateway::Gateway;
//! use tower::ServiceExt as _;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(InMemoryRegistry::new());
//! let engine = Engine::builder(store.clone()).build()?;
//! let pong = r#"(module
//!     (memory (export "memory") 1)
//!     (data (i32.const 0) "pong")
//!     (func (export "handle") (param i32 i32) (result i64) i64.const 0x0000000400000000))"#;
//! let mut definition = FunctionDefinition::new("demo", "ping");
//! definition.public = true;
//! engine.deploy(store.as_ref(), definition, pong.into()).await?;
//!
//! let router = Gateway::new(engine, store, None, Some("admin-token".into())).router();
//! let request = axum::http::Request::post("/v1/functions/demo/ping/invoke")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = router.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
//! assert_eq!(&body[..], b"pong");
//! # Ok::<(), fn_core::Error>(())
//! # }).unwrap();
//! ```

pub mod api;
pub mod client;
pub mod config;
pub mod gateway;
pub mod telemetry;
