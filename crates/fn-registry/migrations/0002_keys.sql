-- API keys (fnd keys): the SHA-256 of each token, never the token itself.

CREATE TABLE api_keys (
    name TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    role TEXT NOT NULL,
    token_sha256 BLOB NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
