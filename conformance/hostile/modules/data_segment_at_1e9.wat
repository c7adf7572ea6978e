;; A data segment a gigabyte past its one-page memory.
(module
  (memory (export "memory") 1)
  (data (i32.const 1000000000) "far away")
  (func (export "_start")))
