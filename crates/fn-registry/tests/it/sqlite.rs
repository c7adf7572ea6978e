//! What only the SQLite store has: a data folder that outlives the process, and the
//! errors of one that cannot be used.
