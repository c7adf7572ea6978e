;; Exports both `_start` (WASI command) and `handle` (handle ABI): refused at deploy,
;; never silently run as one of them.
(module
  (memory (export "memory") 1)
  (func (export "_start"))
  (func (export "handle") (param i32 i32) (result i64)
    (i64.const 0)))
