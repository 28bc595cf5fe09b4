//! Against the shipped `data/ofac/` files: every listed address is blocked in every spelling,
//! ordinary addresses pass, the SDN files load, and name screening meets its measured quality.

#[path = "support/eval.rs"]
mod eval;

use rialto_compliance::names::normalize;
use rialto_compliance::{AddressKey, NameThresholds};
use rialto_core::{Address, ChainNamespace};

#[test]
fn every_shipped_ofac_address_is_blocked_in_every_spelling() {
    let list = eval::sanctions_list();
    let mut checked = 0;
    for (asset, text) in eval::address_lists() {
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut spellings = vec![line.to_owned()];
            if let Some(hex) = line.strip_prefix("0x") {
                spellings.push(format!("0x{}", hex.to_ascii_lowercase()));
                spellings.push(format!("0x{}", hex.to_ascii_uppercase()));
                let parsed = Address::parse(&spellings[1], ChainNamespace::Eip155).expect("evm");
                spellings.push(parsed.to_string()); // EIP-55 checksum case
                assert!(
                    list.check(&AddressKey::from(&parsed)).is_some(),
                    "{line} as core Address"
                );
            }
            for spelling in spellings {
                let key = AddressKey::parse(&spelling).expect("list entries parse");
                let hit = list
                    .check(&key)
                    .unwrap_or_else(|| panic!("{asset}: {spelling} not blocked"));
                assert!(hit.asset_lists.contains(&asset));
                checked += 1;
            }
        }
    }
    assert!(checked > 654, "only {checked} spellings checked");
    // 654 lines, 641 distinct strings; EVM duplicates across lists and case collapse further.
    assert_eq!(list.len(), 641);
}

#[test]
fn ordinary_addresses_pass() {
    let list = eval::sanctions_list();
    for ordinary in [
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", // USDC on Base
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", // USDC on Ethereum
        "0x0000000000000000000000000000000000000000",
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", // USDC mint on Solana
        "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        "1A1zP1eP5QGefi2DMPTfTL5SL7v7DivfNa", // the genesis block's address
    ] {
        let key = AddressKey::parse(ordinary).unwrap();
        assert!(list.check(&key).is_none(), "{ordinary} wrongly blocked");
    }
}

#[test]
fn tornado_cash_router_is_still_listed_in_this_historical_snapshot() {
    let list = eval::sanctions_list();
    let router = AddressKey::parse("0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b").unwrap();
    assert!(list.check(&router).is_some());
    assert!(list.version().starts_with("ofac-addr:") && list.version().ends_with("@f2aee2265956"));
}

#[test]
fn the_shipped_sdn_files_load_with_aliases_joined_safely() {
    let sdn = eval::sdn_list();
    assert_eq!(sdn.entries.len(), 14_965);
    let stats = sdn.alias_stats;
    println!("alias join: {stats:?}");
    assert!(stats.attached > 11_000 && stats.dropped_renamed > 0 && stats.dropped_delisted > 0);
    let cuba = sdn.entries.iter().find(|e| e.ent_num == 306).expect("306");
    assert!(cuba
        .aliases
        .iter()
        .any(|(_, a)| a == "NATIONAL BANK OF CUBA"));
    let reused = sdn
        .entries
        .iter()
        .find(|e| e.ent_num == 2677)
        .expect("2677");
    assert!(!reused.aliases.iter().any(|(_, a)| a.contains("HAMER")));
}

#[test]
fn real_sdn_names_are_found_through_aliases_and_reordering() {
    let index = rialto_compliance::NameIndex::build(&eval::sdn_list());
    let t = NameThresholds::default();
    let top = |q: &str| index.search(q, &t).first().map(|m| (m.ent_num, m.strength));
    assert_eq!(top("Tornado Cash").map(|m| m.0), Some(39796));
    assert_eq!(top("National Bank of Cuba").map(|m| m.0), Some(306));
    assert_eq!(normalize("AL-ZAWAHIRI, Ayman").tokens.len(), 3);
}

#[test]
fn name_screening_evaluation() {
    let sdn = eval::sdn_list();
    let index = rialto_compliance::NameIndex::build(&sdn);
    let t = NameThresholds::default();
    let positives = eval::positives(&sdn, 300);
    let negatives = eval::negatives(&sdn);
    let indexed = eval::evaluate(&index, &t, &positives, &negatives, false);
    let naive = eval::evaluate(&index, &t, &positives, &negatives, true);
    indexed.print("indexed");
    naive.print("naive  ");
    // Floors, not targets: they fail if a change makes screening clearly worse.
    assert!(
        indexed.found * 100 >= indexed.positives * 95,
        "recall below 95%"
    );
    assert!(
        indexed.false_hits * 100 <= indexed.negatives * 5,
        "false hits above 5%"
    );
    assert_eq!(indexed.false_strong, 0, "a common name was blocked");
    assert!(naive.found >= indexed.found);
}
