//! Name screening against the SDN list: normalisation, a blocked index, and token-level
//! fuzzy scoring.
//!
//! Normalisation: NFKD with combining marks stripped (José → jose), a few letters NFKD leaves
//! alone folded (ß → ss, ø → o), apostrophes dropped (O'Neil → oneil), other punctuation split,
//! lower-cased, legal forms removed (LTD, LLC, JOINT STOCK COMPANY, OOO…), tokens sorted and
//! deduplicated (word order ignored).
//!
//! Scoring is per word, not over the whole string: Jaro-Winkler over a whole name rewards a
//! shared first word so much that "Sven Schneider" scored 0.93 against "SCHNEIDER, Simon" and
//! "Mary Johnson" 0.91 against "RYAN, John". Instead each query word is paired with at most one
//! SDN word ([`token_similarity`]: Jaro-Winkler, but zero beyond a few edits, so "john" is not
//! "johnson"), and the score is the letter-weighted share of both names that pairs up
//! ([`combine`]). A wrong given name now costs its full weight.
//!
//! Index: each name is filed under the first two letters of each of its words of 3+ letters.
//! A query is scored only against names sharing at least one such key, so a typo costs recall
//! only when it hits the first two letters of *every* long word; `naive_search` scores every
//! name and is kept to measure exactly that. Word similarities are computed once per distinct
//! SDN word per query (the vocabulary is ~20k words for ~30k names).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::ofac::{NameSource, SdnList, SdnType};

/// A similarity in basis points, 0..=10_000 (10_000 = identical after normalisation). Integer
/// so that thresholds, evidence and audit records compare exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Score(pub u16);

impl Score {
    pub const MAX: Score = Score(10_000);

    // The one place a float becomes a score; similarity is not money, so float_arithmetic's
    // concern (exact amounts) does not apply.
    #[allow(clippy::float_arithmetic)]
    fn from_similarity(similarity: f64) -> Self {
        let bp = (similarity.clamp(0.0, 1.0) * 10_000.0).round();
        Score(bp as u16)
    }
}

/// Tunable thresholds. Defaults were chosen on the labelled sample in
/// `tests/support/eval.rs` (see the `name_screening_evaluation` test for the figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameThresholds {
    /// At or above: Block (unless the name is too short to be distinctive).
    pub block: Score,
    /// At or above (and below `block`): Review.
    pub review: Score,
    /// Names with fewer letters than this never Block, only Review: the legacy CSV lacks
    /// OFAC's "weak alias" flag, and short aliases ("BNC") are not distinctive.
    pub min_block_letters: usize,
}

impl Default for NameThresholds {
    fn default() -> Self {
        Self {
            block: Score(9_600),
            review: Score(9_000),
            min_block_letters: 8,
        }
    }
}

/// How strong a match is, by the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStrength {
    Weak,
    Strong,
}

/// A screened name matched an SDN name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameMatch {
    pub ent_num: u32,
    /// The SDN name or alias that matched, as OFAC writes it.
    pub matched_name: String,
    /// The entry's primary name.
    pub primary_name: String,
    pub source: NameSource,
    pub sdn_type: SdnType,
    pub programs: Vec<String>,
    pub score: Score,
    pub strength: MatchStrength,
}

/// A name after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedName {
    /// Sorted, deduplicated words.
    pub tokens: Vec<String>,
    /// `tokens` joined by single spaces.
    pub key: String,
}

/// Legal-form words that say nothing about who a party is, sorted for binary search. The
/// Russian and Turkish forms matter: "LIMITED LIABILITY COMPANY NEIT" and "… NEFT" must not
/// match on "liability".
const NOISE_WORDS: [&str; 45] = [
    "ag", "aktsionernoe", "anonim", "bv", "cjsc", "co", "company", "corp", "corporation", "fzc",
    "fzco", "fze", "gmbh", "inc", "incorporated", "joint", "jsc", "liability", "limitada",
    "limited", "llc", "llp", "ltd", "ltda", "oao", "obshchestvo", "ogranichennoi",
    "ogranichennoy", "ojsc", "ooo", "otvetstvennostiu", "otvetstvennostyu", "pao", "pjsc", "plc",
    "pte", "pvt", "sa", "sarl", "sirketi", "srl", "stock", "the", "zao", "zat",
];

pub fn normalize(name: &str) -> NormalizedName {
    let mut folded = String::with_capacity(name.len());
    for c in name.nfkd().filter(|c| !is_combining_mark(*c)) {
        match c {
            '\'' | '\u{2019}' | '`' | '\u{2bc}' => {}
            'ß' => folded.push_str("ss"),
            'æ' | 'Æ' => folded.push_str("ae"),
            'œ' | 'Œ' => folded.push_str("oe"),
            'ø' | 'Ø' => folded.push('o'),
            'đ' | 'Đ' => folded.push('d'),
            'ł' | 'Ł' => folded.push('l'),
            'ı' => folded.push('i'),
            'þ' | 'Þ' => folded.push_str("th"),
            c if c.is_alphanumeric() => folded.extend(c.to_lowercase()),
            _ => folded.push(' '),
        }
    }
    let mut tokens: Vec<String> = folded.split_whitespace().map(str::to_owned).collect();
    tokens.sort();
    tokens.dedup();
    let meaningful: Vec<String> = tokens
        .iter()
        .filter(|t| NOISE_WORDS.binary_search(&t.as_str()).is_err())
        .cloned()
        .collect();
    // "THE COMPANY LTD" must not normalise to nothing.
    if !meaningful.is_empty() {
        tokens = meaningful;
    }
    let key = tokens.join(" ");
    NormalizedName { tokens, key }
}

/// Edits (insertions, deletions, substitutions, adjacent swaps) two words may differ by and
/// still be the same word misspelt: none for 1–2 letters, one up to 6, two up to 10, then
/// three. Jaro-Winkler alone pairs "john" with "johnson" (0.91) and "khan" with "khalfan".
fn allowed_edits(longer: usize) -> usize {
    (longer + 1) / 4
}

/// Similarity of two words in basis points: Jaro-Winkler (so an error late in a word costs
/// less than one in its first letters), or 0 when they are more edits apart than a typo.
fn token_similarity(a: &str, b: &str) -> u16 {
    let (len_a, len_b) = (a.chars().count(), b.chars().count());
    let allowed = allowed_edits(len_a.max(len_b));
    if len_a.abs_diff(len_b) > allowed || strsim::osa_distance(a, b) > allowed {
        return 0;
    }
    Score::from_similarity(strsim::jaro_winkler(a, b)).0
}

/// Combines word pairings into a name score. `matched_*` are Σ (pair similarity × the word's
/// letters) on each side, `letters_*` the side's total letters, `words_*` its word count.
///
/// Coverage is how much of one name (by letters) pairs up with the other. When one side is
/// covered completely and has 2+ words, the other side's unpaired words cost a third as much:
/// an added middle name or a title ("Ayman MOHAMMED al-Zawahiri" against "AL ZAWAHIRI, Dr.
/// Ayman") should still reach Review. Otherwise both sides count equally (Dice over letters),
/// so a lone surname never vouches for a full name.
fn combine(
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
        (2 * hi + lo) / 3
    } else {
        (matched_q + matched_c) / (letters_q + letters_c).max(1)
    };
    Score(u16::try_from(bp.min(10_000)).unwrap_or(10_000))
}

/// One indexed name (primary or alias) of one entry.
#[derive(Debug, Clone)]
struct IndexedName {
    entry: u32,
    source: NameSource,
    display: String,
    /// Vocabulary ids, in the name's (sorted) token order.
    tokens: Box<[u32]>,
    letters: u32,
}

/// The SDN names, indexed for fast fuzzy lookup.
#[derive(Debug, Clone)]
pub struct NameIndex {
    names: Vec<IndexedName>,
    /// Every distinct SDN word, with its letter count.
    vocab: Vec<(Box<str>, u32)>,
    entries: Vec<(u32, String, SdnType, Vec<String>)>,
    buckets: HashMap<[char; 2], Vec<u32>>,
    version: String,
}

fn bucket_keys<'t>(tokens: impl Iterator<Item = &'t str> + Clone) -> Vec<[char; 2]> {
    let has_long = tokens.clone().any(|t| t.chars().count() >= 3);
    // A name of only short words ("AL BO") is filed under those rather than nowhere.
    let mut keys: Vec<[char; 2]> = tokens
        .filter(|t| !has_long || t.chars().count() >= 3)
        .map(|t| {
            let mut chars = t.chars();
            let first = chars.next().unwrap_or(' ');
            [first, chars.next().unwrap_or(' ')]
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A normalised query and its word similarities to the vocabulary, filled in lazily.
struct Query {
    name: NormalizedName,
    lengths: Vec<u64>,
    letters: u64,
    /// `vocab id × words + query word` → similarity; `UNSET` until computed.
    similarities: Vec<u16>,
    pairs: Vec<(u16, usize, usize)>,
    used: Vec<bool>,
}

const UNSET: u16 = u16::MAX;

impl Query {
    fn new(text: &str, vocab_len: usize) -> Self {
        let name = normalize(text);
        let lengths: Vec<u64> = name.tokens.iter().map(|t| t.chars().count() as u64).collect();
        let letters = lengths.iter().sum();
        let similarities = vec![UNSET; vocab_len * name.tokens.len()];
        Self { name, lengths, letters, similarities, pairs: Vec::new(), used: Vec::new() }
    }

    /// Pairs query words with the candidate's greedily, most similar first, each word at most
    /// once on either side, and scores the result.
    fn score(&mut self, candidate: &IndexedName, vocab: &[(Box<str>, u32)]) -> Score {
        let words = self.name.tokens.len();
        self.pairs.clear();
        for (c, &id) in candidate.tokens.iter().enumerate() {
            for q in 0..words {
                let slot = id as usize * words + q;
                if self.similarities[slot] == UNSET {
                    self.similarities[slot] = token_similarity(&self.name.tokens[q], &vocab[id as usize].0);
                }
                let similarity = self.similarities[slot];
                if similarity > 0 {
                    self.pairs.push((similarity, q, c));
                }
            }
        }
        self.pairs.sort_unstable_by(|a, b| b.cmp(a));
        self.used.clear();
        self.used.resize(words + candidate.tokens.len(), false);
        let (mut matched_q, mut matched_c) = (0u64, 0u64);
        for &(similarity, q, c) in &self.pairs {
            if self.used[q] || self.used[words + c] {
                continue;
            }
            self.used[q] = true;
            self.used[words + c] = true;
            matched_q += u64::from(similarity) * self.lengths[q];
            matched_c += u64::from(similarity) * u64::from(vocab[candidate.tokens[c] as usize].1);
        }
        combine(
            (matched_q, self.letters, words),
            (matched_c, u64::from(candidate.letters), candidate.tokens.len()),
        )
    }
}

impl NameIndex {
    pub fn build(list: &SdnList) -> Self {
        let mut names = Vec::new();
        let mut entries = Vec::with_capacity(list.entries.len());
        let mut vocab: Vec<(Box<str>, u32)> = Vec::new();
        let mut ids: HashMap<String, u32> = HashMap::new();
        for (i, entry) in list.entries.iter().enumerate() {
            let index = i as u32;
            entries.push((entry.ent_num, entry.name.clone(), entry.sdn_type, entry.programs.clone()));
            let all = std::iter::once((NameSource::Primary, &entry.name))
                .chain(entry.aliases.iter().map(|(s, a)| (*s, a)));
            for (source, display) in all {
                let normalized = normalize(display);
                if normalized.tokens.is_empty() {
                    continue;
                }
                let mut letters = 0;
                let tokens = normalized
                    .tokens
                    .into_iter()
                    .map(|t| {
                        let len = t.chars().count() as u32;
                        letters += len;
                        *ids.entry(t).or_insert_with_key(|t| {
                            vocab.push((t.as_str().into(), len));
                            (vocab.len() - 1) as u32
                        })
                    })
                    .collect();
                names.push(IndexedName { entry: index, source, display: display.clone(), tokens, letters });
            }
        }
        let mut buckets: HashMap<[char; 2], Vec<u32>> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let words = name.tokens.iter().map(|&id| &*vocab[id as usize].0);
            for key in bucket_keys(words) {
                buckets.entry(key).or_default().push(i as u32);
            }
        }
        Self { names, vocab, entries, buckets, version: list.version().to_owned() }
    }

    /// The SDN list version this index was built from.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Indexed names (primary names plus aliases).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Matches at or above `thresholds.review`, best first, at most one per SDN entry.
    pub fn search(&self, query: &str, thresholds: &NameThresholds) -> Vec<NameMatch> {
        let mut query = Query::new(query, self.vocab.len());
        let mut candidates: Vec<u32> = bucket_keys(query.name.tokens.iter().map(String::as_str))
            .iter()
            .filter_map(|k| self.buckets.get(k))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        self.score(&mut query, candidates.into_iter(), thresholds)
    }

    /// Same contract as [`NameIndex::search`], scoring every name: the benchmark baseline.
    pub fn naive_search(&self, query: &str, thresholds: &NameThresholds) -> Vec<NameMatch> {
        let mut query = Query::new(query, self.vocab.len());
        self.score(&mut query, 0..self.names.len() as u32, thresholds)
    }

    fn score(
        &self,
        query: &mut Query,
        candidates: impl Iterator<Item = u32>,
        thresholds: &NameThresholds,
    ) -> Vec<NameMatch> {
        if query.name.tokens.is_empty() {
            return Vec::new();
        }
        let mut best: HashMap<u32, (Score, u32)> = HashMap::new();
        for i in candidates {
            let name = &self.names[i as usize];
            // A one-word SDN name (the vessel "PATRICIA") inside a longer query is not evidence.
            if name.tokens.len() == 1 && query.name.tokens.len() > 1 {
                continue;
            }
            let score = query.score(name, &self.vocab);
            if score < thresholds.review {
                continue;
            }
            let slot = best.entry(name.entry).or_insert((score, i));
            if score > slot.0 {
                *slot = (score, i);
            }
        }
        let mut matches: Vec<NameMatch> = best
            .into_values()
            .map(|(score, i)| self.to_match(query.letters, i, score, thresholds))
            .collect();
        matches.sort_by(|a, b| b.score.cmp(&a.score).then(a.ent_num.cmp(&b.ent_num)));
        matches
    }

    fn to_match(&self, query_letters: u64, name_index: u32, score: Score, thresholds: &NameThresholds) -> NameMatch {
        let name = &self.names[name_index as usize];
        let (ent_num, primary, sdn_type, programs) = &self.entries[name.entry as usize];
        let letters = u64::from(name.letters).min(query_letters);
        let distinctive = letters >= thresholds.min_block_letters as u64;
        let strength = if score >= thresholds.block && distinctive {
            MatchStrength::Strong
        } else {
            MatchStrength::Weak
        };
        NameMatch {
            ent_num: *ent_num,
            matched_name: name.display.clone(),
            primary_name: primary.clone(),
            source: name.source,
            sdn_type: *sdn_type,
            programs: programs.clone(),
            score,
            strength,
        }
    }

    /// Rough heap footprint of the index, for capacity planning and the benchmark.
    pub fn estimated_bytes(&self) -> usize {
        let names: usize = self
            .names
            .iter()
            .map(|n| std::mem::size_of::<IndexedName>() + n.display.capacity() + n.tokens.len() * 4)
            .sum();
        let vocab: usize = self.vocab.iter().map(|(w, _)| 24 + w.len()).sum();
        let entries: usize = self
            .entries
            .iter()
            .map(|e| 64 + e.1.capacity() + e.3.iter().map(|p| p.capacity() + 24).sum::<usize>())
            .sum();
        let buckets: usize = self.buckets.values().map(|v| 40 + v.capacity() * 4).sum();
        names + vocab + entries + buckets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofac::{SdnInput, SdnList};

    const SDN: &str = "1,\"AL ZAWAHIRI, Dr. Ayman\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"a.k.a. 'THE DOCTOR'.\"\n\
2,\"BANCO NACIONAL DE CUBA\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"a.k.a. 'BNC'.\"\n\
3,\"GONZALEZ PEREZ, Jose Maria\",\"individual\",\"SDNTK\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n";

    fn index() -> NameIndex {
        NameIndex::build(
            &SdnList::parse(SdnInput {
                sdn_csv: SDN,
                aliases: None,
            })
            .unwrap(),
        )
    }

    #[test]
    fn normalisation_ignores_case_accents_punctuation_order_and_legal_forms() {
        assert_eq!(
            normalize("José-María  GONZÁLEZ").key,
            normalize("gonzalez, jose maria").key
        );
        assert_eq!(normalize("O'Neil Straße").key, "oneil strasse");
        assert_eq!(normalize("Acme Trading Co., Ltd.").key, "acme trading");
        assert_eq!(normalize("The Company Ltd").key, "company ltd the");
        assert!(normalize("  ,. ").tokens.is_empty());
    }

    #[test]
    fn exact_reordered_and_accented_names_match_strongly() {
        let idx = index();
        let t = NameThresholds::default();
        for query in [
            "Ayman al-Zawahiri Dr",
            "José María González Pérez",
            "BANCO NACIONAL DE CUBA",
        ] {
            let hits = idx.search(query, &t);
            assert_eq!(
                hits.first().map(|m| m.strength),
                Some(MatchStrength::Strong),
                "{query}"
            );
        }
    }

    #[test]
    fn a_typo_still_matches_and_an_unrelated_name_does_not() {
        let idx = index();
        let t = NameThresholds::default();
        let typo = idx.search("Jose Maria Gonzales Perez", &t);
        assert_eq!(typo.first().map(|m| m.ent_num), Some(3));
        assert!(idx.search("Margaret Thompson", &t).is_empty());
    }

    #[test]
    fn short_aliases_can_only_cause_review() {
        let hits = index().search("BNC", &NameThresholds::default());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].strength, MatchStrength::Weak);
        assert_eq!(hits[0].primary_name, "BANCO NACIONAL DE CUBA");
    }

    #[test]
    fn indexed_and_naive_search_agree_when_first_letters_are_right() {
        let idx = index();
        let t = NameThresholds::default();
        for q in [
            "Zawahiri Ayman",
            "Banco Nacional de Cuba",
            "Gonzalez Jose",
            "nobody",
        ] {
            assert_eq!(idx.search(q, &t), idx.naive_search(q, &t), "{q}");
        }
    }

    #[test]
    fn one_word_sdn_names_do_not_match_inside_longer_names() {
        let csv = "9,\"PATRICIA\",\"vessel\",\"IRAN\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n";
        let idx = NameIndex::build(
            &SdnList::parse(SdnInput {
                sdn_csv: csv,
                aliases: None,
            })
            .unwrap(),
        );
        let t = NameThresholds::default();
        assert!(idx.search("Patricia Smith", &t).is_empty());
        assert_eq!(idx.search("Patricia", &t).len(), 1);
    }

    #[test]
    fn scores_are_basis_points() {
        assert_eq!(Score::from_similarity(1.0), Score::MAX);
        assert_eq!(Score::from_similarity(0.95004), Score(9_500));
        assert_eq!(Score::from_similarity(f64::NAN.max(0.0)), Score(0));
    }
}
