;; Calls itself until the stack runs out.
(module
  (memory (export "memory") 1)
  (func $down (param i64) (result i64)
    (call $down (i64.add (local.get 0) (i64.const 1))))
  (func (export "_start") (drop (call $down (i64.const 0)))))
