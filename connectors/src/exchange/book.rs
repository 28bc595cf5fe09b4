//! Walking an order book into an executable quote.

use rust_decimal::Decimal;

use super::{ExchangeError, Pair, Quote, Side, Venue};

/// One price level: `size` of base available at `price` (quote per base).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BookLevel {
    pub price: Decimal,
    pub size: Decimal,
}

/// Walks `levels` (the asks for a buy, the bids for a sell, best first) until `base_size` is
/// filled, then charges `taker_fee_rate` on the quote amount.
///
/// Unsorted or non-positive levels are a venue answer we cannot trust: `Decode`.
pub fn walk_book(
    venue: Venue,
    pair: &Pair,
    side: Side,
    base_size: Decimal,
    levels: &[BookLevel],
    taker_fee_rate: Decimal,
) -> Result<Quote, ExchangeError> {
    if base_size <= Decimal::ZERO {
        return Err(ExchangeError::Rejected {
            venue,
            message: format!("quote size must be positive, got {base_size}"),
        });
    }
    let mut remaining = base_size;
    let mut gross = Decimal::ZERO;
    let mut worst = None::<Decimal>;
    for level in levels {
        if level.price <= Decimal::ZERO || level.size < Decimal::ZERO {
            return Err(decode(venue, "non-positive book level"));
        }
        if let Some(prev) = worst {
            let out_of_order = match side {
                Side::Buy => level.price < prev,
                Side::Sell => level.price > prev,
            };
            if out_of_order {
                return Err(decode(venue, "book levels are not sorted best first"));
            }
        }
        if remaining.is_zero() {
            break;
        }
        let take = remaining.min(level.size);
        gross += take * level.price;
        remaining -= take;
        worst = Some(level.price);
    }
    let worst_price = match worst {
        Some(price) if remaining.is_zero() => price,
        _ => {
            return Err(ExchangeError::InsufficientLiquidity {
                venue,
                message: format!("book for {pair} holds less than {base_size}"),
            })
        }
    };
    let fee = gross * taker_fee_rate;
    let net_quote = match side {
        Side::Buy => gross + fee,
        Side::Sell => gross - fee,
    };
    Ok(Quote {
        venue,
        pair: pair.clone(),
        side,
        base_size,
        gross_quote: gross,
        fee,
        net_quote,
        average_price: gross / base_size,
        worst_price,
        taker_fee_rate,
    })
}

fn decode(venue: Venue, message: &str) -> ExchangeError {
    ExchangeError::Decode {
        venue,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::AssetCode;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal literal")
    }

    fn pair() -> Pair {
        Pair::new(
            AssetCode::new("BTC").expect("btc"),
            AssetCode::new("USD").expect("usd"),
        )
    }

    fn asks() -> Vec<BookLevel> {
        vec![
            BookLevel {
                price: d("100"),
                size: d("1"),
            },
            BookLevel {
                price: d("101"),
                size: d("2"),
            },
            BookLevel {
                price: d("105"),
                size: d("10"),
            },
        ]
    }

    #[test]
    fn a_buy_walks_the_asks_and_adds_the_taker_fee() {
        let q = walk_book(
            Venue::Kraken,
            &pair(),
            Side::Buy,
            d("2.5"),
            &asks(),
            d("0.004"),
        )
        .expect("quote");
        assert_eq!(q.gross_quote, d("251.5"));
        assert_eq!(q.fee, d("1.006"));
        assert_eq!(q.net_quote, d("252.506"));
        assert_eq!(q.worst_price, d("101"));
        assert_eq!(q.average_price, d("100.6"));
    }

    #[test]
    fn a_sell_walks_the_bids_and_subtracts_the_taker_fee() {
        let bids = vec![
            BookLevel {
                price: d("99"),
                size: d("1"),
            },
            BookLevel {
                price: d("98"),
                size: d("1"),
            },
        ];
        let q = walk_book(
            Venue::Binance,
            &pair(),
            Side::Sell,
            d("1.5"),
            &bids,
            d("0.001"),
        )
        .expect("quote");
        assert_eq!(q.gross_quote, d("148"));
        assert_eq!(q.net_quote, d("147.852"));
        assert_eq!(q.worst_price, d("98"));
    }

    #[test]
    fn a_book_too_thin_for_the_size_is_insufficient_liquidity() {
        let err = walk_book(Venue::Kraken, &pair(), Side::Buy, d("14"), &asks(), d("0"))
            .expect_err("too thin");
        assert!(
            matches!(err, ExchangeError::InsufficientLiquidity { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn an_unsorted_book_is_a_decode_error() {
        let mut levels = asks();
        levels.swap(0, 2);
        let err = walk_book(Venue::Kraken, &pair(), Side::Buy, d("1"), &levels, d("0"))
            .expect_err("unsorted");
        assert!(matches!(err, ExchangeError::Decode { .. }), "{err:?}");
    }
}
