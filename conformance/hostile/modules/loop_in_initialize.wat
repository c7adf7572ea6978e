;; A reactor whose `_initialize` never returns, before its handler is ever called.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $l (br $l)))
  (func (export "handle") (param i32 i32) (result i64) (i64.const 0)))
