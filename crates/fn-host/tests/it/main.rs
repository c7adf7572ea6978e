//! fn-host's integration tests: the SSRF corpus.

mod ssrf;
