;; Claims a 256 MiB result from a one-page memory: an ABI violation (bounds come first),
;; not an output limit.
(module
  (memory (export "memory") 1)
  (func (export "handle") (param i32 i32) (result i64)
    (i64.const 0x10000000_00000000)))
