;; A GC-proposal struct type: the proposal is off.
(module
  (type $point (struct (field i32) (field i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
