;; A start function that never returns: instantiation itself must meet the deadline.
(module
  (memory (export "memory") 1)
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "_start")))
