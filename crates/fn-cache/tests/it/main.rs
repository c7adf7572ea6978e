//! fn-cache's integration tests: the cache as a platform team would use it alone.

mod artifacts;
mod eviction;
mod single_flight;
mod support;
