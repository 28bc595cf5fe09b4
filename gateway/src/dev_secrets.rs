//! Secrets everyone has: the development mnemonics and keys that ship with anvil, Hardhat and
//! the BIP-39 specification. Live configuration refuses them, because anyone can sign with
//! them: a live hot wallet or deposit seed taken from this list is an open door.

use rialto_evm::deposit::DepositKeys;
use secrecy::{ExposeSecret, SecretString};

/// The phrase anvil and Hardhat derive their funded accounts from.
pub const ANVIL_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How many of anvil's (and Hardhat's) default accounts are refused as hot wallets: the ten
/// each tool funds by default, and more for `--accounts`.
const ANVIL_ACCOUNTS: u32 = 20;

/// Public mnemonics: anvil/Hardhat's, and the 24 English test vectors of the BIP-39 reference
/// implementation (Trezor's `vectors.json`; the all-`abandon` 12-word one is the sandbox's
/// deposit phrase).
const PUBLIC_MNEMONICS: &[&str] = &[
    ANVIL_MNEMONIC,
    rialto_engine::config::SANDBOX_DEPOSIT_MNEMONIC,
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon agent",
    "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal will",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter always",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo when",
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
    "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote",
    "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
    "gravity machine north sort system female filter attitude volume fold club stay feature office ecology stable narrow fog",
    "hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length",
    "scheme spot photo card baby mountain device kick cradle pact join borrow",
    "horn tenant knee talent sponsor spell gate clip pulse soap slush warm silver nephew swap uncle crack brave",
    "panda eyebrow bullet gorilla call smoke muffin taste mesh discover soft ostrich alcohol speed nation flash devote level hobby quick inner drive ghost inside",
    "cat swing flag economy stadium alone churn speed unique patch report train",
    "light rule cinnamon wrap drastic word pride squirrel upgrade then income fatal apart sustain crack supply proud access",
    "all hour make first leader extend hole alien behind guard gospel lava path output census museum junior mass reopen famous sing advance salt reform",
    "vessel ladder alter error federal sibling chat ability sun glass valve picture",
    "scissors invite lock maple supreme raw rapid void congress muscle digital elegant little brisk hair mango congress clump",
    "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold",
];

fn words(phrase: &str) -> String {
    phrase
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `phrase` is a public mnemonic (whatever its spacing and letter case).
pub fn is_public_mnemonic(phrase: &str) -> bool {
    let phrase = words(phrase);
    PUBLIC_MNEMONICS.iter().any(|m| words(m) == phrase)
}

/// Whether `key` (hex, with or without `0x`) is one of anvil's or Hardhat's default account
/// keys.
pub fn is_public_key(key: &str) -> bool {
    let wanted = key.trim().trim_start_matches("0x").to_ascii_lowercase();
    let Ok(keys) = DepositKeys::from_mnemonic(&SecretString::from(ANVIL_MNEMONIC.to_owned()))
    else {
        return false;
    };
    (0..ANVIL_ACCOUNTS).any(|i| {
        keys.signing_key(i).is_ok_and(|k| {
            k.0.expose_secret()
                .trim_start_matches("0x")
                .eq_ignore_ascii_case(&wanted)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_default_secrets_are_recognised() {
        // Anvil's account 0, as every tutorial prints it.
        assert!(is_public_key(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        ));
        assert!(is_public_key(
            "AC0974BEC39A17E36BA4A6B4D238FF944BACB478CBED5EFCAE784D7BF4F2FF80"
        ));
        // Account 9.
        assert!(is_public_key(
            "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
        ));
        assert!(!is_public_key(
            "0x1111111111111111111111111111111111111111111111111111111111111111"
        ));
        assert!(is_public_mnemonic(
            "  Test test test test test test test test test test test JUNK "
        ));
        assert!(is_public_mnemonic(
            "legal winner thank year wave sausage worth useful legal winner thank yellow"
        ));
        assert!(is_public_mnemonic(
            "vessel ladder alter error federal sibling chat ability sun glass valve picture"
        ));
        assert_eq!(
            PUBLIC_MNEMONICS.len(),
            25,
            "anvil's and the 24 BIP-39 vectors"
        );
        assert!(!is_public_mnemonic(
            "rhythm crater mimic shadow drama pistol pulse couch fiber honey abuse leopard"
        ));
    }
}
