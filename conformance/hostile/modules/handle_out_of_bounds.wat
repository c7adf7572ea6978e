;; Returns a result that points past the end of its one-page memory.
(module
  (memory (export "memory") 1)
  (func (export "handle") (param i32 i32) (result i64)
    (i64.const 0x00000010_0000fff8)))
