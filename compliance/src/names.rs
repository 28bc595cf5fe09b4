//! Name screening against the SDN list: normalisation, a blocked index, and Jaro-Winkler
//! scoring on token-sorted names.
//!
//! Normalisation: NFKD with combining marks stripped (José → jose), a few letters NFKD leaves
//! alone folded (ß → ss, ø → o), apostrophes dropped (O'Neil → oneil), other punctuation split,
//! lower-cased, common legal forms removed (LTD, LLC…), tokens sorted (word order ignored).
//!
//! Index: each name is filed under the first two letters of each of its words of 3+ letters.
//! A query is scored only against names sharing at least one such key, so a typo costs recall
//! only when it hits the first two letters of *every* long word; `naive_search` scores every
//! name and is kept to measure exactly that.

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
    /// `tokens` joined by single spaces: the string Jaro-Winkler compares.
    pub key: String,
}

/// Legal-form words that say nothing about who a party is.
const NOISE_WORDS: [&str; 22] = [
    "co", "company", "corp", "corporation", "gmbh", "inc", "incorporated", "jsc", "limited",
    "llc", "llp", "ltd", "ojsc", "pjsc", "plc", "sa", "sarl", "srl", "the", "bv", "ag", "cjsc",
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
        .filter(|t| !NOISE_WORDS.contains(&t.as_str()))
        .cloned()
        .collect();
    // "THE COMPANY LTD" must not normalise to nothing.
    if !meaningful.is_empty() {
        tokens = meaningful;
    }
    let key = tokens.join(" ");
    NormalizedName { tokens, key }
}

/// Letters in a normalised name (spaces excluded).
fn letters(name: &NormalizedName) -> usize {
    name.tokens.iter().map(|t| t.chars().count()).sum()
}

/// Token-sort Jaro-Winkler, plus a token-set variant when at least two words are shared exactly:
/// "Ayman al-Zawahiri" against "AL ZAWAHIRI, Dr. Ayman" compares the shared words first, so an
/// omitted title or middle name costs less than it would in a plain token-sort comparison.
fn similarity(query: &NormalizedName, candidate: &NormalizedName) -> Score {
    let sorted = Score::from_similarity(strsim::jaro_winkler(&query.key, &candidate.key));
    let common: Vec<&str> = query
        .tokens
        .iter()
        .filter(|t| candidate.tokens.contains(t))
        .map(String::as_str)
        .collect();
    if common.len() < 2 || sorted == Score::MAX {
        return sorted;
    }
    let with_rest = |tokens: &[String]| {
        let mut words = common.clone();
        words.extend(tokens.iter().map(String::as_str).filter(|t| !common.contains(t)));
        words.join(" ")
    };
    let set = Score::from_similarity(strsim::jaro_winkler(
        &with_rest(&query.tokens),
        &with_rest(&candidate.tokens),
    ));
    sorted.max(set)
}

/// Jaro ≤ (2 + short/long) / 3 because at most `short` characters can match, and Winkler adds
/// at most 0.4 × (1 − Jaro); so a pair whose lengths differ too much cannot reach `threshold`
/// and is skipped without scoring. Integer form of `0.8 + 0.2 × short/long ≥ threshold`.
fn may_reach(len_a: usize, len_b: usize, threshold: Score) -> bool {
    let (short, long) = (len_a.min(len_b) as u64, len_a.max(len_b) as u64);
    let needed = (u64::from(threshold.0) * 5).saturating_sub(40_000);
    short * 10_000 >= long * needed
}

/// One indexed name (primary or alias) of one entry.
#[derive(Debug, Clone)]
struct IndexedName {
    entry: u32,
    source: NameSource,
    display: String,
    normalized: NormalizedName,
}

/// The SDN names, indexed for fast fuzzy lookup.
#[derive(Debug, Clone)]
pub struct NameIndex {
    names: Vec<IndexedName>,
    entries: Vec<(u32, String, SdnType, Vec<String>)>,
    buckets: HashMap<[char; 2], Vec<u32>>,
    version: String,
}

fn bucket_keys(name: &NormalizedName) -> Vec<[char; 2]> {
    let long: Vec<&String> = name.tokens.iter().filter(|t| t.chars().count() >= 3).collect();
    // A name of only short words ("AL BO") is filed under those rather than nowhere.
    let words = if long.is_empty() {
        name.tokens.iter().collect()
    } else {
        long
    };
    let mut keys: Vec<[char; 2]> = words
        .into_iter()
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

impl NameIndex {
    pub fn build(list: &SdnList) -> Self {
        let mut names = Vec::new();
        let mut entries = Vec::with_capacity(list.entries.len());
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
                names.push(IndexedName {
                    entry: index,
                    source,
                    display: display.clone(),
                    normalized,
                });
            }
        }
        let mut buckets: HashMap<[char; 2], Vec<u32>> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            for key in bucket_keys(&name.normalized) {
                buckets.entry(key).or_default().push(i as u32);
            }
        }
        Self {
            names,
            entries,
            buckets,
            version: list.version().to_owned(),
        }
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
        let normalized = normalize(query);
        let mut candidates: Vec<u32> = bucket_keys(&normalized)
            .iter()
            .filter_map(|k| self.buckets.get(k))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        self.score(&normalized, candidates.into_iter(), thresholds)
    }

    /// Same contract as [`NameIndex::search`], scoring every name: the benchmark baseline.
    pub fn naive_search(&self, query: &str, thresholds: &NameThresholds) -> Vec<NameMatch> {
        let normalized = normalize(query);
        self.score(&normalized, 0..self.names.len() as u32, thresholds)
    }

    fn score(
        &self,
        query: &NormalizedName,
        candidates: impl Iterator<Item = u32>,
        thresholds: &NameThresholds,
    ) -> Vec<NameMatch> {
        if query.tokens.is_empty() {
            return Vec::new();
        }
        let mut best: HashMap<u32, (Score, u32)> = HashMap::new();
        let query_len = query.key.chars().count();
        for i in candidates {
            let name = &self.names[i as usize];
            // A one-word SDN name (the vessel "PATRICIA") inside a longer query is not evidence:
            // Jaro-Winkler's prefix bonus would otherwise score "Patricia Smith" at 0.91.
            if name.normalized.tokens.len() == 1 && query.tokens.len() > 1 {
                continue;
            }
            if !may_reach(query_len, name.normalized.key.chars().count(), thresholds.review) {
                continue;
            }
            let score = similarity(query, &name.normalized);
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
            .map(|(score, i)| self.to_match(query, i, score, thresholds))
            .collect();
        matches.sort_by(|a, b| b.score.cmp(&a.score).then(a.ent_num.cmp(&b.ent_num)));
        matches
    }

    fn to_match(
        &self,
        query: &NormalizedName,
        name_index: u32,
        score: Score,
        thresholds: &NameThresholds,
    ) -> NameMatch {
        let name = &self.names[name_index as usize];
        let (ent_num, primary, sdn_type, programs) = &self.entries[name.entry as usize];
        let distinctive = letters(&name.normalized).min(letters(query)) >= thresholds.min_block_letters;
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
            .map(|n| {
                std::mem::size_of::<IndexedName>()
                    + n.display.capacity()
                    + n.normalized.key.capacity()
                    + n.normalized.tokens.iter().map(|t| t.capacity() + 24).sum::<usize>()
            })
            .sum();
        let entries: usize = self
            .entries
            .iter()
            .map(|e| 64 + e.1.capacity() + e.3.iter().map(|p| p.capacity() + 24).sum::<usize>())
            .sum();
        let buckets: usize = self.buckets.values().map(|v| 40 + v.capacity() * 4).sum();
        names + entries + buckets
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
        NameIndex::build(&SdnList::parse(SdnInput { sdn_csv: SDN, aliases: None }).unwrap())
    }

    #[test]
    fn normalisation_ignores_case_accents_punctuation_order_and_legal_forms() {
        assert_eq!(normalize("José-María  GONZÁLEZ").key, normalize("gonzalez, jose maria").key);
        assert_eq!(normalize("O'Neil Straße").key, "oneil strasse");
        assert_eq!(normalize("Acme Trading Co., Ltd.").key, "acme trading");
        assert_eq!(normalize("The Company Ltd").key, "company ltd the");
        assert!(normalize("  ,. ").tokens.is_empty());
    }

    #[test]
    fn exact_reordered_and_accented_names_match_strongly() {
        let idx = index();
        let t = NameThresholds::default();
        for query in ["Ayman al-Zawahiri Dr", "José María González Pérez", "BANCO NACIONAL DE CUBA"] {
            let hits = idx.search(query, &t);
            assert_eq!(hits.first().map(|m| m.strength), Some(MatchStrength::Strong), "{query}");
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
        for q in ["Zawahiri Ayman", "Banco Nacional de Cuba", "Gonzalez Jose", "nobody"] {
            assert_eq!(idx.search(q, &t), idx.naive_search(q, &t), "{q}");
        }
    }

    #[test]
    fn the_length_bound_never_skips_a_pair_that_could_reach_the_threshold() {
        let t = Score(9_000);
        for (a, b) in [("ab", "abcd"), ("abcdefghij", "abcde"), ("abcdefghij", "abcd"), ("x", "xxxxxxxxxxxxxxxxxxxx")] {
            let actual = Score::from_similarity(strsim::jaro_winkler(a, b));
            if actual >= t {
                assert!(may_reach(a.len(), b.len(), t), "{a} {b}");
            }
        }
        assert!(may_reach(10, 5, t) && !may_reach(10, 4, t));
    }

    #[test]
    fn one_word_sdn_names_do_not_match_inside_longer_names() {
        let csv = "9,\"PATRICIA\",\"vessel\",\"IRAN\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n";
        let idx = NameIndex::build(&SdnList::parse(SdnInput { sdn_csv: csv, aliases: None }).unwrap());
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
