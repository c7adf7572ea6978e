//! fn-limits on its own: rate limits on a fake clock, concurrency limits with channels
//! and tokio's paused clock; nothing sleeps.

mod chain;
mod concurrency;
mod limits;
mod rate;
