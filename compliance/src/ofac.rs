//! OFAC's legacy SDN CSV files (`sdn.csv`, `alt.csv`) and the `data/ofac/SOURCE` manifest that
//! says which files to load. Parsing only: the gateway reads the files and hands us the text.

use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::identifiers::ListedIdentifiers;
use crate::names::normalize;
use crate::ComplianceError;

/// `data/ofac/SOURCE`, written by `tools/refresh-ofac.sh`: which files to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfacManifest {
    pub addresses_commit: String,
    /// Relative to `data/ofac/`.
    pub sdn: String,
    /// `alt.csv` and the `sdn.csv` of the same download, when aliases are shipped.
    pub aliases: Option<(String, String)>,
    /// When `rialto compliance refresh` downloaded the files (Unix milliseconds): what the
    /// lists' age is measured from. `None` for folders written by hand or by the repository's
    /// script, whose age is therefore unknown.
    pub fetched_at_ms: Option<i64>,
}

impl OfacManifest {
    pub fn parse(text: &str) -> Result<Self, ComplianceError> {
        let mut values: HashMap<&str, &str> = HashMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or(ComplianceError::MalformedManifest {
                    reason: format!("expected key=value, got {line:?}"),
                })?;
            values.insert(key.trim(), value.trim());
        }
        let required = |key: &str| {
            values
                .get(key)
                .map(|v| (*v).to_owned())
                .ok_or(ComplianceError::MalformedManifest {
                    reason: format!("missing {key}"),
                })
        };
        let aliases = match (values.get("aliases"), values.get("aliases_sdn")) {
            (Some(alt), Some(sdn)) => Some(((*alt).to_owned(), (*sdn).to_owned())),
            (None, None) => None,
            _ => {
                return Err(ComplianceError::MalformedManifest {
                    reason: "aliases and aliases_sdn go together".into(),
                })
            }
        };
        let fetched_at_ms = match values.get("fetched_at_ms") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| ComplianceError::MalformedManifest {
                reason: format!("fetched_at_ms must be Unix milliseconds, got {v:?}"),
            })?),
        };
        Ok(Self {
            addresses_commit: required("addresses_commit")?,
            sdn: required("sdn")?,
            aliases,
            fetched_at_ms,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SdnType {
    Individual,
    Entity,
    Vessel,
    Aircraft,
}

/// Where a screened name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    Primary,
    /// alt.csv: `aka`, `fka` (formerly) or `nka` (now known as).
    Aka,
    Fka,
    Nka,
    /// `a.k.a. '…'` inside the Remarks column.
    RemarksAka,
}

/// One SDN entry and every name it is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdnEntry {
    pub ent_num: u32,
    pub name: String,
    pub sdn_type: SdnType,
    pub programs: Vec<String>,
    pub aliases: Vec<(NameSource, String)>,
    /// Dates of birth, nationalities and ID numbers from Remarks: what confirms a name match.
    pub identifiers: ListedIdentifiers,
}

/// The SDN texts to load: the primary `sdn.csv` and optionally an older alias trio.
#[derive(Debug, Clone, Copy)]
pub struct SdnInput<'a> {
    pub sdn_csv: &'a str,
    /// `(alt.csv, sdn.csv of the same download)`.
    pub aliases: Option<(&'a str, &'a str)>,
}

/// How the alias join went; printed by operators after a refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AliasJoinStats {
    pub attached: usize,
    /// The ent_num now names a different party (OFAC re-used the number).
    pub dropped_renamed: usize,
    /// The ent_num is no longer listed.
    pub dropped_delisted: usize,
}

/// The parsed SDN list.
#[derive(Debug, Clone)]
pub struct SdnList {
    pub entries: Vec<SdnEntry>,
    pub alias_stats: AliasJoinStats,
    version: String,
}

impl SdnList {
    pub fn parse(input: SdnInput<'_>) -> Result<Self, ComplianceError> {
        let mut hasher = Sha256::new();
        hasher.update(input.sdn_csv.as_bytes());
        let mut entries = parse_sdn(input.sdn_csv, "sdn.csv")?;
        let mut alias_stats = AliasJoinStats::default();
        if let Some((alt_csv, old_sdn_csv)) = input.aliases {
            hasher.update([0]);
            hasher.update(alt_csv.as_bytes());
            hasher.update([0]);
            hasher.update(old_sdn_csv.as_bytes());
            let old = parse_sdn(old_sdn_csv, "alias sdn.csv")?;
            alias_stats = join_aliases(&mut entries, &old, alt_csv)?;
        }
        let digest = hex::encode(hasher.finalize());
        Ok(Self {
            entries,
            alias_stats,
            version: format!("ofac-sdn:{}", &digest[..12]),
        })
    }

    /// `ofac-sdn:<sha256 of the inputs, 12 hex>`; recorded on every decision.
    pub fn version(&self) -> &str {
        &self.version
    }
}

fn parse_sdn(text: &str, file: &str) -> Result<Vec<SdnEntry>, ComplianceError> {
    let mut entries = Vec::new();
    for (record, fields) in parse_csv(text, file)?.into_iter().enumerate() {
        let bad = |reason: &str| ComplianceError::MalformedCsv {
            file: file.to_owned(),
            record: record + 1,
            reason: reason.to_owned(),
        };
        if fields.len() != 12 {
            return Err(bad("expected 12 columns"));
        }
        let ent_num = fields[0].trim().parse().map_err(|_| bad("ent_num"))?;
        let sdn_type = match value(&fields[2]) {
            None => SdnType::Entity,
            Some("individual") => SdnType::Individual,
            Some("vessel") => SdnType::Vessel,
            Some("aircraft") => SdnType::Aircraft,
            Some(_) => return Err(bad("unknown SDN_Type")),
        };
        let name = value(&fields[1]).ok_or_else(|| bad("empty SDN_Name"))?;
        let programs = value(&fields[3])
            .map(|p| p.split("] [").map(str::to_owned).collect())
            .unwrap_or_default();
        let identifiers = value(&fields[11])
            .map(ListedIdentifiers::from_remarks)
            .unwrap_or_default();
        let aliases = value(&fields[11])
            .map(remarks_akas)
            .unwrap_or_default()
            .into_iter()
            .map(|a| (NameSource::RemarksAka, a))
            .collect();
        entries.push(SdnEntry {
            ent_num,
            name: name.to_owned(),
            sdn_type,
            programs,
            aliases,
            identifiers,
        });
    }
    Ok(entries)
}

/// Attaches alt.csv aliases to the entries whose ent_num still names the same party. OFAC
/// re-uses ent_nums, so "same party" means the old primary name equals the new one or shares a
/// name word of 4+ letters with it (spelling updates like CHIWENGA, Constantine → Constantino).
fn join_aliases(
    entries: &mut [SdnEntry],
    old: &[SdnEntry],
    alt_csv: &str,
) -> Result<AliasJoinStats, ComplianceError> {
    let old_names: HashMap<u32, &str> = old.iter().map(|e| (e.ent_num, e.name.as_str())).collect();
    let position: HashMap<u32, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.ent_num, i))
        .collect();
    let mut stats = AliasJoinStats::default();
    for (record, fields) in parse_csv(alt_csv, "alt.csv")?.into_iter().enumerate() {
        let bad = |reason: &str| ComplianceError::MalformedCsv {
            file: "alt.csv".into(),
            record: record + 1,
            reason: reason.to_owned(),
        };
        if fields.len() != 5 {
            return Err(bad("expected 5 columns"));
        }
        let ent_num: u32 = fields[0].trim().parse().map_err(|_| bad("ent_num"))?;
        let source = match value(&fields[2]) {
            Some("aka") => NameSource::Aka,
            Some("fka") => NameSource::Fka,
            Some("nka") => NameSource::Nka,
            _ => return Err(bad("unknown alt_type")),
        };
        let Some(alias) = value(&fields[3]) else {
            continue;
        };
        let Some(&index) = position.get(&ent_num) else {
            stats.dropped_delisted += 1;
            continue;
        };
        let entry = &mut entries[index];
        let same_party = old_names
            .get(&ent_num)
            .is_some_and(|old_name| same_party(old_name, &entry.name));
        if !same_party {
            stats.dropped_renamed += 1;
            continue;
        }
        if !entry.aliases.iter().any(|(_, a)| a == alias) {
            entry.aliases.push((source, alias.to_owned()));
        }
        stats.attached += 1;
    }
    Ok(stats)
}

fn same_party(old_name: &str, new_name: &str) -> bool {
    if old_name == new_name {
        return true;
    }
    let old = normalize(old_name);
    let new = normalize(new_name);
    old.tokens
        .iter()
        .any(|t| t.chars().count() >= 4 && new.tokens.contains(t))
}

/// `-0-` (often `-0- `) is OFAC's empty value.
fn value(field: &str) -> Option<&str> {
    let trimmed = field.trim();
    (!trimmed.is_empty() && trimmed != "-0-").then_some(trimmed)
}

/// Pulls `a.k.a. 'NAME'` out of Remarks. A quote closes the alias only when followed by `;`,
/// `.`, `,`, `)` or the end, so names like `O'NEIL` survive; a truncated final alias (Remarks
/// are cut at ~1,100 characters) has no closing quote and is dropped rather than guessed.
fn remarks_akas(remarks: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = remarks;
    while let Some(start) = rest.find("a.k.a. '") {
        let after = &rest[start + "a.k.a. '".len()..];
        let close = after.char_indices().find(|&(i, c)| {
            c == '\''
                && matches!(
                    after[i + 1..].chars().next(),
                    None | Some(';' | '.' | ',' | ')')
                )
        });
        let Some((end, _)) = close else { break };
        let alias = after[..end].trim();
        if !alias.is_empty() {
            out.push(alias.to_owned());
        }
        rest = &after[end..];
    }
    out
}

/// RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines; CRLF or LF;
/// OFAC's trailing DOS EOF byte (0x1A) is skipped. No crate: this is all OFAC's files need.
fn parse_csv(text: &str, file: &str) -> Result<Vec<Vec<String>>, ComplianceError> {
    let text = text.trim_end_matches(['\u{1a}', '\r', '\n']);
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => in_quotes = false,
            (true, c) => field.push(c),
            (false, '"') => in_quotes = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if in_quotes {
        return Err(ComplianceError::MalformedCsv {
            file: file.to_owned(),
            record: records.len() + 1,
            reason: "unterminated quoted field".into(),
        });
    }
    if !text.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDN_2024: &str = "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\
306,\"BANCO NACIONAL DE CUBA\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"a.k.a. 'BNC'.\"\r\n\
2677,\"AL-ZOMOR, Abboud\",\"individual\",\"SDGT] [IRAQ2\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"a.k.a. 'O'NEIL, Abe'; a.k.a. 'TRUNC\"\r\n\u{1a}";
    const SDN_2022: &str =
        "36,AEROCARIBBEAN AIRLINES,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n\
2677,HAMER AND NAIL CONSTRUCTION LIMITED,-0- ,SDGT,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n";
    const ALT_2022: &str =
        "36,12,aka,AERO-CARIBBEAN,-0- \n2677,99,aka,HAMER AND NAIL,-0- \n5,1,aka,GONE,-0- \n";

    #[test]
    fn both_quoting_styles_and_the_dos_eof_byte_parse() {
        let rows = parse_csv("a,\"b, c\",\"d \"\"q\"\"\"\r\n1,2,3\n\u{1a}", "t").unwrap();
        assert_eq!(
            rows,
            vec![vec!["a", "b, c", "d \"q\""], vec!["1", "2", "3"]]
        );
        assert!(parse_csv("a,\"open", "t").is_err());
    }

    #[test]
    fn sdn_rows_become_entries_with_types_programs_and_remarks_aliases() {
        let list = SdnList::parse(SdnInput {
            sdn_csv: SDN_2024,
            aliases: None,
        })
        .unwrap();
        assert_eq!(list.entries.len(), 3);
        let cuba = &list.entries[1];
        assert_eq!(cuba.sdn_type, SdnType::Entity);
        assert_eq!(
            cuba.aliases,
            vec![(NameSource::RemarksAka, "BNC".to_owned())]
        );
        let person = &list.entries[2];
        assert_eq!(person.sdn_type, SdnType::Individual);
        assert_eq!(person.programs, vec!["SDGT", "IRAQ2"]);
        // The apostrophe inside O'NEIL does not end the alias; the truncated one is dropped.
        assert_eq!(
            person.aliases,
            vec![(NameSource::RemarksAka, "O'NEIL, Abe".to_owned())]
        );
    }

    #[test]
    fn aliases_join_only_onto_the_same_party_when_ent_nums_are_reused() {
        let list = SdnList::parse(SdnInput {
            sdn_csv: SDN_2024,
            aliases: Some((ALT_2022, SDN_2022)),
        })
        .unwrap();
        assert_eq!(
            list.alias_stats,
            AliasJoinStats {
                attached: 1,
                dropped_renamed: 1,
                dropped_delisted: 1
            }
        );
        assert!(list.entries[0]
            .aliases
            .contains(&(NameSource::Aka, "AERO-CARIBBEAN".into())));
        assert!(!list.entries[2]
            .aliases
            .iter()
            .any(|(_, a)| a.contains("HAMER")));
    }

    #[test]
    fn the_manifest_names_files_and_refuses_half_an_alias_pair() {
        let m = OfacManifest::parse(
            "# c\naddresses_commit=abc\nsdn=sdn/2024-05-03/sdn.csv\naliases=a.csv\naliases_sdn=s.csv\n",
        )
        .unwrap();
        assert_eq!(m.aliases, Some(("a.csv".into(), "s.csv".into())));
        assert_eq!(m.fetched_at_ms, None);
        let fetched =
            OfacManifest::parse("addresses_commit=a\nsdn=x\nfetched_at_ms=1700000000000\n");
        assert_eq!(fetched.unwrap().fetched_at_ms, Some(1_700_000_000_000));
        assert!(
            OfacManifest::parse("addresses_commit=a\nsdn=x\nfetched_at_ms=yesterday\n").is_err()
        );
        assert!(OfacManifest::parse("addresses_commit=abc\nsdn=x\naliases=a.csv\n").is_err());
        assert!(OfacManifest::parse("sdn=x\n").is_err());
    }
}
