//! fn-host's integration tests: the SSRF corpus, and the sender against a loopback
//! server.

mod sender;
mod ssrf;
