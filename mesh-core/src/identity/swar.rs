//! Eight-bytes-at-a-time ("SIMD within a register") byte tests on `u64`
//! words, for the short strings of the revocation check (subject names,
//! presence-filter keys): exact per-byte results, no carries or borrows
//! across bytes.

/// Byte-wise constants of the eight-bytes-at-a-time classification.
pub(super) const ONES: u64 = 0x0101_0101_0101_0101;
pub(super) const HIGHS: u64 = ONES * 0x80;
pub(super) const LOW7: u64 = ONES * 0x7f;

/// The high bit of each byte of `a` (bytes below 0x80) equal to `c` (below 0x80).
pub(super) const fn eq7(a: u64, c: u8) -> u64 {
    let t = a ^ (ONES * c as u64);
    // Per byte, `t + 0x7f` sets the high bit exactly when `t` is not zero
    // (no carry: both are below 0x80).
    !((t + LOW7) | t) & HIGHS
}

/// The high bit of each byte `b` of `w` with `m < b < n`, for `m < n <= 0x80`;
/// bytes of 0x80 and above never match.
pub(super) const fn between(w: u64, m: u8, n: u8) -> u64 {
    let a = w & LOW7;
    // Per byte, no borrow or carry crosses bytes: `0x7f + n - a >= 0x80`
    // exactly when `a < n`, `a + 0x7f - m >= 0x80` exactly when `a > m`.
    (ONES * (0x7f + n as u64) - a) & !w & (a + ONES * (0x7f - m as u64)) & HIGHS
}

/// The 128-bit product of `a` and `b`, its halves xor-folded.
pub(super) fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    // Truncation keeps the low half on purpose; the high half is shifted in.
    #[allow(clippy::cast_possible_truncation)]
    let lo = r as u64;
    #[allow(clippy::cast_possible_truncation)]
    let hi = (r >> 64) as u64;
    lo ^ hi
}

/// The eight bytes of `chunk` (of length 8) as a little-endian word.
pub(super) fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or_default())
}

/// The last `bytes.len() % 8` bytes of `bytes` (what `chunks_exact(8)`
/// leaves) as a little-endian word, zero-padded: overlapping loads, no
/// `memcpy` call.
pub(super) fn tail_word(bytes: &[u8]) -> u64 {
    let (len, r) = (bytes.len(), bytes.len() % 8);
    let at = |n: usize| bytes.get(len - n..).unwrap_or_default();
    if r == 0 {
        0
    } else if len >= 8 {
        // The last eight bytes, shifted past those already read.
        word(at(8)) >> (8 * (8 - r))
    } else if r >= 4 {
        // Two four-byte loads overlapping in the middle (equal bytes).
        let lo = u64::from(u32::from_le_bytes(
            at(r)
                .get(..4)
                .unwrap_or_default()
                .try_into()
                .unwrap_or_default(),
        ));
        let hi = u64::from(u32::from_le_bytes(at(4).try_into().unwrap_or_default()));
        lo | (hi << (8 * (r - 4)))
    } else {
        at(r).iter().rev().fold(0, |w, &b| (w << 8) | u64::from(b))
    }
}

/// Calls `f` with each eight-byte word of `bytes`, the last one zero-padded.
pub(super) fn for_each_word(bytes: &[u8], mut f: impl FnMut(u64)) {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        f(word(chunk));
    }
    if !chunks.remainder().is_empty() {
        f(tail_word(bytes));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flags(m: u64) -> [bool; 8] {
        m.to_le_bytes().map(|b| b == 0x80)
    }

    proptest! {
        #[test]
        fn byte_tests_are_exact(bytes in proptest::array::uniform8(any::<u8>()), c in 0u8..0x80, m in 0u8..0x80, n in 1u8..=0x80) {
            let w = u64::from_le_bytes(bytes);
            prop_assert_eq!(flags(eq7(w & LOW7, c)), bytes.map(|b| b & 0x7f == c));
            if m < n {
                prop_assert_eq!(flags(between(w, m, n)), bytes.map(|b| m < b && b < n));
            }
        }

        #[test]
        fn words_pad_with_zeros(bytes in proptest::collection::vec(any::<u8>(), 0..30)) {
            let mut got = Vec::new();
            for_each_word(&bytes, |w| got.push(w));
            let want: Vec<u64> = bytes
                .chunks(8)
                .map(|c| {
                    let mut w = [0u8; 8];
                    w[..c.len()].copy_from_slice(c);
                    u64::from_le_bytes(w)
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
