;; A memory that starts at 8192 pages (512 MiB), over the engine's 256 MiB
;; max_memory_bytes: refused at deploy whatever the allocator.
(module
  (memory 8192)
  (func (export "_start")))
