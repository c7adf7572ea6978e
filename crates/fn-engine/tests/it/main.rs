//! Integration tests of the engine's contract (DESIGN.md, "The contract of the Go engine
//! being replaced"), with real guests built by `cargo xtask guests`.

mod admission;
mod cache;
mod contract;
mod host_config;
mod hostile_components;
mod http;
mod invariants;
mod outbound;
mod record;
mod store;
mod support;
mod telemetry;
