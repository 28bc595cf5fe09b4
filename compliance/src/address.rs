//! Address screening: OFAC's per-asset address lists and merchant/operator custom lists, all
//! keyed by a normalised [`AddressKey`] so a lookup is one hash probe.

use std::collections::{HashMap, HashSet};
use std::fmt;

use rialto_core::id::MerchantId;
use rialto_core::Address;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ComplianceError;

/// An address in the form screening compares. EVM addresses are their 20 bytes, so letter case
/// (lower, upper, EIP-55) never matters; every other format is its text. A *wrong* EIP-55
/// checksum is accepted here on purpose: rejecting it would let a mis-cased sanctioned address
/// pass screening as "malformed" instead of being blocked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressKey {
    Evm([u8; 20]),
    Text(String),
}

impl AddressKey {
    /// Normalises an address as written anywhere (lists, API input, chain data).
    pub fn parse(text: &str) -> Result<Self, ComplianceError> {
        let text = text.trim();
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(ComplianceError::MalformedAddress {
                reason: "empty or contains whitespace".into(),
            });
        }
        // Also 40 bare hex digits: an EVM address pasted without its 0x must not pass as an
        // unlisted text address. No other listed format is 40 hex digits.
        let bare_evm = text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit());
        let hex_part = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
        if let Some(hex_part) = hex_part.or(bare_evm.then_some(text)) {
            let mut bytes = [0u8; 20];
            return match hex::decode_to_slice(hex_part, &mut bytes) {
                Ok(()) => Ok(AddressKey::Evm(bytes)),
                Err(_) => Err(ComplianceError::MalformedAddress {
                    reason: "0x-prefixed but not 40 hex digits".into(),
                }),
            };
        }
        Ok(AddressKey::Text(fold_case_insensitive_encodings(text)))
    }

    pub fn from_address(address: &Address) -> Self {
        match address {
            Address::Evm(bytes) => AddressKey::Evm(*bytes),
            // Solana keys are case-sensitive base58: compare the canonical text.
            Address::Solana(_) => AddressKey::Text(address.to_string()),
        }
    }
}

/// Bech32 (`bc1…`, `ltc1…`) and CashAddr (`bitcoincash:q…`, or without the prefix, as OFAC
/// lists them) are case-insensitive encodings that may legally be written in upper case (QR
/// codes do). Folding them can only add matches: a case-sensitive address that happens to
/// look like one folds on both sides of the comparison.
fn fold_case_insensitive_encodings(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("bitcoincash:") {
        return rest.to_owned();
    }
    if lower.starts_with("bc1") || lower.starts_with("ltc1") || is_bare_cashaddr(&lower) {
        return lower;
    }
    text.to_owned()
}

/// A P2PKH (`q`) or P2SH (`p`) CashAddr payload without its prefix: 42 characters of the
/// bech32 alphabet. (Base58 addresses of the listed coins are 25–35 or 95 characters long.)
fn is_bare_cashaddr(lower: &str) -> bool {
    const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    lower.len() == 42
        && (lower.starts_with('q') || lower.starts_with('p'))
        && lower.chars().all(|c| BECH32.contains(c))
}

impl From<&Address> for AddressKey {
    fn from(value: &Address) -> Self {
        AddressKey::from_address(value)
    }
}

impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressKey::Evm(bytes) => write!(f, "0x{}", hex::encode(bytes)),
            AddressKey::Text(text) => f.write_str(text),
        }
    }
}

impl Serialize for AddressKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AddressKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AddressKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One per-asset list as shipped in `data/ofac/sanctioned_addresses_<ASSET>.txt`.
#[derive(Debug, Clone, Copy)]
pub struct AssetListText<'a> {
    /// The asset part of the file name (`ETH`, `USDT`); recorded as evidence.
    pub asset: &'a str,
    pub text: &'a str,
}

/// OFAC's sanctioned digital-currency addresses, merged across the per-asset lists.
#[derive(Debug, Clone)]
pub struct SanctionsList {
    /// Address → the asset lists that name it (an address can be on ETH and USDT).
    entries: HashMap<AddressKey, Vec<String>>,
    version: String,
}

/// A sanctioned address that matched, with where it was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressHit<'a> {
    pub address: &'a AddressKey,
    pub asset_lists: &'a [String],
}

impl SanctionsList {
    /// Builds the list from the per-asset texts. `source_commit` names the upstream snapshot
    /// (from `data/ofac/SOURCE`) and is folded into [`SanctionsList::version`].
    /// Refuses an empty list or a malformed line rather than screening against less than the
    /// operator shipped.
    pub fn from_lists(
        lists: &[AssetListText<'_>],
        source_commit: &str,
    ) -> Result<Self, ComplianceError> {
        let mut ordered: Vec<&AssetListText<'_>> = lists.iter().collect();
        ordered.sort_by_key(|l| l.asset);
        let mut entries: HashMap<AddressKey, Vec<String>> = HashMap::new();
        let mut hasher = Sha256::new();
        for list in ordered {
            hasher.update(list.asset.as_bytes());
            hasher.update([0]);
            hasher.update(list.text.as_bytes());
            hasher.update([0]);
            let mut count = 0usize;
            for (index, line) in list.text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let key = AddressKey::parse(line).map_err(|e| ComplianceError::MalformedList {
                    list: list.asset.to_owned(),
                    line: index + 1,
                    reason: e.to_string(),
                })?;
                let assets = entries.entry(key).or_default();
                if !assets.iter().any(|a| a == list.asset) {
                    assets.push(list.asset.to_owned());
                }
                count += 1;
            }
            if count == 0 {
                return Err(ComplianceError::EmptyList {
                    list: list.asset.to_owned(),
                });
            }
        }
        let digest = hex::encode(hasher.finalize());
        let commit: String = source_commit.chars().take(12).collect();
        Ok(Self {
            entries,
            version: format!("ofac-addr:{}@{commit}", &digest[..12]),
        })
    }

    /// O(1): one hash probe.
    pub fn check(&self, address: &AddressKey) -> Option<AddressHit<'_>> {
        self.entries
            .get_key_value(address)
            .map(|(address, asset_lists)| AddressHit {
                address,
                asset_lists,
            })
    }

    /// `ofac-addr:<sha256 of the inputs, 12 hex>@<upstream commit>`; recorded on every decision.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Distinct addresses (after normalisation).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Rough heap footprint, for capacity planning and the benchmark.
    pub fn estimated_bytes(&self) -> usize {
        let per_slot = std::mem::size_of::<(AddressKey, Vec<String>)>() + 1;
        let heap: usize = self
            .entries
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    AddressKey::Evm(_) => 0,
                    AddressKey::Text(t) => t.capacity(),
                };
                key + v.iter().map(|s| s.capacity() + 24).sum::<usize>()
            })
            .sum();
        self.entries.capacity() * per_slot + heap
    }
}

/// Who maintains a custom list. Kept in evidence, never shown to merchants for operator lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "owner", content = "merchant", rename_all = "snake_case")]
pub enum ListOwner {
    Operator,
    Merchant(MerchantId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomListKind {
    /// Listed addresses are blocked, like OFAC hits.
    Block,
    /// Listed addresses skip the external screener's Medium/High risk reviews. An allow-list
    /// never overrides OFAC, a block-list, a Severe external rating, a screener outage or any
    /// rule: it only silences a risk score the operator has already investigated.
    Allow,
}

/// A merchant's or the operator's own list.
#[derive(Debug, Clone)]
pub struct CustomList {
    owner: ListOwner,
    kind: CustomListKind,
    entries: HashSet<AddressKey>,
    version: String,
}

impl CustomList {
    pub fn new(
        owner: ListOwner,
        kind: CustomListKind,
        entries: impl IntoIterator<Item = AddressKey>,
    ) -> Self {
        let entries: HashSet<AddressKey> = entries.into_iter().collect();
        let mut sorted: Vec<String> = entries.iter().map(ToString::to_string).collect();
        sorted.sort();
        let mut hasher = Sha256::new();
        for entry in &sorted {
            hasher.update(entry.as_bytes());
            hasher.update([b'\n']);
        }
        let digest = hex::encode(hasher.finalize());
        let who = match owner {
            ListOwner::Operator => "operator".to_owned(),
            ListOwner::Merchant(id) => id.to_string(),
        };
        let kind_name = match kind {
            CustomListKind::Block => "block",
            CustomListKind::Allow => "allow",
        };
        Self {
            owner,
            kind,
            entries,
            version: format!("custom-{kind_name}:{who}:{}", &digest[..12]),
        }
    }

    pub fn contains(&self, address: &AddressKey) -> bool {
        self.entries.contains(address)
    }

    pub fn owner(&self) -> ListOwner {
        self.owner
    }

    pub fn kind(&self) -> CustomListKind {
        self.kind
    }

    pub fn version(&self) -> &str {
        &self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_core::ChainNamespace;

    const CHECKSUMMED: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

    fn list(text: &str) -> SanctionsList {
        SanctionsList::from_lists(
            &[AssetListText { asset: "ETH", text }],
            "f2aee2265956bf28ce71824c2c2c8cab02c2e173",
        )
        .unwrap()
    }

    #[test]
    fn evm_addresses_match_in_any_letter_case_even_with_a_bad_checksum() {
        let l = list("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n");
        let upper = format!("0x{}", CHECKSUMMED[2..].to_ascii_uppercase());
        let bad_checksum = "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        for text in [
            CHECKSUMMED,
            &upper,
            bad_checksum,
            "0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",
        ] {
            assert!(
                l.check(&AddressKey::parse(text).unwrap()).is_some(),
                "{text}"
            );
        }
        let core = Address::parse(CHECKSUMMED, ChainNamespace::Eip155).unwrap();
        assert!(l.check(&AddressKey::from(&core)).is_some());
    }

    #[test]
    fn base58_addresses_are_compared_exactly_and_bech32_case_folded() {
        let l = list(
            "TBHmtWYrsfkvuHYvTSxB1BxyMaFRjMsAqf\nbc1qa5wkgaew2dkv56kfvj49j0av5nml45x9ek9hz6\n",
        );
        assert!(l
            .check(&AddressKey::parse("TBHmtWYrsfkvuHYvTSxB1BxyMaFRjMsAqf").unwrap())
            .is_some());
        assert!(l
            .check(&AddressKey::parse("tbhmtwyrsfkvuhyvtsxb1bxymafrjmsaqf").unwrap())
            .is_none());
        let upper = "BC1QA5WKGAEW2DKV56KFVJ49J0AV5NML45X9EK9HZ6";
        assert!(l.check(&AddressKey::parse(upper).unwrap()).is_some());
    }

    #[test]
    fn cashaddr_matches_with_or_without_prefix_in_any_case_and_bare_evm_hex_is_evm() {
        let l = list("qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq\n");
        for text in [
            "qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq",
            "QPF2CPHC5DKUCLKQUR7LHJ2YUQQ9PK3HMUKLE77VHQ",
            "bitcoincash:qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq",
            "BITCOINCASH:QPF2CPHC5DKUCLKQUR7LHJ2YUQQ9PK3HMUKLE77VHQ",
        ] {
            assert!(
                l.check(&AddressKey::parse(text).unwrap()).is_some(),
                "{text}"
            );
        }
        let bare = AddressKey::parse(&CHECKSUMMED[2..]).unwrap();
        assert_eq!(bare, AddressKey::parse(CHECKSUMMED).unwrap());
        // Base58 keeps its case: a Tron address is not folded.
        assert_eq!(
            AddressKey::parse("TBHmtWYrsfkvuHYvTSxB1BxyMaFRjMsAqf").unwrap(),
            AddressKey::Text("TBHmtWYrsfkvuHYvTSxB1BxyMaFRjMsAqf".into())
        );
    }

    #[test]
    fn malformed_or_empty_lists_are_refused_not_half_loaded() {
        let bad = SanctionsList::from_lists(
            &[AssetListText {
                asset: "ETH",
                text: "0x12\n",
            }],
            "c",
        );
        assert!(matches!(
            bad,
            Err(ComplianceError::MalformedList { line: 1, .. })
        ));
        let empty = SanctionsList::from_lists(
            &[AssetListText {
                asset: "ETH",
                text: "\n",
            }],
            "c",
        );
        assert_eq!(
            empty.unwrap_err(),
            ComplianceError::EmptyList { list: "ETH".into() }
        );
    }

    #[test]
    fn list_version_changes_with_content_and_names_the_commit() {
        let a = list("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n");
        let b = list("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaee\n");
        assert_ne!(a.version(), b.version());
        assert!(a.version().starts_with("ofac-addr:") && a.version().ends_with("@f2aee2265956"));
        assert_eq!(
            a.version(),
            list("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n").version()
        );
    }

    #[test]
    fn an_address_on_two_asset_lists_records_both() {
        let addr = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
        let l = SanctionsList::from_lists(
            &[
                AssetListText {
                    asset: "USDT",
                    text: addr,
                },
                AssetListText {
                    asset: "ETH",
                    text: CHECKSUMMED,
                },
            ],
            "c",
        )
        .unwrap();
        let hit = l.check(&AddressKey::parse(addr).unwrap()).unwrap();
        assert_eq!(hit.asset_lists, ["ETH".to_owned(), "USDT".to_owned()]);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn custom_list_versions_depend_on_entries_not_insertion_order() {
        let a = AddressKey::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").unwrap();
        let b = AddressKey::parse("TBHmtWYrsfkvuHYvTSxB1BxyMaFRjMsAqf").unwrap();
        let one = CustomList::new(
            ListOwner::Operator,
            CustomListKind::Block,
            [a.clone(), b.clone()],
        );
        let two = CustomList::new(ListOwner::Operator, CustomListKind::Block, [b, a.clone()]);
        assert_eq!(one.version(), two.version());
        assert!(one.contains(&a));
    }
}
