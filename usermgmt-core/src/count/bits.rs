//! Dense bit sets over index slots (one bit per slot), the currency of evaluation.

/// A set of slots, one bit each.
pub(super) type Bits = Vec<u64>;

/// How many slots a set holds.
pub(super) fn cardinality(bits: &Bits) -> u64 {
    bits.iter().map(|w| u64::from(w.count_ones())).sum()
}

/// `into &= other`.
pub(super) fn and(into: &mut Bits, other: &Bits) {
    for (a, b) in into.iter_mut().zip(other) {
        *a &= b;
    }
}

/// `into |= other`.
pub(super) fn or(into: &mut Bits, other: &Bits) {
    for (a, b) in into.iter_mut().zip(other) {
        *a |= b;
    }
}

/// Adds a slot (ignored past the set's end).
pub(super) fn insert(bits: &mut Bits, slot: usize) {
    if let Some(word) = bits.get_mut(slot / 64) {
        *word |= 1 << (slot % 64);
    }
}

/// Whether a slot is in the set.
pub(super) fn contains(bits: &Bits, slot: usize) -> bool {
    bits.get(slot / 64)
        .is_some_and(|w| w & (1 << (slot % 64)) != 0)
}

/// The slots of a set, in order.
pub(super) fn slots(bits: &Bits) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, word)| {
        let mut word = *word;
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let bit = word.trailing_zeros() as usize;
            word &= word - 1;
            Some(w * 64 + bit)
        })
    })
}
