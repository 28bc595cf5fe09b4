//! Creating merchants and their keys (used by `rialto merchants create` and the tests).

use rialto_compliance::CountryCode;
use rialto_core::asset::AssetRegistry;
use rialto_core::id::MerchantId;
use rialto_core::intent::{SettlementError, SettlementTarget};
use serde::Serialize;

use crate::keys::generate_key;
use crate::store::{KeyKind, Merchant, Store, StoreError};

#[derive(Debug, Clone, Default)]
pub struct NewMerchant {
    pub name: String,
    /// Default settlement target: asset, chain and address as a person types them.
    pub settlement: Option<(String, String, String)>,
    /// Also issue `sk_live_`/`pk_live_` keys (refused at request time until live venues exist).
    pub live_keys: bool,
    /// ISO 3166-1 alpha-2 country of the merchant (`US`, `DE`); sets the travel-rule threshold.
    pub country: Option<String>,
}

/// What `merchants create --json` prints. Keys appear here once and nowhere else, ever.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedMerchant {
    pub id: String,
    pub secret_key: String,
    pub publishable_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_secret_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_publishable_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("merchant name must be 1 to 200 characters")]
    InvalidName,
    #[error("country must be an ISO 3166-1 alpha-2 code such as US or DE")]
    InvalidCountry,
    #[error("invalid settlement target: {0}")]
    Settlement(#[from] SettlementError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create_merchant(
    store: &dyn Store,
    registry: &AssetRegistry,
    new: &NewMerchant,
    now_ms: i64,
) -> Result<CreatedMerchant, MerchantError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(MerchantError::InvalidName);
    }
    let target = new
        .settlement
        .as_ref()
        .map(|(asset, chain, address)| SettlementTarget::resolve(registry, asset, chain, address))
        .transpose()?;
    let country = new
        .country
        .as_deref()
        .map(|c| {
            c.parse::<CountryCode>()
                .map_err(|_| MerchantError::InvalidCountry)
        })
        .transpose()?;
    let id = MerchantId::generate();
    let merchant = Merchant {
        id,
        name: name.to_owned(),
        settlement_asset: target.as_ref().map(|t| t.asset.id.to_string()),
        settlement_address: target.as_ref().map(|t| t.address.to_string()),
        created_at_ms: now_ms,
        country: country.map(|c| c.as_str().to_owned()),
    };
    let (secret_key, sk) = generate_key(id, KeyKind::Secret, false, now_ms);
    let (publishable_key, pk) = generate_key(id, KeyKind::Publishable, false, now_ms);
    let mut records = vec![sk, pk];
    let mut created = CreatedMerchant {
        id: id.to_string(),
        secret_key,
        publishable_key,
        live_secret_key: None,
        live_publishable_key: None,
    };
    if new.live_keys {
        let (live_sk, live_sk_record) = generate_key(id, KeyKind::Secret, true, now_ms);
        let (live_pk, live_pk_record) = generate_key(id, KeyKind::Publishable, true, now_ms);
        records.extend([live_sk_record, live_pk_record]);
        created.live_secret_key = Some(live_sk);
        created.live_publishable_key = Some(live_pk);
    }
    store.create_merchant(&merchant, &records).await?;
    Ok(created)
}
