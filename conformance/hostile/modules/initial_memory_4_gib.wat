;; Asks for the whole 4 GiB a wasm32 memory can address before running anything.
(module
  (memory (export "memory") 65536)
  (func (export "_start")))
