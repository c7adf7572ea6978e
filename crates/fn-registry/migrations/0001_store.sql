-- The function store. Portable SQL (SQLite and PostgreSQL): times are microseconds
-- since the Unix epoch in BIGINT, definitions and records are JSON in TEXT.

CREATE TABLE modules (
    cid TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE functions (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    active_version BIGINT NOT NULL,
    latest_version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE versions (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    cid TEXT NOT NULL REFERENCES modules (cid),
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, name, version),
    FOREIGN KEY (namespace, name) REFERENCES functions (namespace, name) ON DELETE CASCADE
);

CREATE INDEX versions_by_cid ON versions (cid);

CREATE TABLE records (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    function_name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    record TEXT NOT NULL
);

CREATE INDEX records_by_function ON records (namespace, function_name, started_at, id);
CREATE INDEX records_by_namespace ON records (namespace, started_at, id);
CREATE INDEX records_by_start ON records (started_at);
