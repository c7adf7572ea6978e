;; Its start function never returns: the deadline must cover instantiation.
(module
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "_start")))
