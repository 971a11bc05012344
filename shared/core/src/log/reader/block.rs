//! Bitmasks of one record's text, 64 bytes at a time (as simdjson's first stage finds them):
//! which bytes are quotes, which quotes are not escaped, which bytes are backslashes. The
//! record scanner then finds a string's end, or the end of a skipped object or array, with a
//! shift and a trailing-zero count instead of looking at bytes again.
//!
//! Blocks are computed in order from the record's first byte, each once, so that a backslash
//! run crossing a block boundary is seen whole. A quote is escaped when an odd run of
//! backslashes precedes it; counted from the record's start, this is the same as counted from
//! the start of any string the scanner opens (the byte before a string's content is its
//! opening quote, never a backslash).

use wide::u8x16;

/// Bits at even positions.
const EVEN: u64 = 0x5555_5555_5555_5555;

/// Blocks whose masks are computed together, in one tight loop, when the scan reaches them.
const BATCH: usize = 8;

/// The text of one record, with the masks of the batch of blocks the scan has reached.
#[derive(Debug)]
pub(super) struct Blocks<'a> {
    s: &'a [u8],
    /// Index of the batch's first block (block `b` holds bytes `64 * b ..`).
    base: usize,
    /// Quote bytes of each block, escaped or not.
    quotes: [u64; BATCH],
    /// Unescaped quotes of each block: string delimiters.
    delimiters: [u64; BATCH],
    /// Backslashes of each block.
    backslashes: [u64; BATCH],
    /// 1 when the first byte after the batch is escaped by a backslash run ending it.
    carry: u64,
}

impl<'a> Blocks<'a> {
    pub(super) fn new(s: &'a [u8]) -> Self {
        let mut blocks =
            Blocks { s, base: 0, quotes: [0; BATCH], delimiters: [0; BATCH], backslashes: [0; BATCH], carry: 0 };
        blocks.fill(0);
        blocks
    }

    /// Computes the masks of the batch starting at block `base`, given the escape carried in
    /// from the block before it. Bytes past the end of the text count as spaces.
    fn fill(&mut self, base: usize) {
        self.base = base;
        for k in 0..BATCH {
            let at = (base + k) * 64;
            let (quotes, backslashes) = if at < self.s.len() {
                self.with_block(at, |block| {
                    let mut m = Masks::new(b'"', b'\\');
                    m.add(block);
                    (m.a, m.b)
                })
            } else {
                (0, 0)
            };
            let escaped = escaped(backslashes, &mut self.carry);
            self.quotes[k] = quotes;
            self.delimiters[k] = quotes & !escaped;
            self.backslashes[k] = backslashes;
        }
    }

    /// Calls `f` with the 64 bytes of the block at `at` (padded with spaces at the end).
    #[inline(always)]
    fn with_block<T>(&self, at: usize, f: impl FnOnce(&[u8; 64]) -> T) -> T {
        match self.s.get(at..).and_then(|rest| rest.first_chunk::<64>()) {
            Some(block) => f(block),
            None => {
                let mut pad = [b' '; 64];
                for (d, &b) in pad.iter_mut().zip(self.s.get(at..).unwrap_or_default()) {
                    *d = b;
                }
                f(&pad)
            }
        }
    }

    /// Computes batches in order until the one holding block `b`; returns `b`'s index in it.
    #[inline(always)]
    fn reach(&mut self, b: usize) -> usize {
        if b < self.base {
            // Never needed by the scanner, which only moves forward; kept correct anyway.
            self.carry = 0;
            self.fill(0);
        }
        while b >= self.base + BATCH {
            self.fill(self.base + BATCH);
        }
        b - self.base
    }

    /// The index of the closing quote of the string whose content starts at `from` (just after
    /// its opening quote), and whether the content holds a backslash; `None` when the text
    /// ends first.
    #[inline(always)]
    pub(super) fn string_end(&mut self, from: usize) -> Option<(usize, bool)> {
        // Most strings end in the block where they start: a shift and a count.
        let k = (from / 64).wrapping_sub(self.base);
        if let (Some(&delimiters), Some(&backslashes)) = (self.delimiters.get(k), self.backslashes.get(k)) {
            let quotes = delimiters >> (from % 64);
            let backslashes = backslashes >> (from % 64);
            if quotes != 0 {
                let n = quotes.trailing_zeros();
                let before = backslashes & ((1u64 << n) - 1);
                return Some((from + n as usize, before != 0));
            }
            // Or in the next block of the batch.
            if let (Some(&next), Some(&next_backslashes)) = (self.delimiters.get(k + 1), self.backslashes.get(k + 1)) {
                if next != 0 {
                    let n = next.trailing_zeros();
                    let before = backslashes | (next_backslashes & ((1u64 << n) - 1));
                    return Some(((from / 64 + 1) * 64 + n as usize, before != 0));
                }
            }
        }
        self.string_end_beyond(from)
    }

    /// [`Self::string_end`] for a string that does not end in the block where it starts.
    #[inline(never)]
    fn string_end_beyond(&mut self, mut from: usize) -> Option<(usize, bool)> {
        let mut escaped = false;
        loop {
            if from >= self.s.len() {
                return None;
            }
            let k = self.reach(from / 64);
            let off = from % 64;
            let quotes = self.delimiters[k] >> off;
            let backslashes = self.backslashes[k] >> off;
            if quotes != 0 {
                let n = quotes.trailing_zeros();
                let before = backslashes & ((1u64 << n) - 1);
                return Some((from + n as usize, escaped || before != 0));
            }
            escaped |= backslashes != 0;
            from = (from / 64 + 1) * 64;
        }
    }

    /// Index just past the bracket closing the object or array opened by `open` at `start`;
    /// `None` when the text ends first. Like the whole-value scan of the reader: brackets of
    /// the value's own kind are counted outside strings, and a string starts at any quote.
    ///
    /// A block whose quotes are all unescaped is taken whole: its bytes inside strings are
    /// known from the running parity of its quotes, and only the brackets outside them are
    /// looked at. A block with an escaped quote is walked quote by quote (an escaped quote
    /// outside a string, in a malformed value, still starts a string there).
    pub(super) fn nested_end(&mut self, start: usize, open: u8, close: u8) -> Option<usize> {
        let mut depth = 0usize;
        let mut p = start;
        let mut brackets_of = usize::MAX;
        let (mut opens, mut closes) = (0u64, 0u64);
        loop {
            if p >= self.s.len() {
                return None;
            }
            let b = p / 64;
            let k = self.reach(b);
            if brackets_of != b {
                (opens, closes) = self.with_block(b * 64, |block| {
                    let mut m = Masks::new(open, close);
                    m.add(block);
                    (m.a, m.b)
                });
                brackets_of = b;
            }
            let quotes = self.quotes[k];
            // The block's bytes from `p` on.
            let from_p = !0u64 << (p % 64);
            if quotes == self.delimiters[k] {
                let quotes = quotes & from_p;
                let inside = prefix_xor(quotes);
                let mut brackets = (opens | closes) & from_p & !inside;
                while brackets != 0 {
                    let bit = brackets & brackets.wrapping_neg();
                    if opens & bit != 0 {
                        depth += 1;
                    } else {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(b * 64 + bit.trailing_zeros() as usize + 1);
                        }
                    }
                    brackets ^= bit;
                }
                p = if inside >> 63 != 0 {
                    // A string runs on past the block: continue after its end.
                    let last = 63 - quotes.leading_zeros() as usize;
                    self.string_end(b * 64 + last + 1)?.0 + 1
                } else {
                    (b + 1) * 64
                };
                continue;
            }
            let hits = (quotes | opens | closes) >> (p % 64);
            if hits == 0 {
                p = (b + 1) * 64;
                continue;
            }
            let at = p + hits.trailing_zeros() as usize;
            let bit = 1u64 << (at % 64);
            if quotes & bit != 0 {
                p = self.string_end(at + 1)?.0 + 1;
            } else if opens & bit != 0 {
                depth += 1;
                p = at + 1;
            } else {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(at + 1);
                }
                p = at + 1;
            }
        }
    }
}

/// Each bit set when an odd number of bits are set at or below it: with quote bits, the
/// bytes inside strings (from the opening quote to just before the closing one).
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Where two byte values occur in a block, as two bitmasks.
struct Masks {
    want: (u8x16, u8x16),
    a: u64,
    b: u64,
}

impl Masks {
    #[inline(always)]
    fn new(a: u8, b: u8) -> Self {
        Masks { want: (u8x16::splat(a), u8x16::splat(b)), a: 0, b: 0 }
    }

    #[inline(always)]
    fn add(&mut self, block: &[u8; 64]) {
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(chunk);
            let v = u8x16::new(bytes);
            self.a |= u64::from(v.cmp_eq(self.want.0).move_mask() as u16) << (16 * k);
            self.b |= u64::from(v.cmp_eq(self.want.1).move_mask() as u16) << (16 * k);
        }
    }
}

/// The bytes of a block escaped by a backslash (simdjson's branchless odd-run rule), given the
/// block's backslashes and the escape carried in from the block before; updates the carry.
#[inline(always)]
fn escaped(backslashes: u64, carry: &mut u64) -> u64 {
    if backslashes == 0 {
        return std::mem::take(carry);
    }
    // A backslash escaped from the block before starts no escape.
    let backslashes = backslashes & !*carry;
    let follows_escape = (backslashes << 1) | *carry;
    // Runs of backslashes that start on an odd bit; adding them to the backslashes carries
    // each such run's bits past its end, which tells runs of odd length from even ones.
    let odd_starts = backslashes & !EVEN & !follows_escape;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslashes);
    *carry = u64::from(overflow);
    let invert = even_starts << 1;
    (EVEN ^ invert) & follows_escape
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first unescaped quote at or after `from`, byte by byte, and whether a backslash
    /// came before it.
    fn reference_string_end(s: &[u8], from: usize) -> Option<(usize, bool)> {
        let mut i = from;
        let mut escaped = false;
        loop {
            match s.get(i)? {
                b'"' => return Some((i, escaped)),
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => i += 1,
            }
        }
    }

    /// The reader's whole-value scan of a nested value, byte by byte.
    fn reference_nested_end(s: &[u8], start: usize, open: u8, close: u8) -> Option<usize> {
        let mut depth = 0usize;
        let mut i = start;
        while let Some(&b) = s.get(i) {
            if b == b'"' {
                i = reference_string_end(s, i + 1)?.0 + 1;
                continue;
            }
            if b == open {
                depth += 1;
            } else if b == close {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            i += 1;
        }
        None
    }

    /// A record text with `prefix` quote-free filler bytes, then a string holding `content`.
    fn string_at(prefix: usize, content: &str) -> Vec<u8> {
        let mut s = vec![b'{'];
        s.resize(prefix, b'x');
        s.push(b'"');
        s.extend_from_slice(content.as_bytes());
        s.extend_from_slice(b"\",\"k\":1}");
        s
    }

    #[test]
    fn escaped_quotes_and_backslashes_across_block_boundaries_are_read_as_a_byte_scan_would() {
        for content in [r#"ab\"cd"#, r#"ab\\"#, r#"\\\"x"#, r#"\\\\\\\\"#, r#"a\\\\\"b\\"#, "plain"] {
            for prefix in 40..140 {
                // Given a string whose escapes fall on every position around 64 and 128
                let s = string_at(prefix, content);
                let from = prefix + 1;
                // When its end is found from the block masks
                let mut blocks = Blocks::new(&s);
                let got = blocks.string_end(from);
                // Then it is where a byte-by-byte scan finds it
                assert_eq!(got, reference_string_end(&s, from), "content {content:?} prefix {prefix}");
                assert_eq!(got.unwrap().0, from + content.len());
            }
        }
    }

    #[test]
    fn a_backslash_run_ending_a_block_escapes_the_first_byte_of_the_next() {
        // Given 63 bytes then a backslash as the last byte of the first block, then a quote
        let mut s = vec![b'"'];
        s.resize(63, b'a');
        s.extend_from_slice(b"\\\"b\"");
        // When the string starting at byte 1 is scanned
        // Then the quote at byte 64 is escaped and the string ends at byte 66
        assert_eq!(Blocks::new(&s).string_end(1), Some((66, true)));
    }

    #[test]
    fn strings_not_closed_before_the_text_ends_have_no_end() {
        // Given texts cut inside a string, including just after a backslash
        for text in [&br#""abc"#[..], br#""ab\"#, br#""ab\""#, b"\""] {
            // Then no end is found
            assert_eq!(Blocks::new(text).string_end(1), None, "{text:?}");
        }
    }

    #[test]
    fn nested_values_skip_brackets_inside_strings_and_count_their_own_kind() {
        // Given objects and arrays holding brackets inside strings, escaped quotes, and nesting
        // across block boundaries
        let long = "y".repeat(70);
        let cases = [
            r#"{"a":{"b":[1,"}"]},"c":"\"}"} tail"#.to_owned(),
            r#"[[1,[2,"]"]],{"x":"["}] tail"#.to_owned(),
            format!(r#"{{"a":"{long}","b":{{"c":["{long}\\\"}}"]}}}} tail"#),
            format!(r#"{{"{long}":[{{}}, {{"\\\\":"{{"}}]}} tail"#),
        ];
        for case in &cases {
            let s = case.as_bytes();
            let (open, close) = if s[0] == b'{' { (b'{', b'}') } else { (b'[', b']') };
            // When the value's end is found from the block masks
            let got = Blocks::new(s).nested_end(0, open, close);
            // Then it is just before " tail", where the byte scan finds it
            assert_eq!(got, Some(s.len() - 5), "{case}");
            assert_eq!(got, reference_nested_end(s, 0, open, close));
        }
    }

    #[test]
    fn truncated_nested_values_have_no_end() {
        // Given an object cut at every byte
        let s = br#"{"a":{"b":[1,"}\""]},"c":2}"#;
        for cut in 0..s.len() {
            // Then no end is found before the cut
            assert_eq!(Blocks::new(&s[..cut]).nested_end(0, b'{', b'}'), None, "cut {cut}");
        }
    }

    /// Random JSON-ish text: structure, quotes and backslashes dense enough to cross blocks.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                4 => Just(b'"'),
                4 => Just(b'\\'),
                2 => Just(b'{'),
                2 => Just(b'}'),
                2 => Just(b'['),
                2 => Just(b']'),
                6 => Just(b'a'),
                1 => any::<u8>(),
            ],
            0..300,
        )
    }

    /// Like [`jsonish`] with few backslashes, so that most blocks are taken whole.
    fn jsonish_few_escapes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                4 => Just(b'"'),
                2 => Just(b'{'),
                2 => Just(b'}'),
                2 => Just(b'['),
                2 => Just(b']'),
                16 => Just(b'a'),
                1 => Just(b'\\'),
            ],
            0..400,
        )
    }

    proptest! {
        #[test]
        fn string_ends_match_a_byte_scan(body in jsonish(), quote_at in 0usize..300) {
            // Given any text and a quote opening a string somewhere in it
            let mut s = body;
            let quote_at = quote_at.min(s.len());
            s.insert(quote_at, b'"');
            // When the scanner first walks some strings before it (moving forward), then
            // reads this one
            let mut blocks = Blocks::new(&s);
            let _ = blocks.string_end(quote_at / 2);
            let got = blocks.string_end(quote_at + 1);
            // Then the end is the byte scan's
            prop_assert_eq!(got, reference_string_end(&s, quote_at + 1));
        }

        #[test]
        fn nested_ends_match_a_byte_scan(body in jsonish(), open_at in 0usize..300, array in any::<bool>()) {
            let (got, want) = nested_end_both_ways(body, open_at, array);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn nested_ends_of_mostly_unescaped_text_match_a_byte_scan(
            body in jsonish_few_escapes(),
            open_at in 0usize..400,
            array in any::<bool>(),
        ) {
            // Given text where most blocks have no escaped quote, with a bracket opened in it
            let (got, want) = nested_end_both_ways(body, open_at, array);
            // Then the value ends where the byte scan says
            prop_assert_eq!(got, want);
        }
    }

    /// Opens a bracket (`[` or `{`) at `open_at` in `body`; its end by the block scanner and
    /// by the byte scan.
    fn nested_end_both_ways(mut body: Vec<u8>, open_at: usize, array: bool) -> (Option<usize>, Option<usize>) {
        let (open, close) = if array { (b'[', b']') } else { (b'{', b'}') };
        let open_at = open_at.min(body.len());
        body.insert(open_at, open);
        (Blocks::new(&body).nested_end(open_at, open, close), reference_nested_end(&body, open_at, open, close))
    }
}
