//! A handle-ABI function (see docs/abi.md): `handle(ptr, len) -> len << 32 | ptr`.
//! Upper-cases its input (ASCII).

/// Reads `len` bytes at `ptr`, returns the upper-cased copy packed as `len << 32 | ptr`.
///
/// # Safety
///
/// The host passes a block it got from `malloc` holding `len` bytes (or `len == 0`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn handle(ptr: *const u8, len: usize) -> u64 {
    let input = if len == 0 {
        &[][..]
    } else {
        // SAFETY: the caller's contract above.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    let output = input.to_ascii_uppercase().into_boxed_slice();
    let (out_len, out_ptr) = (output.len() as u64, output.as_ptr() as u32 as u64);
    // The host reads the output after the call; the instance is discarded after that.
    std::mem::forget(output);
    (out_len << 32) | out_ptr
}
