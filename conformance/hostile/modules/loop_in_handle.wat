;; A handle-ABI function that never returns.
(module
  (memory (export "memory") 1)
  (func (export "handle") (param i32 i32) (result i64)
    (loop $l (br $l))
    (i64.const 0)))
