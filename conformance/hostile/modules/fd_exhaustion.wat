;; Opens the same file of its preopened folder again and again, never closing one, until
;; the host refuses: past max_wasi_resources, a resource_limit error.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "file.txt")
  (func (export "_start") (local $errno i32)
    (loop $again
      (local.set $errno
        (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 8) (i32.const 0)
          (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 64)))
      (br_if $again (i32.eqz (local.get $errno))))
    (call $exit (local.get $errno))))
