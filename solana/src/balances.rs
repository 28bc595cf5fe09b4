//! What a confirmed transaction moved, read from the chain's own account of it: the token
//! balances before and after (`preTokenBalances` / `postTokenBalances`), per mint and owner.
//! Amounts are always read here, never taken from a payer or a memo.

use std::collections::BTreeMap;

use solana_transaction_status_client_types::{UiTransactionStatusMeta, UiTransactionTokenBalance};

/// How one owner's holding of one mint changed in a transaction, in base units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDelta {
    pub mint: String,
    pub owner: String,
    pub delta: i128,
}

fn holdings(
    list: Option<Vec<UiTransactionTokenBalance>>,
) -> BTreeMap<(u8, String), (String, i128)> {
    list.unwrap_or_default()
        .into_iter()
        .filter_map(|b| {
            let owner: Option<String> = b.owner.into();
            let amount = b.ui_token_amount.amount.parse::<i128>().ok()?;
            Some(((b.account_index, b.mint), (owner?, amount)))
        })
        .collect()
}

/// Every non-zero change of a token account in `meta`, summed per (mint, owner), in a stable
/// order. A token account created in the transaction counts from zero.
pub fn token_deltas(meta: &UiTransactionStatusMeta) -> Vec<TokenDelta> {
    let pre = holdings(meta.pre_token_balances.clone().into());
    let post = holdings(meta.post_token_balances.clone().into());
    let mut sums: BTreeMap<(String, String), i128> = BTreeMap::new();
    for ((index, mint), (owner, after)) in &post {
        let before = pre.get(&(*index, mint.clone())).map_or(0, |(_, a)| *a);
        *sums.entry((mint.clone(), owner.clone())).or_default() += after - before;
    }
    for ((index, mint), (owner, before)) in &pre {
        if !post.contains_key(&(*index, mint.clone())) {
            // Closed in the transaction: all of it left.
            *sums.entry((mint.clone(), owner.clone())).or_default() -= before;
        }
    }
    sums.into_iter()
        .filter(|(_, delta)| *delta != 0)
        .map(|((mint, owner), delta)| TokenDelta { mint, owner, delta })
        .collect()
}
