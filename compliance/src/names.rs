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
//! SDN word (`similarity::token_similarity`: Jaro-Winkler, but zero beyond a typo's few edits,
//! so "john" is not "johnson"), and the score is the weighted share of the names that pairs
//! up (`similarity::combine`). A wrong given name now costs its full weight, and a word weighs
//! more the rarer it is among SDN names ([`word_weight`]), so "International Trading" does not
//! pass for "FY INTERNATIONAL TRADING". Block needs a near-exact match on a distinctive name.
//!
//! Index: each name is filed under the first two letters of each of its words of 3+ letters
//! (but not "and", "for", "bin"…, which would each pull in thousands). A query is scored only
//! against names sharing at least one such key, so a typo costs recall only when it hits the
//! first two letters of *every* long word; `naive_search` scores every name and is kept to
//! measure exactly that. Word similarities are computed at most once per distinct SDN word
//! per query (~25k words for ~31k names), most ruled out by a character-set check.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::identifiers::ListedIdentifiers;
use crate::ofac::{NameSource, SdnList, SdnType};

mod similarity;

use similarity::{allowed_edits, char_mask, combine, log2_sixteenths, token_similarity};

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
    "ag",
    "aktsionernoe",
    "anonim",
    "bv",
    "cjsc",
    "co",
    "company",
    "corp",
    "corporation",
    "fzc",
    "fzco",
    "fze",
    "gmbh",
    "inc",
    "incorporated",
    "joint",
    "jsc",
    "liability",
    "limitada",
    "limited",
    "llc",
    "llp",
    "ltd",
    "ltda",
    "oao",
    "obshchestvo",
    "ogranichennoi",
    "ogranichennoy",
    "ojsc",
    "ooo",
    "otvetstvennostiu",
    "otvetstvennostyu",
    "pao",
    "pjsc",
    "plc",
    "pte",
    "pvt",
    "sa",
    "sarl",
    "sirketi",
    "srl",
    "stock",
    "the",
    "zao",
    "zat",
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
    let meaningful: Vec<String> = tokens.iter().filter(|t| !is_noise(t)).cloned().collect();
    // "THE COMPANY LTD" must not normalise to nothing.
    if !meaningful.is_empty() {
        tokens = meaningful;
    }
    let key = tokens.join(" ");
    NormalizedName { tokens, key }
}

/// A legal-form word, or one of 6+ letters a single typo away from one ("LMIITED",
/// "COMPANYY"): left in, a misspelt form word would count as an unmatched name word.
fn is_noise(word: &str) -> bool {
    if NOISE_WORDS.binary_search(&word).is_ok() {
        return true;
    }
    let len = word.chars().count();
    len >= 6
        && NOISE_WORDS.iter().any(|noise| {
            noise.len() >= 6
                && noise.len().abs_diff(len) <= 1
                && strsim::osa_distance(word, noise) <= 1
        })
}

/// One indexed name (primary or alias) of one entry.
#[derive(Debug, Clone)]
struct IndexedName {
    entry: u32,
    /// Where its vocabulary ids (in sorted token order) are in `NameIndex::words`: one flat
    /// array, so scoring a run of candidates reads memory in order.
    start: u32,
    len: u32,
    letters: u32,
    /// Σ of its words' weights.
    weight: u32,
    source: NameSource,
    display: String,
}

/// A distinct word of the indexed names.
#[derive(Debug, Clone)]
struct Word {
    text: Box<str>,
    letters: u32,
    /// How much the word tells names apart ([`word_weight`]).
    weight: u32,
    /// Which characters occur, one bit each (`similarity::char_mask`).
    chars: u64,
}

/// The SDN names, indexed for fast fuzzy lookup.
#[derive(Debug, Clone)]
pub struct NameIndex {
    names: Vec<IndexedName>,
    words: Vec<u32>,
    /// Every distinct SDN word, and where it is in `vocab`.
    vocab: Vec<Word>,
    ids: HashMap<Box<str>, u32>,
    entries: Vec<(u32, String, SdnType, Vec<String>, ListedIdentifiers)>,
    buckets: HashMap<[char; 2], Vec<u32>>,
    /// [`NameIndex::block_weight`].
    block_weight: u32,
    version: String,
}

/// Common 3-letter words that would each pull thousands of unrelated names into a query's
/// candidates ("SAMIR HERZALLAH AND BROTHERS FOR MONEY EXCHANGE" filed under "an" and "fo").
/// They still count in scoring; a name made only of them is filed under them.
const UNFILED_WORDS: [&str; 9] = [
    "abu", "and", "bin", "del", "der", "des", "for", "ibn", "von",
];

fn bucket_keys<'t>(tokens: impl Iterator<Item = &'t str> + Clone) -> Vec<[char; 2]> {
    let filed = |t: &&str| t.chars().count() >= 3 && !UNFILED_WORDS.contains(t);
    let has_filed = tokens.clone().any(|t| filed(&t));
    // A name of only short or common words ("AL BO") is filed under those rather than nowhere.
    let mut keys: Vec<[char; 2]> = tokens
        .filter(|t| !has_filed || filed(t))
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

/// A word's weight in a name: 1 + log2(indexed names / names containing it), in 16ths, times
/// its letters up to 4. "International trading" are two of the commonest SDN words and say
/// little; "fy" in "FY INTERNATIONAL TRADING" is rare and is most of what that name says.
/// Letters count for 1–3 letter words only, so an initial weighs a quarter of a word.
/// A query word no SDN name contains weighs as much as the rarest SDN word.
fn word_weight(letters: u32, names_with_it: u32, names: u32) -> u32 {
    (16 + log2_sixteenths(names.max(1), names_with_it.max(1))) * letters.min(4)
}

/// A normalised query and its word similarities to the vocabulary, filled in lazily.
struct Query {
    name: NormalizedName,
    lengths: Vec<u64>,
    weights: Vec<u64>,
    masks: Vec<u64>,
    letters: u64,
    weight: u64,
    /// `vocab id × words + query word` → similarity; `UNSET` until computed.
    similarities: Vec<u16>,
    pairs: Vec<(u16, usize, usize)>,
    used: Vec<bool>,
}

const UNSET: u16 = u16::MAX;

/// A candidate's score, and how much of the less covered name pairs up (for Strong).
#[derive(Debug, Clone, Copy)]
struct Scored {
    score: Score,
    both: Score,
}

impl Query {
    fn new(text: &str, index: &NameIndex) -> Self {
        let name = normalize(text);
        let names = index.names.len() as u32;
        let lengths: Vec<u64> = name
            .tokens
            .iter()
            .map(|t| t.chars().count() as u64)
            .collect();
        let weights: Vec<u64> = name
            .tokens
            .iter()
            .zip(&lengths)
            .map(|(t, &len)| match index.ids.get(t.as_str()) {
                Some(&id) => u64::from(index.vocab[id as usize].weight),
                None => u64::from(word_weight(len as u32, 1, names)),
            })
            .collect();
        let masks = name.tokens.iter().map(|t| char_mask(t)).collect();
        let (letters, weight) = (lengths.iter().sum(), weights.iter().sum());
        let similarities = vec![UNSET; index.vocab.len() * name.tokens.len()];
        let (pairs, used) = (Vec::new(), Vec::new());
        Self {
            name,
            lengths,
            weights,
            masks,
            letters,
            weight,
            similarities,
            pairs,
            used,
        }
    }

    /// [`token_similarity`] behind a check that needs no allocation: a typo can make at most
    /// `allowed` distinct characters appear or disappear. Rules out almost every pair.
    fn word_similarity(&self, q: usize, word: &Word) -> u16 {
        let longer = self.lengths[q].max(u64::from(word.letters)) as usize;
        let allowed = allowed_edits(longer) as u32;
        let mask = self.masks[q];
        let (gone, added) = (
            (mask & !word.chars).count_ones(),
            (word.chars & !mask).count_ones(),
        );
        if gone > allowed || added > allowed {
            return 0;
        }
        token_similarity(&self.name.tokens[q], &word.text)
    }

    /// Pairs query words with the candidate's greedily, most similar first, each word at most
    /// once on either side, and scores the result.
    fn score(&mut self, candidate: &IndexedName, ids: &[u32], vocab: &[Word]) -> Scored {
        let words = self.name.tokens.len();
        self.pairs.clear();
        for (c, &id) in ids.iter().enumerate() {
            for q in 0..words {
                let slot = id as usize * words + q;
                if self.similarities[slot] == UNSET {
                    self.similarities[slot] = self.word_similarity(q, &vocab[id as usize]);
                }
                let similarity = self.similarities[slot];
                if similarity > 0 {
                    self.pairs.push((similarity, q, c));
                }
            }
        }
        self.pairs.sort_unstable_by(|a, b| b.cmp(a));
        self.used.clear();
        self.used.resize(words + ids.len(), false);
        let (mut matched_q, mut matched_c) = (0u64, 0u64);
        for &(similarity, q, c) in &self.pairs {
            if self.used[q] || self.used[words + c] {
                continue;
            }
            self.used[q] = true;
            self.used[words + c] = true;
            matched_q += u64::from(similarity) * self.weights[q];
            matched_c += u64::from(similarity) * u64::from(vocab[ids[c] as usize].weight);
        }
        let side_q = (matched_q, self.weight, words);
        let side_c = (matched_c, u64::from(candidate.weight), ids.len());
        let both =
            (matched_q / self.weight.max(1)).min(matched_c / u64::from(candidate.weight.max(1)));
        Scored {
            score: combine(side_q, side_c),
            both: Score(both as u16),
        }
    }
}

impl NameIndex {
    pub fn build(list: &SdnList) -> Self {
        let mut names = Vec::new();
        let mut words = Vec::new();
        let mut vocab: Vec<Word> = Vec::new();
        let mut ids: HashMap<Box<str>, u32> = HashMap::new();
        let mut entries = Vec::with_capacity(list.entries.len());
        for (i, entry) in list.entries.iter().enumerate() {
            let index = i as u32;
            entries.push((
                entry.ent_num,
                entry.name.clone(),
                entry.sdn_type,
                entry.programs.clone(),
                entry.identifiers.clone(),
            ));
            let all = std::iter::once((NameSource::Primary, &entry.name))
                .chain(entry.aliases.iter().map(|(s, a)| (*s, a)));
            for (source, display) in all {
                let normalized = normalize(display);
                if normalized.tokens.is_empty() {
                    continue;
                }
                let (start, mut letters) = (words.len() as u32, 0);
                for t in normalized.tokens {
                    let len = t.chars().count() as u32;
                    letters += len;
                    let id = *ids.entry(t.as_str().into()).or_insert_with(|| {
                        let chars = char_mask(&t);
                        vocab.push(Word {
                            text: t.as_str().into(),
                            letters: len,
                            weight: 0,
                            chars,
                        });
                        (vocab.len() - 1) as u32
                    });
                    words.push(id);
                }
                let len = words.len() as u32 - start;
                let display = display.clone();
                let weight = 0;
                names.push(IndexedName {
                    entry: index,
                    start,
                    len,
                    letters,
                    weight,
                    source,
                    display,
                });
            }
        }
        // Weights need every name's words first: count the names each word is in.
        let mut names_with = vec![0u32; vocab.len()];
        words.iter().for_each(|&id| names_with[id as usize] += 1);
        for (word, &count) in vocab.iter_mut().zip(&names_with) {
            word.weight = word_weight(word.letters, count, names.len() as u32);
        }
        let mut buckets: HashMap<[char; 2], Vec<u32>> = HashMap::new();
        for (i, name) in names.iter_mut().enumerate() {
            let span = &words[name.start as usize..(name.start + name.len) as usize];
            name.weight = span.iter().map(|&id| vocab[id as usize].weight).sum();
            for key in bucket_keys(span.iter().map(|&id| &*vocab[id as usize].text)) {
                buckets.entry(key).or_default().push(i as u32);
            }
        }
        let version = list.version().to_owned();
        let block_weight = Self::block_weight(names.len() as u32);
        Self {
            block_weight,
            names,
            words,
            vocab,
            ids,
            entries,
            buckets,
            version,
        }
    }

    /// The least weight an SDN name needs to Block: that of one word found in at most 5 of
    /// the indexed names. Common names listed as aliases ("MOHAMMED, Ali", "ALI, Hassan") are
    /// what OFAC calls weak a.k.a.s, a flag the legacy CSV lacks: an exact match on one is a
    /// Review for an analyst, not an automatic Block.
    fn block_weight(names: u32) -> u32 {
        word_weight(4, 5, names)
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
        let mut query = Query::new(query, self);
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
        let mut query = Query::new(query, self);
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
        let mut best: HashMap<u32, (Scored, u32)> = HashMap::new();
        for i in candidates {
            let name = &self.names[i as usize];
            // A one-word SDN name (the vessel "PATRICIA") inside a longer query is not evidence.
            if name.len == 1 && query.name.tokens.len() > 1 {
                continue;
            }
            let span = &self.words[name.start as usize..(name.start + name.len) as usize];
            let scored = query.score(name, span, &self.vocab);
            if scored.score < thresholds.review {
                continue;
            }
            let slot = best.entry(name.entry).or_insert((scored, i));
            if (scored.score, scored.both) > (slot.0.score, slot.0.both) {
                *slot = (scored, i);
            }
        }
        let mut matches: Vec<NameMatch> = best
            .into_values()
            .map(|(scored, i)| self.to_match(query.letters, i, scored, thresholds))
            .collect();
        matches.sort_by(|a, b| b.score.cmp(&a.score).then(a.ent_num.cmp(&b.ent_num)));
        matches
    }

    /// Strong needs the block score, both names paired up to the block score (an extra or
    /// missing word can only ever Review), enough letters on both sides, and a distinctive
    /// SDN name ([`NameIndex::block_weight`]).
    fn to_match(
        &self,
        query_letters: u64,
        i: u32,
        scored: Scored,
        t: &NameThresholds,
    ) -> NameMatch {
        let name = &self.names[i as usize];
        let (ent_num, primary, sdn_type, programs, _) = &self.entries[name.entry as usize];
        let distinctive = u64::from(name.letters).min(query_letters) >= t.min_block_letters as u64
            && name.weight >= self.block_weight;
        let strength = if scored.score >= t.block && scored.both >= t.block && distinctive {
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
            score: scored.score,
            strength,
        }
    }

    /// The dates of birth, nationalities and ID numbers the SDN entry of a match lists.
    pub fn identifiers(&self, ent_num: u32) -> Option<&ListedIdentifiers> {
        self.entries.iter().find(|e| e.0 == ent_num).map(|e| &e.4)
    }

    /// Rough heap footprint of the index, for capacity planning and the benchmark.
    pub fn estimated_bytes(&self) -> usize {
        let names: usize = self
            .names
            .iter()
            .map(|n| std::mem::size_of::<IndexedName>() + n.display.capacity())
            .sum();
        let words = self.words.capacity() * 4;
        let word_bytes = |w: &Word| std::mem::size_of::<Word>() + w.text.len();
        // The id map holds a second copy of each word, a u32 and a hash slot.
        let vocab: usize = self.vocab.iter().map(|w| 2 * word_bytes(w) + 8).sum();
        let entries: usize = self
            .entries
            .iter()
            .map(|e| 64 + e.1.capacity() + e.3.iter().map(|p| p.capacity() + 24).sum::<usize>())
            .sum();
        let buckets: usize = self.buckets.values().map(|v| 40 + v.capacity() * 4).sum();
        names + words + vocab + entries + buckets
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
        for (q, found) in [
            ("Zawahiri Ayman", true),
            ("Banco Nacional de Cuba", true),
            ("Gonzalez Perez Jose", true),
            ("nobody", false),
        ] {
            let hits = idx.search(q, &t);
            assert_eq!(hits, idx.naive_search(q, &t), "{q}");
            assert_eq!(!hits.is_empty(), found, "{q}");
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

    fn one_entry(name: &str) -> NameIndex {
        let csv = format!(
            "7,\"{name}\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"
        );
        NameIndex::build(
            &SdnList::parse(SdnInput {
                sdn_csv: &csv,
                aliases: None,
            })
            .unwrap(),
        )
    }

    #[test]
    fn a_shared_word_does_not_make_a_different_person_match() {
        // Each of these scored ≥ 0.90 under whole-name Jaro-Winkler (the first matcher).
        let t = NameThresholds::default();
        for (listed, query) in [
            ("SCHNEIDER, Simon", "Sven Schneider"),
            ("RYAN, John", "Mary Johnson"),
            ("MARTIC, Milan", "Michael Martin"),
            ("MAYER, David", "David Miller"),
            ("AHMED, Ahmed Khalfan", "Ahmed Khan"),
            ("OLSSON, Sven Anders", "Sven Anderson"),
        ] {
            let hits = one_entry(listed).search(query, &t);
            assert!(hits.is_empty(), "{query} matched {listed}: {hits:?}");
        }
    }

    #[test]
    fn short_words_tolerate_one_edit_and_extra_or_missing_words_still_review() {
        let t = NameThresholds::default();
        for (listed, query, want) in [
            ("LI, Cheng Yu", "Lj Cheng Yu", Some(MatchStrength::Weak)),
            (
                "MEHDI, Ali Ghadeer",
                "Li Ghadeer Mehdi",
                Some(MatchStrength::Weak),
            ),
            (
                "GONZALEZ PEREZ, Jose Maria",
                "Jose Maria Gonzalez",
                Some(MatchStrength::Weak),
            ),
            (
                "AL ZAWAHIRI, Ayman",
                "Ayman Mohammed al-Zawahiri",
                Some(MatchStrength::Weak),
            ),
            (
                "NIKITINA, Irina",
                "Irjna Nikitina",
                Some(MatchStrength::Weak),
            ),
            (
                "NIKITINA, Irina",
                "Irina Nikitina",
                Some(MatchStrength::Strong),
            ),
            ("NIKITINA, Irina", "Nikitina", None),
        ] {
            let top = one_entry(listed)
                .search(query, &t)
                .first()
                .map(|m| m.strength);
            assert_eq!(top, want, "{query} against {listed}");
        }
    }

    #[test]
    fn misspelt_legal_forms_are_still_noise_but_near_words_are_not() {
        assert!(
            NOISE_WORDS.windows(2).all(|w| w[0] < w[1]),
            "sorted for binary search"
        );
        assert_eq!(normalize("LMIITED LIABILTY COMPANYY NEIT").key, "neit");
        assert_eq!(normalize("JOINT STOCK COMPANY ARGUS SFK").key, "argus sfk");
        assert_eq!(normalize("Compton Limes").key, "compton limes");
    }

    #[test]
    fn scores_are_basis_points() {
        assert_eq!(Score::from_similarity(1.0), Score::MAX);
        assert_eq!(Score::from_similarity(0.95004), Score(9_500));
        assert_eq!(Score::from_similarity(f64::NAN.max(0.0)), Score(0));
    }
}
