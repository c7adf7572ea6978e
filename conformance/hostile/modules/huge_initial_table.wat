;; A table of ten million elements before running anything.
(module
  (memory (export "memory") 1)
  (table 10000000 funcref)
  (func (export "_start")))
