-- The routes claimed by the functions' active versions: one row a function at most,
-- each prefix once (a clash is refused by the primary key and checked before). Kept in
-- step with the active version by deploy and set_active; freed with the function.

CREATE TABLE routes (
    prefix TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    FOREIGN KEY (namespace, name) REFERENCES functions (namespace, name) ON DELETE CASCADE
);

CREATE UNIQUE INDEX routes_by_function ON routes (namespace, name);
