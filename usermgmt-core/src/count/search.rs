//! The users' search texts in one contiguous buffer, so a search term is one SIMD substring
//! scan over all of them (`memchr::memmem`) rather than a call per user.
//!
//! Each text is followed by a NUL byte, which no term holds ([`SearchTexts::find`] refuses
//! one), so a match never spans two users. Replacing a text appends the new one; the old one
//! stays as garbage until garbage outweighs the live texts and the buffer is compacted.

use super::bits::{Bits, insert};

/// Where a slot's text starts in the buffer; `NONE`: no text.
const NONE: u32 = u32::MAX;

/// Every slot's search text.
#[derive(Debug, Default)]
pub(super) struct SearchTexts {
    buffer: Vec<u8>,
    /// `(start, slot)` of every text written, in buffer order.
    entries: Vec<(u32, u32)>,
    /// Per slot, the start of its current text.
    start_of: Vec<u32>,
    /// Bytes of replaced texts still in the buffer.
    garbage: usize,
}

impl SearchTexts {
    /// Sets a slot's text (`None`: the slot is free). False when the buffer is full (more
    /// than 4 GiB of text): searches then count in SQL.
    pub(super) fn set(&mut self, slot: u32, text: Option<&str>) -> bool {
        let at = slot as usize;
        if self.start_of.len() <= at {
            self.start_of.resize(at + 1, NONE);
        }
        let old = self.start_of[at];
        if old != NONE {
            self.garbage += self.text_len(old) + 1;
            self.start_of[at] = NONE;
        }
        if let Some(text) = text {
            if self.garbage > self.buffer.len() / 2 {
                self.compact();
            }
            let Ok(start) = u32::try_from(self.buffer.len()) else {
                return false;
            };
            if start == NONE || u32::try_from(self.buffer.len() + text.len() + 1).is_err() {
                return false;
            }
            self.buffer.extend_from_slice(text.as_bytes());
            self.buffer.push(0);
            self.entries.push((start, slot));
            self.start_of[at] = start;
        }
        true
    }

    fn text_len(&self, start: u32) -> usize {
        let rest = &self.buffer[start as usize..];
        memchr::memchr(0, rest).unwrap_or(rest.len())
    }

    /// Rewrites the buffer with the current texts only.
    fn compact(&mut self) {
        let mut buffer = Vec::with_capacity(self.buffer.len() - self.garbage);
        let mut entries = Vec::with_capacity(self.start_of.len());
        for (slot, start) in self.start_of.iter_mut().enumerate() {
            if *start == NONE {
                continue;
            }
            let from = *start as usize;
            let len = memchr::memchr(0, &self.buffer[from..]).unwrap_or(0);
            // The old buffer fit in u32 offsets, so the smaller new one does.
            let new_start = u32::try_from(buffer.len()).unwrap_or(NONE);
            buffer.extend_from_slice(&self.buffer[from..from + len]);
            buffer.push(0);
            entries.push((new_start, slot as u32));
            *start = new_start;
        }
        self.buffer = buffer;
        self.entries = entries;
        self.garbage = 0;
    }

    /// The slots whose text contains `term`, as a set of `words` words; `None` when the term
    /// holds a NUL byte.
    pub(super) fn find(&self, term: &str, words: usize) -> Option<Bits> {
        if term.as_bytes().contains(&0) {
            return None;
        }
        let mut bits = vec![0u64; words];
        let finder = memchr::memmem::Finder::new(term.as_bytes());
        let mut from = 0;
        while let Some(hit) = finder.find(&self.buffer[from..]) {
            let position = from + hit;
            // The text holding the hit: the last entry starting at or before it.
            let entry = self
                .entries
                .partition_point(|(start, _)| *start as usize <= position);
            let Some(&(start, slot)) = entry.checked_sub(1).and_then(|i| self.entries.get(i))
            else {
                break;
            };
            let at = slot as usize;
            if self.start_of.get(at) == Some(&start) {
                insert(&mut bits, at);
            }
            // Go on after this text: one hit per text is enough.
            let end = start as usize + self.text_len(start) + 1;
            from = end.max(position + 1);
            if from >= self.buffer.len() {
                break;
            }
        }
        Some(bits)
    }

    /// Gives back the memory growth left spare.
    pub(super) fn shrink(&mut self) {
        self.buffer.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.start_of.shrink_to_fit();
    }

    /// Bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.buffer.capacity() + self.entries.capacity() * 8 + self.start_of.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(bits: &Bits) -> Vec<usize> {
        (0..bits.len() * 64)
            .filter(|i| bits[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }

    #[test]
    fn finds_each_text_once_and_forgets_replaced_ones() {
        let mut texts = SearchTexts::default();
        assert!(texts.set(0, Some("alice ali@x")));
        assert!(texts.set(1, Some("bob")));
        assert!(texts.set(2, Some("malia")));
        assert_eq!(slots(&texts.find("ali", 1).unwrap()), [0, 2]);
        // Replaced: the old text no longer matches; the new one does.
        assert!(texts.set(0, Some("carol")));
        assert!(texts.set(1, Some("alina")));
        assert_eq!(slots(&texts.find("ali", 1).unwrap()), [1, 2]);
        // Freed.
        assert!(texts.set(2, None));
        assert_eq!(slots(&texts.find("ali", 1).unwrap()), [1]);
        // No match spans two texts.
        assert!(texts.set(3, Some("x")));
        assert_eq!(slots(&texts.find("ax", 1).unwrap()), Vec::<usize>::new());
        assert!(texts.find("a\0b", 1).is_none());
    }

    #[test]
    fn compaction_keeps_every_current_text() {
        let mut texts = SearchTexts::default();
        for round in 0..50u32 {
            for slot in 0..20u32 {
                assert!(texts.set(slot, Some(&format!("user{slot}-round{round}"))));
            }
        }
        assert!(texts.garbage <= texts.buffer.len());
        assert_eq!(
            slots(&texts.find("round49", 1).unwrap()),
            (0..20).collect::<Vec<_>>()
        );
        assert_eq!(
            slots(&texts.find("round48", 1).unwrap()),
            Vec::<usize>::new()
        );
        assert_eq!(slots(&texts.find("user7-", 1).unwrap()), [7]);
    }
}
