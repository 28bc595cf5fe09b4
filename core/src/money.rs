//! Exact money. Amounts are `rust_decimal::Decimal` in whole units of a currency that knows its
//! own precision; an amount with more decimals than its currency is an error, never rounded.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Largest amount Rialto accepts in whole units of any currency. Far above any real payment,
/// far below `Decimal`'s limits, so sums of many amounts can never overflow.
pub const MAX_WHOLE_UNITS: u64 = 1_000_000_000_000;

/// What a currency is. Fiat currencies only ever denominate an amount; the others can move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrencyKind {
    Fiat,
    Stablecoin,
    DepositToken,
    Native,
}

/// A unit of account: a lower-case code (`usd`, `eur`, `usdc`, `eth`) and its precision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Currency {
    code: String,
    decimals: u32,
    kind: CurrencyKind,
}

impl Currency {
    /// `code` is lower-cased; `decimals` is the number of places the currency can express.
    pub fn new(code: &str, decimals: u32, kind: CurrencyKind) -> Self {
        Self {
            code: code.to_ascii_lowercase(),
            decimals,
            kind,
        }
    }

    pub fn usd() -> Self {
        Self::new("usd", 2, CurrencyKind::Fiat)
    }

    pub fn eur() -> Self {
        Self::new("eur", 2, CurrencyKind::Fiat)
    }

    /// The fiat currency with this ISO code, if Rialto prices in it. Decimals are ISO 4217's
    /// minor units: the yen has none, so `"1000.5"` JPY is refused rather than rounded.
    pub fn fiat(code: &str) -> Option<Self> {
        match code.to_ascii_lowercase().as_str() {
            "usd" => Some(Self::usd()),
            "eur" => Some(Self::eur()),
            "gbp" => Some(Self::new("gbp", 2, CurrencyKind::Fiat)),
            "chf" => Some(Self::new("chf", 2, CurrencyKind::Fiat)),
            "jpy" => Some(Self::new("jpy", 0, CurrencyKind::Fiat)),
            _ => None,
        }
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn decimals(&self) -> u32 {
        self.decimals
    }

    pub fn kind(&self) -> CurrencyKind {
        self.kind
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a decimal string like \"25.50\"")]
    Malformed,
    #[error("amount has more than {max} decimal places for {currency}")]
    TooPrecise { currency: String, max: u32 },
    #[error("amount exceeds the maximum of {MAX_WHOLE_UNITS} whole units")]
    TooLarge,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: String, right: String },
    #[error("arithmetic overflow")]
    Overflow,
    #[error("result would be negative")]
    Negative,
}

/// An exact, non-negative amount of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Parses a whole-unit decimal string (`"25.50"`, `"0.000001"`). Accepts only ASCII digits
    /// with at most one `.`; no sign, exponent, spaces or thousands separators. Refuses more
    /// decimals than the currency has. Zero is allowed here; callers that need a positive
    /// amount use [`Money::parse_positive`].
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(int_part) || frac_part.is_some_and(|f| !digits_only(f)) {
            return Err(MoneyError::Malformed);
        }
        let frac = frac_part.unwrap_or("");
        // Trailing zeros add no precision: "1.500" is 1.5 even for a 2-decimal currency.
        let significant = frac.trim_end_matches('0');
        if significant.len() > currency.decimals as usize {
            return Err(MoneyError::TooPrecise {
                currency: currency.code.clone(),
                max: currency.decimals,
            });
        }
        let int_trimmed = int_part.trim_start_matches('0');
        if int_trimmed.len() > 13 {
            return Err(MoneyError::TooLarge);
        }
        let canonical = if significant.is_empty() {
            int_part.to_owned()
        } else {
            format!("{int_part}.{significant}")
        };
        let amount = Decimal::from_str(&canonical).map_err(|_| MoneyError::TooLarge)?;
        Self::from_decimal(amount, currency)
    }

    /// Like [`Money::parse`], and the amount must be greater than zero.
    pub fn parse_positive(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let money = Self::parse(text, currency)?;
        if money.amount.is_zero() {
            return Err(MoneyError::NotPositive);
        }
        Ok(money)
    }

    /// Wraps a decimal, checking sign, size and precision (never rounds).
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative);
        }
        if amount > Decimal::from(MAX_WHOLE_UNITS) {
            return Err(MoneyError::TooLarge);
        }
        let amount = amount.normalize();
        if amount.scale() > currency.decimals {
            return Err(MoneyError::TooPrecise {
                currency: currency.code.clone(),
                max: currency.decimals,
            });
        }
        Ok(Self { amount, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// Converts integer base units (cents, USDC's 10^-6, wei) into whole units, exactly.
    pub fn from_base_units(units: u128, currency: Currency) -> Result<Self, MoneyError> {
        let as_i128 = i128::try_from(units).map_err(|_| MoneyError::TooLarge)?;
        let amount = Decimal::try_from_i128_with_scale(as_i128, currency.decimals)
            .map_err(|_| MoneyError::TooLarge)?;
        Self::from_decimal(amount, currency)
    }

    /// The amount in integer base units. Exact because precision was checked on the way in.
    pub fn to_base_units(&self) -> Result<u128, MoneyError> {
        let scaled = self
            .amount
            .checked_mul(Decimal::from(10u64.pow(self.currency.decimals.min(19))))
            .ok_or(MoneyError::Overflow)?;
        let scaled = if self.currency.decimals > 19 {
            let extra = Decimal::from(10u64.pow(self.currency.decimals - 19));
            scaled.checked_mul(extra).ok_or(MoneyError::Overflow)?
        } else {
            scaled
        };
        if !scaled.fract().is_zero() {
            return Err(MoneyError::TooPrecise {
                currency: self.currency.code.clone(),
                max: self.currency.decimals,
            });
        }
        u128::try_from(scaled.trunc().mantissa()).map_err(|_| MoneyError::Negative)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Self::from_decimal(sum, self.currency.clone())
    }

    /// Subtraction that refuses to go below zero.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let diff = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        if diff.is_sign_negative() && !diff.is_zero() {
            return Err(MoneyError::Negative);
        }
        Self::from_decimal(diff, self.currency.clone())
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency.code != other.currency.code {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency.code.clone(),
                right: other.currency.code.clone(),
            });
        }
        Ok(())
    }

    /// Display form: at least two decimals (`"25.50"`), more only where the amount has them
    /// (`"0.000001"`), never more than the currency allows.
    pub fn to_amount_string(&self) -> String {
        let mut amount = self.amount.normalize();
        let places = amount.scale().max(2.min(self.currency.decimals));
        amount.rescale(places);
        amount.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_amount_string(), self.currency.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usdc() -> Currency {
        Currency::new("usdc", 6, CurrencyKind::Stablecoin)
    }

    #[test]
    fn parse_accepts_plain_decimal_strings() {
        let cases = [
            ("25.50", Currency::usd(), "25.50"),
            ("25.5", Currency::usd(), "25.50"),
            ("25", Currency::usd(), "25.00"),
            ("0.01", Currency::usd(), "0.01"),
            ("1.500", Currency::usd(), "1.50"),
            ("0.000001", usdc(), "0.000001"),
            ("007.10", usdc(), "7.10"),
        ];
        for (input, currency, shown) in cases {
            let money = Money::parse(input, currency).unwrap();
            assert_eq!(money.to_amount_string(), shown, "input {input}");
        }
    }

    #[test]
    fn parse_refuses_malformed_and_too_precise_amounts() {
        let cases: [(&str, Currency, MoneyError); 12] = [
            ("", Currency::usd(), MoneyError::Malformed),
            ("-1", Currency::usd(), MoneyError::Malformed),
            ("+1", Currency::usd(), MoneyError::Malformed),
            ("1e3", Currency::usd(), MoneyError::Malformed),
            (" 1", Currency::usd(), MoneyError::Malformed),
            ("1.", Currency::usd(), MoneyError::Malformed),
            (".5", Currency::usd(), MoneyError::Malformed),
            ("1,000", Currency::usd(), MoneyError::Malformed),
            ("NaN", Currency::usd(), MoneyError::Malformed),
            (
                "1.001",
                Currency::usd(),
                MoneyError::TooPrecise {
                    currency: "usd".into(),
                    max: 2,
                },
            ),
            (
                "1.0000001",
                usdc(),
                MoneyError::TooPrecise {
                    currency: "usdc".into(),
                    max: 6,
                },
            ),
            (
                "99999999999999999999999999999999",
                usdc(),
                MoneyError::TooLarge,
            ),
        ];
        for (input, currency, expected) in cases {
            assert_eq!(
                Money::parse(input, currency),
                Err(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn amounts_above_the_ceiling_are_refused() {
        assert_eq!(
            Money::parse("1000000000001", Currency::usd()),
            Err(MoneyError::TooLarge)
        );
        assert!(Money::parse("1000000000000", Currency::usd()).is_ok());
    }

    #[test]
    fn parse_positive_refuses_zero() {
        assert_eq!(
            Money::parse_positive("0.00", Currency::usd()),
            Err(MoneyError::NotPositive)
        );
    }

    #[test]
    fn arithmetic_is_checked_and_currency_aware() {
        let a = Money::parse("10.25", Currency::usd()).unwrap();
        let b = Money::parse("0.75", Currency::usd()).unwrap();
        assert_eq!(a.checked_add(&b).unwrap().to_amount_string(), "11.00");
        assert_eq!(b.checked_sub(&a), Err(MoneyError::Negative));
        let e = Money::parse("1", Currency::eur()).unwrap();
        assert!(matches!(
            a.checked_add(&e),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn base_units_convert_exactly() {
        let m = Money::parse("25.50", usdc()).unwrap();
        assert_eq!(m.to_base_units().unwrap(), 25_500_000);
        let wei = Currency::new("eth", 18, CurrencyKind::Native);
        let one_wei = Money::from_base_units(1, wei.clone()).unwrap();
        assert_eq!(one_wei.to_amount_string(), "0.000000000000000001");
        assert_eq!(one_wei.to_base_units().unwrap(), 1);
        let big = Money::parse("123456.7890123456789012345", wei);
        assert!(matches!(big, Err(MoneyError::TooPrecise { .. })));
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_round_trips(units in 0u64..1_000_000_000_000_000u64, decimals in 0u32..=18) {
            let currency = Currency::new("tok", decimals, CurrencyKind::Stablecoin);
            if let Ok(money) = Money::from_base_units(u128::from(units), currency.clone()) {
                let text = money.to_amount_string();
                let back = Money::parse(&text, currency).unwrap();
                prop_assert_eq!(back.to_base_units().unwrap(), u128::from(units));
                prop_assert_eq!(back, money);
            }
        }

        #[test]
        fn parse_never_panics_and_never_rounds(text in "[0-9.\\-e+ ]{0,40}") {
            if let Ok(money) = Money::parse(&text, Currency::usd()) {
                prop_assert!(money.amount().scale() <= 2);
                let reparsed = Money::parse(&money.to_amount_string(), Currency::usd()).unwrap();
                prop_assert_eq!(reparsed.amount(), money.amount());
            }
        }
    }
}
