//! Dense bit sets over index slots (one bit per slot): what scans of numbers and search texts
//! produce before they are compressed into sets.

/// A set of slots, one bit each.
pub(super) type Bits = Vec<u64>;

/// Adds a slot (ignored past the set's end).
pub(super) fn insert(bits: &mut Bits, slot: usize) {
    if let Some(word) = bits.get_mut(slot / 64) {
        *word |= 1 << (slot % 64);
    }
}
