//! How similar two words are, and how word pairings combine into a name score: pure
//! functions, kept apart from the index that calls them for every candidate.

use super::Score;

/// Edits (insertions, deletions, substitutions, adjacent swaps) two words may differ by and
/// still be the same word misspelt: one up to 6 letters, two up to 10, then three.
/// Jaro-Winkler alone pairs "john" with "johnson" (0.91) and "khan" with "khalfan".
pub(super) fn allowed_edits(longer: usize) -> usize {
    ((longer + 1) / 4).max(1)
}

/// Similarity of two words in basis points, 0 when they are more edits apart than a typo.
/// Otherwise the better of Jaro-Winkler (an error late in a long word costs less than one in
/// its first letters) and the share of letters not edited: Jaro-Winkler's match window is
/// zero for words of 3 letters or less, so it scores "guo"/"ugo" 0.56 and "li"/"ali" 0.
pub(super) fn token_similarity(a: &str, b: &str) -> u16 {
    let (len_a, len_b) = (a.chars().count(), b.chars().count());
    let longer = len_a.max(len_b);
    let allowed = allowed_edits(longer);
    if len_a.abs_diff(len_b) > allowed {
        return 0;
    }
    if bag_distance(a, b) > allowed {
        return 0;
    }
    let edits = strsim::osa_distance(a, b);
    if edits > allowed {
        return 0;
    }
    let kept = ((longer - edits) * 10_000 / longer.max(1)) as u16;
    Score::from_similarity(strsim::jaro_winkler(a, b))
        .0
        .max(kept)
}

/// A lower bound of the edit distance, cheap enough to run on every word pair: the larger of
/// the letters only `a` has and the letters only `b` has, counted with repeats (an insertion,
/// deletion or substitution changes each count by at most one, a swap by none). Rules out
/// almost every pair before the allocating distance functions run.
pub(super) fn bag_distance(a: &str, b: &str) -> usize {
    let mut counts = [0i32; 37];
    a.chars().for_each(|c| counts[char_slot(c)] += 1);
    b.chars().for_each(|c| counts[char_slot(c)] -= 1);
    // Characters outside a–z/0–9 share a slot, which can only lower the bound: still sound.
    let only_a: i32 = counts.iter().filter(|&&n| n > 0).sum();
    let only_b: i32 = counts.iter().filter(|&&n| n < 0).map(|n| -n).sum();
    only_a.max(only_b) as usize
}

/// Combines word pairings into a name score. `matched_*` are Σ (pair similarity × the word's
/// letters) on each side, `letters_*` the side's total letters, `words_*` its word count.
///
/// Coverage is how much of one name (by letters) pairs up with the other. When the better
/// covered side has 2+ words, the score is ¾ of its coverage plus ¼ of the other side's: a
/// name given in full but with a middle name or title more or less ("Ayman MOHAMMED
/// al-Zawahiri", "GONZALEZ PEREZ, Jose Maria" as "Jose Maria Gonzalez") still reaches Review,
/// while a wrong given name costs its full weight on both sides. Otherwise (one-word sides)
/// both count equally (Dice over letters), so a lone surname never vouches for a full name.
/// The ¾ was chosen on the labelled sample: ⅔ missed half the names with a word dropped,
/// ⅘ doubled the false hits on common names.
pub(super) fn combine(
    (matched_q, letters_q, words_q): (u64, u64, usize),
    (matched_c, letters_c, words_c): (u64, u64, usize),
) -> Score {
    let cov_q = matched_q / letters_q.max(1);
    let cov_c = matched_c / letters_c.max(1);
    let (hi, lo, hi_words) = if cov_q >= cov_c {
        (cov_q, cov_c, words_q)
    } else {
        (cov_c, cov_q, words_c)
    };
    let bp = if hi_words >= 2 {
        (3 * hi + lo) / 4
    } else {
        (matched_q + matched_c) / (letters_q + letters_c).max(1)
    };
    Score(u16::try_from(bp.min(10_000)).unwrap_or(10_000))
}

pub(super) fn char_slot(c: char) -> usize {
    match c {
        'a'..='z' => c as usize - 'a' as usize,
        '0'..='9' => 26 + (c as usize - '0' as usize),
        _ => 36,
    }
}

pub(super) fn char_mask(word: &str) -> u64 {
    word.chars().fold(0, |mask, c| mask | 1 << char_slot(c))
}

/// log2(num / den) in sixteenths, for `num >= den >= 1` (0 otherwise): integer only, exact at
/// powers of two and within 1/16 between (the mantissa's top four bits, linearly).
pub(super) fn log2_sixteenths(num: u32, den: u32) -> u32 {
    if den == 0 || num <= den {
        return 0;
    }
    let ratio = (u64::from(num) << 16) / u64::from(den);
    let whole = ratio.ilog2();
    let fraction = (ratio >> (whole - 4)) & 0xf;
    (whole - 16) * 16 + fraction as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_similarity_gates_on_edit_distance_and_the_bag_bound_is_sound() {
        for (a, b) in [
            ("john", "johnson"),
            ("khan", "khalfan"),
            ("sven", "simon"),
            ("mary", "ryan"),
        ] {
            assert_eq!(token_similarity(a, b), 0, "{a}/{b}");
        }
        assert!(token_similarity("irina", "irjna") >= 8_000);
        assert!(token_similarity("lp", "pl") == 5_000 && token_similarity("ali", "li") >= 6_600);
        let words = [
            "ali", "ila", "alia", "zawahiri", "zawahri", "ab", "ba", "mohammed", "muhammad", "x",
        ];
        for a in words {
            for b in words {
                assert!(bag_distance(a, b) <= strsim::osa_distance(a, b), "{a}/{b}");
            }
        }
    }

    #[test]
    fn integer_log2_is_exact_at_powers_of_two_and_close_between() {
        assert_eq!(log2_sixteenths(1, 1), 0);
        assert_eq!(log2_sixteenths(8, 1), 48);
        assert_eq!(log2_sixteenths(30_000, 30_000), 0);
        assert_eq!(log2_sixteenths(3, 5), 0);
        // log2(3) = 1.585 → 25.4 sixteenths; log2(30682) = 14.905 → 238.5.
        assert_eq!(log2_sixteenths(3, 1), 24);
        assert!((237..=239).contains(&log2_sixteenths(30_682, 1)));
    }

    #[test]
    fn coverage_of_the_better_side_counts_three_quarters() {
        let full = 10_000;
        // Same words on both sides: identical.
        assert_eq!(combine((5 * full, 5, 1), (5 * full, 5, 1)), Score::MAX);
        // A two-word query found in full inside a three-word name (10 of 14 letters).
        assert_eq!(
            combine((10 * full, 10, 2), (10 * full, 14, 3)),
            Score(9_285)
        );
        // One word against a two-word name: Dice over letters, 10 of 15.
        assert_eq!(combine((5 * full, 5, 1), (5 * full, 10, 2)), Score(6_666));
        assert_eq!(combine((0, 0, 0), (0, 7, 2)), Score(0));
    }
}
