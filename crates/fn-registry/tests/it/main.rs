//! fn-registry's integration tests: one contract suite run on every store, and what only
//! the SQLite store has (a data folder that outlives the process).

mod contract;
mod keys;
mod sqlite;
mod writer;
