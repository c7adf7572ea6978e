;; Fills 4 GiB of a one-page memory: bounds are checked before a byte is written.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (memory.fill (i32.const 0) (i32.const 255) (i32.const -1))))
