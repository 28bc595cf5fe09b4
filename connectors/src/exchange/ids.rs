//! Client order ids and withdrawal references derived from route leg ids.
//!
//! Deriving (rather than generating) them is what makes "look it up before retrying" possible:
//! after a crash or a timeout the caller still knows the leg, hence the id the venue saw.

use rialto_core::id::LegId;

use super::Venue;

/// The client order id sent with the order for `leg` on `venue`. Pure and deterministic.
///
/// - Binance `newClientOrderId` must match `^[.A-Z:/a-z0-9_-]{1,36}$`, Coinbase's
///   `client_order_id` is free text: both get the leg id itself (`leg_` + 26 ULID characters =
///   30 characters), which also reads well in the venue's UI.
/// - Kraken `cl_ord_id` accepts a UUID or at most 18 characters of free text: the leg id does
///   not fit, so its 128-bit ULID body is written as a UUID, which loses nothing.
pub fn client_order_id(venue: Venue, leg: &LegId) -> String {
    match venue {
        Venue::Binance | Venue::Coinbase | Venue::Sandbox => leg.to_string(),
        Venue::Kraken => leg_uuid(leg),
    }
}

/// The idempotency reference sent with the withdrawal for `leg` on `venue`.
///
/// - Binance `withdrawOrderId`: the leg id.
/// - Coinbase `idem` is documented as a UUID: the leg's ULID written as a UUID.
/// - Kraken takes no client reference for withdrawals; the leg id is kept for our records and
///   the Kraken client finds withdrawals by key, amount and time instead.
pub fn withdrawal_reference(venue: Venue, leg: &LegId) -> String {
    match venue {
        Venue::Binance | Venue::Kraken | Venue::Sandbox => leg.to_string(),
        Venue::Coinbase => leg_uuid(leg),
    }
}

/// The leg's ULID body as a lower-case hyphenated UUID string.
fn leg_uuid(leg: &LegId) -> String {
    let text = leg.to_string();
    let body = text.split_once('_').map_or(text.as_str(), |(_, body)| body);
    // A LegId only displays a valid ULID body, so parsing cannot fail; the fallback keeps the
    // function total without a panic path.
    let bits = ulid::Ulid::from_string(&body.to_ascii_uppercase()).map_or(0, u128::from);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg() -> LegId {
        "leg_01jd8x6k2m3n4p5q6r7s8t9v0w"
            .parse()
            .expect("valid leg id")
    }

    #[test]
    fn binance_client_order_ids_fit_the_documented_pattern() {
        let id = client_order_id(Venue::Binance, &leg());
        assert!(id.len() <= 36, "{id}");
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:/_-".contains(&b)));
        assert_eq!(id, "leg_01jd8x6k2m3n4p5q6r7s8t9v0w");
    }

    #[test]
    fn kraken_client_order_ids_are_uuids_carrying_the_whole_leg() {
        let id = client_order_id(Venue::Kraken, &leg());
        assert_eq!(id.len(), 36);
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        let other: LegId = "leg_01jd8x6k2m3n4p5q6r7s8t9v0x"
            .parse()
            .expect("valid leg id");
        assert_ne!(id, client_order_id(Venue::Kraken, &other));
    }

    #[test]
    fn the_same_leg_always_derives_the_same_ids() {
        for venue in [
            Venue::Binance,
            Venue::Kraken,
            Venue::Coinbase,
            Venue::Sandbox,
        ] {
            assert_eq!(
                client_order_id(venue, &leg()),
                client_order_id(venue, &leg())
            );
            assert_eq!(
                withdrawal_reference(venue, &leg()),
                withdrawal_reference(venue, &leg())
            );
        }
        assert_eq!(withdrawal_reference(Venue::Coinbase, &leg()).len(), 36);
    }
}
