//! A tamper-evident audit trail: each record carries the SHA-256 of the previous record's
//! canonical bytes, so editing, deleting or reordering any record breaks the chain at a
//! nameable place. The store persists records; this module only builds and verifies them.
//!
//! Limits, by design: a chain alone cannot reveal that its *newest* records were cut off. Keep
//! the [`ChainHead`] somewhere else too (a metrics gauge, a daily signed export) and check
//! with [`verify_chain_with_head`]. Appends must be serialised (one writer, or a lock on the
//! head row), or two records will claim the same predecessor.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decision::{Decision, Outcome};

/// Domain tag, so these hashes can never collide with another protocol's.
const DOMAIN: &[u8] = b"rialto-audit-v1";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What to record, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The record's own id, e.g. the compliance case id (`cc_…`).
    pub id: String,
    pub at_ms: u64,
    /// `screening`, `review_release`, `list_refresh`…
    pub kind: String,
    /// Who or what: payment intent id, operator, list name.
    pub subject: String,
    pub outcome: String,
    /// JSON with the internal detail (findings, evidence, list versions).
    pub detail: String,
}

impl AuditEntry {
    /// The entry recording a screening decision, with all internal evidence.
    pub fn from_decision(decision: &Decision, subject: &str) -> Self {
        let outcome = match decision.outcome {
            Outcome::Clear => "clear",
            Outcome::Review => "review",
            Outcome::Block => "block",
        };
        Self {
            id: decision.case_id.to_string(),
            at_ms: decision.decided_at_ms,
            kind: "screening".into(),
            subject: subject.to_owned(),
            outcome: outcome.into(),
            // Serialising plain structs and Vecs cannot fail; an empty detail would still be
            // chained and visible, never silently skipped.
            detail: serde_json::to_string(decision).unwrap_or_default(),
        }
    }
}

/// A chained record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 0 for the first record, then +1: a gap or swap is visible without hashing.
    pub seq: u64,
    pub entry: AuditEntry,
    /// Hex SHA-256 of the previous record's canonical bytes (zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this record's canonical bytes (which include `prev_hash`).
    pub hash: String,
}

impl AuditRecord {
    /// The exact bytes hashed: domain tag, seq, every field length-prefixed, prev hash. Length
    /// prefixes keep `("ab","c")` and `("a","bc")` apart, which plain concatenation would not.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let e = &self.entry;
        let mut out = Vec::with_capacity(128 + e.detail.len());
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&e.at_ms.to_be_bytes());
        for field in [
            &e.id,
            &e.kind,
            &e.subject,
            &e.outcome,
            &e.detail,
            &self.prev_hash,
        ] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }

    fn computed_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }
}

/// Where the chain ends: the next sequence number and the newest record's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub next_seq: u64,
    pub hash: String,
}

/// Appends records. Resume after a restart from the newest stored record.
#[derive(Debug, Clone)]
pub struct AuditChain {
    head: ChainHead,
}

impl Default for AuditChain {
    fn default() -> Self {
        Self::genesis()
    }
}

impl AuditChain {
    pub fn genesis() -> Self {
        Self {
            head: ChainHead {
                next_seq: 0,
                hash: GENESIS.into(),
            },
        }
    }

    /// Continues after `last` (which the caller should have verified).
    pub fn resume(last: &AuditRecord) -> Self {
        Self {
            head: ChainHead {
                next_seq: last.seq + 1,
                hash: last.hash.clone(),
            },
        }
    }

    pub fn append(&mut self, entry: AuditEntry) -> AuditRecord {
        let mut record = AuditRecord {
            seq: self.head.next_seq,
            entry,
            prev_hash: self.head.hash.clone(),
            hash: String::new(),
        };
        record.hash = record.computed_hash();
        self.head = ChainHead {
            next_seq: record.seq + 1,
            hash: record.hash.clone(),
        };
        record
    }

    pub fn head(&self) -> &ChainHead {
        &self.head
    }
}

/// The first record that does not fit the chain, by position and by its claimed id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenAt {
    pub index: usize,
    pub id: String,
}

/// Checks a whole chain from its first record: sequence, links and hashes. Names the first
/// record that does not fit (the tampered one, or the one after a deletion or swap).
pub fn verify_chain(records: &[AuditRecord]) -> Result<(), BrokenAt> {
    let mut expected_prev = GENESIS.to_owned();
    for (index, record) in records.iter().enumerate() {
        let fits = record.seq == index as u64
            && record.prev_hash == expected_prev
            && record.hash == record.computed_hash();
        if !fits {
            return Err(BrokenAt {
                index,
                id: record.entry.id.clone(),
            });
        }
        expected_prev = record.hash.clone();
    }
    Ok(())
}

/// [`verify_chain`], and the chain must end at `head` (catches deleted newest records).
/// A truncation is reported at `index == records.len()` with an empty id.
pub fn verify_chain_with_head(records: &[AuditRecord], head: &ChainHead) -> Result<(), BrokenAt> {
    verify_chain(records)?;
    let end = records.last().map(|r| r.hash.as_str()).unwrap_or(GENESIS);
    if records.len() as u64 != head.next_seq || end != head.hash {
        return Err(BrokenAt {
            index: records.len(),
            id: String::new(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> (Vec<AuditRecord>, ChainHead) {
        let mut c = AuditChain::genesis();
        let records = (0..n)
            .map(|i| {
                c.append(AuditEntry {
                    id: format!("cc_{i}"),
                    at_ms: 1_700_000_000_000 + i as u64,
                    kind: "screening".into(),
                    subject: format!("pi_{i}"),
                    outcome: if i % 2 == 0 { "clear" } else { "review" }.into(),
                    detail: format!("{{\"n\":{i}}}"),
                })
            })
            .collect();
        (records, c.head().clone())
    }

    /// Every way of editing one field of one record.
    type Tampering = (&'static str, fn(&mut AuditRecord));

    fn tamperings() -> Vec<Tampering> {
        vec![
            ("seq", |r| r.seq += 7),
            ("id", |r| r.entry.id.push('x')),
            ("at_ms", |r| r.entry.at_ms += 1),
            ("kind", |r| r.entry.kind = "other".into()),
            ("subject", |r| r.entry.subject.push('x')),
            ("outcome", |r| r.entry.outcome = "clear_ok".into()),
            ("detail", |r| r.entry.detail.push(' ')),
            ("prev_hash", |r| r.prev_hash = GENESIS.replace('0', "1")),
            ("hash", |r| r.hash = GENESIS.into()),
        ]
    }

    #[test]
    fn an_untouched_chain_verifies_and_resumes() {
        let (mut records, head) = chain(5);
        assert_eq!(verify_chain_with_head(&records, &head), Ok(()));
        let mut resumed = AuditChain::resume(records.last().unwrap());
        records.push(resumed.append(AuditEntry {
            id: "cc_5".into(),
            ..records[0].entry.clone()
        }));
        assert_eq!(verify_chain_with_head(&records, resumed.head()), Ok(()));
        assert_eq!(verify_chain(&[]), Ok(()));
    }

    #[test]
    fn tampering_with_any_field_of_any_record_is_detected_at_that_record() {
        let (records, _) = chain(4);
        for index in 0..records.len() {
            for (field, tamper) in tamperings() {
                let mut copy = records.clone();
                tamper(&mut copy[index]);
                let broken = verify_chain(&copy).unwrap_err();
                assert_eq!(broken.index, index, "{field} of record {index}");
                assert_eq!(broken.id, copy[index].entry.id);
            }
        }
    }

    #[test]
    fn rehashing_a_tampered_record_moves_the_break_to_its_successor() {
        let (mut records, head) = chain(4);
        records[1].entry.outcome = "clear".into();
        records[1].hash = records[1].computed_hash();
        assert_eq!(
            verify_chain(&records),
            Err(BrokenAt {
                index: 2,
                id: "cc_2".into()
            })
        );
        // Rehashing the newest record instead is only caught by the head.
        let (mut records2, _) = chain(4);
        records2[3].entry.outcome = "clear".into();
        records2[3].hash = records2[3].computed_hash();
        assert_eq!(verify_chain(&records2), Ok(()));
        assert!(verify_chain_with_head(&records2, &head).is_err());
    }

    #[test]
    fn deleting_any_record_is_detected() {
        let (records, head) = chain(5);
        for removed in 0..records.len() {
            let mut copy = records.clone();
            copy.remove(removed);
            let result = verify_chain_with_head(&copy, &head);
            assert_eq!(
                result.map_err(|b| b.index),
                Err(removed),
                "removed {removed}"
            );
        }
    }

    #[test]
    fn reordering_records_is_detected_at_the_first_moved_one() {
        let (records, _) = chain(5);
        for i in 0..records.len() - 1 {
            let mut copy = records.clone();
            copy.swap(i, i + 1);
            assert_eq!(verify_chain(&copy).map_err(|b| b.index), Err(i), "swap {i}");
        }
        let mut reversed = records.clone();
        reversed.reverse();
        assert_eq!(
            verify_chain(&reversed).map_err(|b| b.id),
            Err("cc_4".into())
        );
    }

    #[test]
    fn length_prefixes_keep_shifted_field_boundaries_apart() {
        let (records, _) = chain(1);
        let mut shifted = records[0].clone();
        shifted.entry.kind = "screeningp".into();
        shifted.entry.subject = "i_0".into();
        assert_ne!(shifted.computed_hash(), records[0].hash);
    }
}
