//! The panic boundary and argument conversion shared by every entry point.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mesh_core::Timestamp;

use crate::error::{clear, fail, mesh_result};

extern "C" {
    /// POSIX `strnlen`: the length of `s`, reading at most `max` bytes.
    fn strnlen(s: *const c_char, max: usize) -> usize;
}

/// The last error after a caught panic (or an internal inconsistency).
pub(crate) const PANIC_MESSAGE: &str =
    "internal error in mesh (a bug: please report it); the call had no effect";

/// Runs `f` at the ABI boundary: clears the last error, catches any panic
/// (reported as `MESH_ERR_PANIC`, never unwinding into C).
#[inline(always)]
pub(crate) fn guard(f: impl FnOnce() -> Result<(), mesh_result>) -> mesh_result {
    clear();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => mesh_result::MESH_OK,
        Ok(Err(code)) => code,
        Err(_) => fail(mesh_result::MESH_ERR_PANIC, PANIC_MESSAGE),
    }
}

/// Whether every byte of `bytes` is ASCII: with AVX2 (detected at run
/// time), 128 bytes per step; otherwise the high bits of 64 bytes are
/// gathered per step (the compiler turns a step into a few vector ORs and
/// one test).
#[inline(always)]
fn is_ascii(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= 32 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available (checked just above).
        return unsafe { is_ascii_avx2(bytes) };
    }
    is_ascii_words(bytes)
}

/// [`is_ascii`] for 32 bytes or more, 32 bytes per load: the loads are
/// ORed together and the high bits tested once at the end (a non-ASCII
/// text then costs the full pass, and full validation after it anyway).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn is_ascii_avx2(bytes: &[u8]) -> bool {
    use std::arch::x86_64::{
        __m256i, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_setzero_si256,
    };
    let n = bytes.len();
    let p = bytes.as_ptr();
    // SAFETY (all loads): each reads 32 bytes at an offset `i` with
    // `i + 32 <= n`, inside `bytes`; unaligned loads are allowed.
    let load = |i: usize| unsafe { _mm256_loadu_si256(p.add(i).cast::<__m256i>()) };
    let mut acc = _mm256_setzero_si256();
    let mut i = 0;
    while i + 128 <= n {
        let a = _mm256_or_si256(load(i), load(i + 32));
        let b = _mm256_or_si256(load(i + 64), load(i + 96));
        acc = _mm256_or_si256(acc, _mm256_or_si256(a, b));
        i += 128;
    }
    while i + 32 <= n {
        acc = _mm256_or_si256(acc, load(i));
        i += 32;
    }
    // The last 32 bytes (overlapping bytes already seen) cover the tail;
    // `n >= 32` is the caller's promise, checked here too.
    if let Some(last) = n.checked_sub(32) {
        acc = _mm256_or_si256(acc, load(last));
    }
    _mm256_movemask_epi8(acc) == 0
}

/// [`is_ascii`] without vector instructions of its own.
fn is_ascii_words(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().unwrap_or([0x80; 8]));
    let Some(last) = bytes.len().checked_sub(8) else {
        return bytes.iter().fold(0u8, |acc, b| acc | b) < 0x80;
    };
    let mut chunks = bytes.chunks_exact(64);
    for chunk in chunks.by_ref() {
        let any = chunk.chunks_exact(8).fold(0, |acc, w| acc | word(w));
        if any & HIGH != 0 {
            return false;
        }
    }
    let any = chunks
        .remainder()
        .chunks_exact(8)
        .fold(0, |acc, w| acc | word(w));
    // The last 8 bytes (overlapping bytes already seen) cover the tail.
    let tail = bytes.get(last..).map_or(HIGH, word);
    (any | tail) & HIGH == 0
}

/// `bytes` as text: ASCII (credentials, entity references, most JSON) is
/// accepted after one vector pass, anything else is fully validated.
#[inline(always)]
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if is_ascii(bytes) {
        // SAFETY: ASCII is valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes)
    }
}

/// Largest NUL-terminated string argument accepted, in bytes (16 MiB).
pub(crate) const MAX_CSTR: usize = 16 << 20;

/// Borrows a NUL-terminated UTF-8 argument named `name`, at most `max` bytes.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid
/// for the duration of the call.
#[inline(always)]
pub(crate) unsafe fn str_arg<'a>(
    ptr: *const c_char,
    name: &str,
    max: usize,
) -> Result<&'a str, mesh_result> {
    // SAFETY: forwarded from the caller's contract.
    let bytes = unsafe { cstr_bytes(ptr, name, max) }?;
    utf8(bytes).map_err(|e| arg_error(ArgError::Utf8(e.valid_up_to()), name, max))
}

/// The bytes of a NUL-terminated argument named `name` (without the NUL),
/// at most `max`, not yet checked as UTF-8 (see [`str_arg`] and
/// [`utf8_arg`]).
///
/// # Safety
/// As [`str_arg`].
#[inline(always)]
pub(crate) unsafe fn cstr_bytes<'a>(
    ptr: *const c_char,
    name: &str,
    max: usize,
) -> Result<&'a [u8], mesh_result> {
    if ptr.is_null() {
        return Err(arg_error(ArgError::Null, name, max));
    }
    // SAFETY: the caller guarantees a NUL-terminated string; `strnlen`
    // reads at most max + 1 bytes and stops at the first NUL.
    let len = unsafe { strnlen(ptr, max.saturating_add(1)) };
    if len > max {
        return Err(arg_error(ArgError::TooLong, name, max));
    }
    // SAFETY: `len` readable bytes (followed by a NUL) start at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// The bytes of argument `name` (from [`cstr_bytes`]) as text.
#[inline(always)]
pub(crate) fn utf8_arg<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str, mesh_result> {
    utf8(bytes).map_err(|e| arg_error(ArgError::Utf8(e.valid_up_to()), name, 0))
}

/// What was wrong with a string argument.
enum ArgError {
    Null,
    TooLong,
    /// Not UTF-8 from this byte on.
    Utf8(usize),
}

/// Records the error of string argument `name` (kept out of line, so the
/// checks of valid arguments stay short).
#[cold]
#[inline(never)]
fn arg_error(e: ArgError, name: &str, max: usize) -> mesh_result {
    match e {
        ArgError::Null => fail(
            mesh_result::MESH_ERR_NULL_ARGUMENT,
            format!("argument `{name}` is NULL"),
        ),
        ArgError::TooLong => fail(
            mesh_result::MESH_ERR_INPUT_TOO_LARGE,
            format!("argument `{name}` is longer than {max} bytes"),
        ),
        ArgError::Utf8(at) => fail(
            mesh_result::MESH_ERR_INVALID_UTF8,
            format!("argument `{name}` is not valid UTF-8 at byte {at}"),
        ),
    }
}

/// Borrows `len` bytes at `ptr` (NULL allowed when `len` is 0), at most `max`.
///
/// # Safety
/// `ptr` must point to `len` readable bytes that stay valid for the call.
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
    max: usize,
) -> Result<&'a [u8], mesh_result> {
    if len > max {
        return Err(fail(
            mesh_result::MESH_ERR_INPUT_TOO_LARGE,
            format!("argument `{name}` is {len} bytes, more than the maximum {max}"),
        ));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(fail(
            mesh_result::MESH_ERR_NULL_ARGUMENT,
            format!("argument `{name}` is NULL with length {len}"),
        ));
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows `len` UTF-8 bytes at `ptr` as text (see [`bytes_arg`]).
///
/// # Safety
/// `ptr` must point to `len` readable bytes that stay valid for the call.
pub(crate) unsafe fn text_arg<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
    max: usize,
) -> Result<&'a str, mesh_result> {
    // SAFETY: forwarded from the caller's contract.
    let bytes = unsafe { bytes_arg(ptr, len, name, max) }?;
    utf8(bytes).map_err(|e| {
        fail(
            mesh_result::MESH_ERR_INVALID_UTF8,
            format!(
                "argument `{name}` is not valid UTF-8 at byte {}",
                e.valid_up_to()
            ),
        )
    })
}

/// Borrows an optional NUL-terminated UTF-8 argument: NULL is `None`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, mesh_result> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller's contract.
        unsafe { str_arg(ptr, name, max) }.map(Some)
    }
}

/// `MESH_ERR_NULL_ARGUMENT` for out-parameter `name` (out of line).
#[cold]
#[inline(never)]
fn null_out(name: &str) -> mesh_result {
    fail(
        mesh_result::MESH_ERR_NULL_ARGUMENT,
        format!("out-parameter `{name}` is NULL"),
    )
}

/// An out-parameter checked at the start of a call and written once, at
/// the end, only on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// A required out-parameter: NULL is `MESH_ERR_NULL_ARGUMENT`.
    #[inline(always)]
    pub(crate) fn required(ptr: *mut T, name: &str) -> Result<Out<T>, mesh_result> {
        if ptr.is_null() {
            Err(null_out(name))
        } else {
            Ok(Out(ptr))
        }
    }

    /// An optional out-parameter: NULL means the caller does not want it.
    pub(crate) fn optional(ptr: *mut T) -> Out<T> {
        Out(ptr)
    }

    /// Whether the caller asked for this value.
    pub(crate) fn wanted(&self) -> bool {
        !self.0.is_null()
    }

    /// Writes `value` (nothing for an optional NULL out-parameter).
    ///
    /// # Safety
    /// The pointer given at construction must be NULL or writable.
    pub(crate) unsafe fn write(self, value: T) {
        if !self.0.is_null() {
            // SAFETY: non-NULL and writable per the caller's contract.
            unsafe { self.0.write(value) };
        }
    }
}

/// A time argument in milliseconds since the Unix epoch.
pub(crate) fn ms(t: i64) -> Timestamp {
    Timestamp::from_unix_millis(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_an_error_code_and_a_message() {
        #[allow(clippy::panic)]
        let r = guard(|| panic!("forced"));
        assert_eq!(r, mesh_result::MESH_ERR_PANIC);
        // SAFETY: the last error message is a valid C string.
        let msg = unsafe { CStr::from_ptr(crate::error::mesh_last_error_message()) };
        assert!(msg.to_string_lossy().contains("internal error"));
        assert_eq!(guard(|| Ok(())), mesh_result::MESH_OK);
        // SAFETY: as above.
        let msg = unsafe { CStr::from_ptr(crate::error::mesh_last_error_message()) };
        assert!(msg.to_bytes().is_empty());
    }

    #[test]
    fn string_arguments_are_checked() {
        // SAFETY: NULL is allowed and reported.
        let r = unsafe { str_arg(std::ptr::null(), "token", 10) };
        assert_eq!(r, Err(mesh_result::MESH_ERR_NULL_ARGUMENT));
        let long = c"0123456789ab";
        // SAFETY: a valid C string.
        let r = unsafe { str_arg(long.as_ptr(), "token", 10) };
        assert_eq!(r, Err(mesh_result::MESH_ERR_INPUT_TOO_LARGE));
        let bad = [0xffu8, 0];
        // SAFETY: a NUL-terminated buffer.
        let r = unsafe { str_arg(bad.as_ptr().cast(), "token", 10) };
        assert_eq!(r, Err(mesh_result::MESH_ERR_INVALID_UTF8));
    }

    #[test]
    fn the_ascii_fast_path_agrees_with_full_validation() {
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln".to_vec(),
            "Dokument::\"r\u{e9}sum\u{e9}\"".as_bytes().to_vec(),
            vec![0x80],
            vec![0xe2, 0x82],
            vec![0xed, 0xa0, 0x80],
        ];
        // Non-ASCII bytes at every position of short texts, and of texts
        // around and beyond one and two wide steps.
        for (len, i) in (1..=20)
            .chain([
                31, 32, 33, 63, 64, 65, 70, 96, 127, 128, 129, 135, 160, 255, 256, 300,
            ])
            .flat_map(|len| (0..len).map(move |i| (len, i)))
        {
            for b in [0x7fu8, 0x80, 0xc3, 0xff] {
                let mut v = vec![b'a'; len];
                v[i] = b;
                cases.push(v.clone());
                if b == 0xc3 && i + 1 < len {
                    v[i + 1] = 0xa9;
                    cases.push(v);
                }
            }
        }
        for c in &cases {
            assert_eq!(utf8(c).ok(), std::str::from_utf8(c).ok(), "{c:?}");
            assert_eq!(is_ascii_words(c), c.is_ascii(), "{c:?}");
            #[cfg(target_arch = "x86_64")]
            if c.len() >= 32 && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is available.
                assert_eq!(unsafe { is_ascii_avx2(c) }, c.is_ascii(), "{c:?}");
            }
        }
    }
}
