//! The largest remainder split and the contract allocation. Pure.
//!
//! Everything is computed on integers (`i128`) with checked arithmetic: amounts in cents,
//! weights and quantities scaled to their common number of decimals. No `f64`, no
//! intermediate rounding, no panic: a value too large for exact arithmetic is
//! [`SplitError::Overflow`].
//!
//! Rule (product spec):
//! 1. item total `T_i = round_half_up(Q_i × p_i, 2)` where `Q_i = Σ_m q_mi`;
//! 2. `T_i` is split among members in proportion to `q_mi` by the largest remainder method
//!    at 0.01 €: each member first gets its exact share truncated to the cent, the cents
//!    left over go one by one to the largest remainders; ties go to the larger weight, then
//!    to the lower member code;
//! 3. member HT = `Σ_i share_mi`; VAT per rate = `round_half_up(HT_rate × rate / 100, 2)`;
//!    TTC = HT + Σ VAT.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::TenderItemId;

/// Number of decimals written in [`Share::exact_decimal`].
pub const EXACT_DECIMALS: u32 = 10;

/// JSON forms of decimals: always strings, never JSON numbers.
mod json {
    use rust_decimal::Decimal;
    use serde::{de, Deserialize, Deserializer};

    fn parse<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let raw = String::deserialize(d)?;
        Decimal::from_str_exact(&raw).map_err(de::Error::custom)
    }

    /// Money: written with exactly two decimals (`"33.30"`).
    pub mod money {
        use rust_decimal::Decimal;
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&crate::decimal::fixed(*value, 2))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
            super::parse(d)
        }
    }

    /// Quantities, weights, unit prices, rates: written without trailing zeros (`"12.5"`).
    pub mod plain {
        use rust_decimal::Decimal;
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&crate::decimal::trimmed(*value))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
            super::parse(d)
        }
    }
}

/// One party to a split: a member code and its weight (a quantity, a number of dwellings,
/// an awarded value, or 1 for an equal split).
///
/// Codes are expected to be unique within one split. If a code appears twice the two
/// entries are kept apart (ordered by weight, larger first), so the result still does not
/// depend on the input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    /// Member code; the last tie-break (lower code first) and the output order.
    pub code: String,
    /// Weight, ≥ 0. Zero means the claimant gets nothing.
    pub weight: Decimal,
}

impl Claimant {
    /// A claimant with this code and weight.
    pub fn new(code: impl Into<String>, weight: Decimal) -> Self {
        Self {
            code: code.into(),
            weight,
        }
    }
}

/// Why a member was ordered, for the leftover cents, before the **next** member in that
/// order when both have the same remainder.
///
/// Members are ordered by remainder (largest first), then weight (larger first), then code
/// (lower first). The last member of a group of equal remainders, a member whose remainder
/// differs from the next one's, and a member with a zero remainder have `none`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TieBreak {
    /// No tie with the next member (or identical code and weight: nothing to decide).
    None,
    /// Same remainder as the next member; this member's weight is larger.
    LargerWeight,
    /// Same remainder and weight as the next member; this member's code is lower.
    LowerCode,
}

/// One member's share of a split, with the proof of how it was obtained.
///
/// With `W` the sum of the weights (all scaled to integers at their common number of
/// decimals) and `C` the total in cents, the member's exact share is `C × w / W` cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Share {
    /// Member code.
    pub code: String,
    /// The member's weight, as given (no trailing zeros in JSON), e.g. `"40"`.
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "40")]
    pub weight: Decimal,
    /// Exact share in euros as a fraction reduced to lowest terms, `"numerator/denominator"`
    /// (`"100/3"`), or only the integer when the denominator is 1 (`"25"`); `"0"` for zero.
    /// Before reduction it is `(C × w) / (W × 100)`.
    #[schema(example = "100/3")]
    pub exact: String,
    /// The exact share in euros written with 10 decimals, truncated, followed by `…` when
    /// the exact value has more decimals (`"33.3333333333…"`, `"25.0000000000"`).
    #[schema(example = "33.3333333333…")]
    pub exact_decimal: String,
    /// The exact share truncated to the cent, in euros: `⌊C × w / W⌋ / 100`.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "33.33")]
    pub truncated: Decimal,
    /// What the truncation dropped, in cents, as a reduced fraction: `((C × w) mod W) / W`
    /// (`"1/3"`), `"0"` when the share is a whole number of cents. Always below 1 cent.
    #[schema(example = "1/3")]
    pub remainder: String,
    /// 1-based position of this member in the order of remainders (largest first, ties as
    /// told by [`TieBreak`]) among the members with a non-zero remainder; `None` when the
    /// remainder is zero. The members ranked 1 to k get the k leftover cents.
    #[schema(example = 1)]
    pub remainder_rank: Option<u32>,
    /// Leftover cents received: 1 if `remainder_rank ≤ k` (k = C − Σ truncated cents), else 0.
    #[schema(example = 1)]
    pub extra_cents: u32,
    /// What placed this member before the next one with an equal remainder.
    pub tie_break: TieBreak,
    /// The member's share in euros: `truncated + extra_cents / 100`.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "33.34")]
    pub amount: Decimal,
}

/// Why a split or an allocation could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A positive amount to split while every weight is zero.
    #[error("a positive amount cannot be split when every weight is zero")]
    NoWeight,
    /// A negative amount, weight, quantity, unit price or VAT rate.
    #[error("amounts, weights, quantities, unit prices and VAT rates must not be negative")]
    Negative,
    /// The amount to split has more than 2 decimal places.
    #[error("the amount to split must have at most 2 decimal places")]
    TooManyDecimals,
    /// The values are too large to be computed exactly.
    #[error("the values are too large to be split exactly")]
    Overflow,
}

/// One item of a contract: its awarded unit price, VAT rate and each member's quantity
/// (a claimant's weight is the member's quantity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInput {
    /// The item.
    pub item_id: TenderItemId,
    /// VAT rate in percent (`20`, `5.5`…), ≥ 0.
    pub vat_rate: Decimal,
    /// Awarded unit price HT, ≥ 0.
    pub unit_price: Decimal,
    /// Members and their quantities (≥ 0) of this item.
    pub members: Vec<Claimant>,
}

/// An item's total (rule step 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemTotal {
    /// The item.
    pub item_id: TenderItemId,
    /// `Q_i`: sum of the members' quantities.
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "75")]
    pub quantity: Decimal,
    /// `p_i`: awarded unit price HT.
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "3.3333")]
    pub unit_price: Decimal,
    /// VAT rate in percent.
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "20")]
    pub vat_rate: Decimal,
    /// `T_i = round_half_up(Q_i × p_i, 2)`, HT.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "250.00")]
    pub total: Decimal,
}

/// A member's share of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartLine {
    /// The item.
    pub item_id: TenderItemId,
    /// The member's quantity of the item (> 0).
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "40")]
    pub quantity: Decimal,
    /// Awarded unit price HT.
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "3.3333")]
    pub unit_price: Decimal,
    /// VAT rate in percent.
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "20")]
    pub vat_rate: Decimal,
    /// The member's share of the item total, HT.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "133.34")]
    pub amount: Decimal,
    /// How the share was computed (the member's row of the item's split).
    pub proof: Share,
}

/// VAT of one member at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VatLine {
    /// VAT rate in percent.
    #[serde(with = "json::plain")]
    #[schema(value_type = String, example = "20")]
    pub rate: Decimal,
    /// The member's HT on items at this rate.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "133.34")]
    pub base: Decimal,
    /// `round_half_up(base × rate / 100, 2)`.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "26.67")]
    pub amount: Decimal,
}

/// One member's part of a contract (rule step 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberPart {
    /// Member code.
    pub member_code: String,
    /// Σ of the lines' amounts.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "163.00")]
    pub total_ht: Decimal,
    /// Σ of the VAT lines' amounts.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "28.30")]
    pub total_vat: Decimal,
    /// `total_ht + total_vat`.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "191.30")]
    pub total_ttc: Decimal,
    /// VAT per rate, by rate ascending.
    pub vat: Vec<VatLine>,
    /// One line per item where the member's quantity is positive, in item input order.
    pub lines: Vec<PartLine>,
}

/// A contract's cost and each member's part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContractAllocation {
    /// Σ of the item totals = Σ of the members' `total_ht`.
    #[serde(with = "json::money")]
    #[schema(value_type = String, example = "301.91")]
    pub total_ht: Decimal,
    /// Item totals, in input order.
    pub items: Vec<ItemTotal>,
    /// Members' parts, by member code.
    pub parts: Vec<MemberPart>,
}

/// Splits `total` (≥ 0, ≤ 2 decimals) among `claimants` by the largest remainder method.
/// Output sorted by member code.
///
/// With `C` the total in cents, `w` each weight scaled to an integer (all weights at their
/// common number of decimals) and `W = Σ w`: each member gets `⌊C × w / W⌋` cents, then the
/// `k = C − Σ ⌊C × w / W⌋` leftover cents go one each to the members with the largest
/// remainders `(C × w) mod W` (ties: larger weight, then lower code). Members with a zero
/// weight get 0. `W = 0` is allowed only for a zero total ([`SplitError::NoWeight`]).
pub fn split(total: Decimal, claimants: &[Claimant]) -> Result<Vec<Share>, SplitError> {
    if total < Decimal::ZERO {
        return Err(SplitError::Negative);
    }
    if total.normalize().scale() > 2 {
        return Err(SplitError::TooManyDecimals);
    }
    let total_cents = mantissa_at(total, 2)?;
    let weights = scaled_integers(claimants.iter().map(|c| c.weight))?;
    let sum_weights = weights
        .iter()
        .try_fold(0i128, |acc, w| acc.checked_add(*w))
        .ok_or(SplitError::Overflow)?;
    if sum_weights == 0 && total_cents != 0 {
        return Err(SplitError::NoWeight);
    }
    // With W = 0 every weight and every product is 0: any positive divisor gives zeros.
    let divisor = sum_weights.max(1);
    let euro_divisor = divisor.checked_mul(100).ok_or(SplitError::Overflow)?;

    struct Row<'a> {
        claimant: &'a Claimant,
        weight: i128,
        product: i128,
        floor: i128,
        remainder: i128,
    }
    let mut rows = Vec::with_capacity(claimants.len());
    let mut sum_floors = 0i128;
    for (claimant, &weight) in claimants.iter().zip(&weights) {
        let product = total_cents
            .checked_mul(weight)
            .ok_or(SplitError::Overflow)?;
        let floor = product / divisor;
        sum_floors = sum_floors.checked_add(floor).ok_or(SplitError::Overflow)?;
        rows.push(Row {
            claimant,
            weight,
            product,
            floor,
            remainder: product % divisor,
        });
    }
    // Σ remainders = k × W and each remainder < W, so k is below the number of non-zero
    // remainders: the leftover cents only go to members with a non-zero remainder.
    let leftover = usize::try_from(total_cents - sum_floors).map_err(|_| SplitError::Overflow)?;
    rows.sort_by(|a, b| {
        b.remainder
            .cmp(&a.remainder)
            .then(b.weight.cmp(&a.weight))
            .then(a.claimant.code.cmp(&b.claimant.code))
    });

    let mut shares = Vec::with_capacity(rows.len());
    for (position, row) in rows.iter().enumerate() {
        let has_remainder = row.remainder != 0;
        let remainder_rank = if has_remainder {
            Some(u32::try_from(position + 1).map_err(|_| SplitError::Overflow)?)
        } else {
            None
        };
        let extra_cents = u32::from(position < leftover);
        let tie_break = match rows.get(position + 1) {
            Some(next) if has_remainder && next.remainder == row.remainder => {
                if row.weight > next.weight {
                    TieBreak::LargerWeight
                } else if row.claimant.code < next.claimant.code {
                    TieBreak::LowerCode
                } else {
                    TieBreak::None
                }
            }
            _ => TieBreak::None,
        };
        let amount_cents = row
            .floor
            .checked_add(i128::from(extra_cents))
            .ok_or(SplitError::Overflow)?;
        shares.push(Share {
            code: row.claimant.code.clone(),
            weight: row.claimant.weight,
            exact: fraction(row.product, euro_divisor),
            exact_decimal: decimal_expansion(row.product, euro_divisor, EXACT_DECIMALS)?,
            truncated: money(row.floor)?,
            remainder: fraction(row.remainder, divisor),
            remainder_rank,
            extra_cents,
            tie_break,
            amount: money(amount_cents)?,
        });
    }
    shares.sort_by(output_order);
    Ok(shares)
}

/// Re-does the split from a proof alone (weights + total) and says whether the stored
/// amounts match — used by auditors and tests.
///
/// Every field of every share must match the recomputed one (amounts and proof alike),
/// whatever the order of `shares`. Returns `false` when the split itself fails.
pub fn verify(total: Decimal, shares: &[Share]) -> bool {
    let claimants: Vec<Claimant> = shares
        .iter()
        .map(|s| Claimant::new(s.code.clone(), s.weight))
        .collect();
    let Ok(redone) = split(total, &claimants) else {
        return false;
    };
    let mut stored = shares.to_vec();
    stored.sort_by(output_order);
    redone == stored
}

/// Allocates a contract (rule steps 1–3). A member appears in `parts` if it has a positive
/// quantity on at least one item; a line only for items where its quantity is positive.
///
/// Item totals are `round_half_up(Q_i × p_i, 2)` computed exactly on integers; VAT is
/// computed per member and rate on the member's HT at that rate, so the members' VAT may
/// differ by a few cents from VAT computed on the lot total.
pub fn allocate_contract(items: &[ItemInput]) -> Result<ContractAllocation, SplitError> {
    let mut totals = Vec::with_capacity(items.len());
    let mut lines_by_member: BTreeMap<String, Vec<PartLine>> = BTreeMap::new();
    let mut total_ht_cents = 0i128;
    for item in items {
        if item.unit_price < Decimal::ZERO || item.vat_rate < Decimal::ZERO {
            return Err(SplitError::Negative);
        }
        let quantity = exact_sum(item.members.iter().map(|m| m.weight))?;
        let item_cents = mul_round_cents(quantity, item.unit_price, 0)?;
        total_ht_cents = total_ht_cents
            .checked_add(item_cents)
            .ok_or(SplitError::Overflow)?;
        let total = money(item_cents)?;
        for share in split(total, &item.members)? {
            if share.weight > Decimal::ZERO {
                lines_by_member
                    .entry(share.code.clone())
                    .or_default()
                    .push(PartLine {
                        item_id: item.item_id,
                        quantity: share.weight,
                        unit_price: item.unit_price,
                        vat_rate: item.vat_rate,
                        amount: share.amount,
                        proof: share,
                    });
            }
        }
        totals.push(ItemTotal {
            item_id: item.item_id,
            quantity,
            unit_price: item.unit_price,
            vat_rate: item.vat_rate,
            total,
        });
    }

    let mut parts = Vec::with_capacity(lines_by_member.len());
    for (member_code, lines) in lines_by_member {
        let mut ht_cents = 0i128;
        let mut base_by_rate: BTreeMap<Decimal, i128> = BTreeMap::new();
        for line in &lines {
            let cents = mantissa_at(line.amount, 2)?;
            ht_cents = ht_cents.checked_add(cents).ok_or(SplitError::Overflow)?;
            let base = base_by_rate.entry(line.vat_rate.normalize()).or_insert(0);
            *base = base.checked_add(cents).ok_or(SplitError::Overflow)?;
        }
        let mut vat = Vec::with_capacity(base_by_rate.len());
        let mut vat_cents = 0i128;
        for (rate, base_cents) in base_by_rate {
            let base = money(base_cents)?;
            let amount_cents = mul_round_cents(base, rate, 2)?;
            vat_cents = vat_cents
                .checked_add(amount_cents)
                .ok_or(SplitError::Overflow)?;
            vat.push(VatLine {
                rate,
                base,
                amount: money(amount_cents)?,
            });
        }
        let ttc_cents = ht_cents
            .checked_add(vat_cents)
            .ok_or(SplitError::Overflow)?;
        parts.push(MemberPart {
            member_code,
            total_ht: money(ht_cents)?,
            total_vat: money(vat_cents)?,
            total_ttc: money(ttc_cents)?,
            vat,
            lines,
        });
    }

    Ok(ContractAllocation {
        total_ht: money(total_ht_cents)?,
        items: totals,
        parts,
    })
}

/// Output order of a split: code, then weight (larger first), then remainder rank (the
/// last two only matter when a code appears twice).
fn output_order(a: &Share, b: &Share) -> Ordering {
    a.code.cmp(&b.code).then(b.weight.cmp(&a.weight)).then(
        a.remainder_rank
            .unwrap_or(u32::MAX)
            .cmp(&b.remainder_rank.unwrap_or(u32::MAX)),
    )
}

/// `10^exp` as an `i128`.
fn pow10(exp: u32) -> Result<i128, SplitError> {
    10i128.checked_pow(exp).ok_or(SplitError::Overflow)
}

/// `value × 10^scale` as an integer; `value` must have at most `scale` significant decimals.
fn mantissa_at(value: Decimal, scale: u32) -> Result<i128, SplitError> {
    let value = value.normalize();
    let missing = scale
        .checked_sub(value.scale())
        .ok_or(SplitError::TooManyDecimals)?;
    value
        .mantissa()
        .checked_mul(pow10(missing)?)
        .ok_or(SplitError::Overflow)
}

/// Non-negative values as integers at their common (largest) number of decimals.
fn scaled_integers(values: impl Iterator<Item = Decimal> + Clone) -> Result<Vec<i128>, SplitError> {
    let (integers, _) = scaled_integers_with_scale(values)?;
    Ok(integers)
}

/// [`scaled_integers`] and the common scale.
fn scaled_integers_with_scale(
    values: impl Iterator<Item = Decimal> + Clone,
) -> Result<(Vec<i128>, u32), SplitError> {
    let mut scale = 0;
    for value in values.clone() {
        if value < Decimal::ZERO {
            return Err(SplitError::Negative);
        }
        scale = scale.max(value.normalize().scale());
    }
    let integers = values
        .map(|v| mantissa_at(v, scale))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((integers, scale))
}

/// Exact sum of non-negative values.
fn exact_sum(values: impl Iterator<Item = Decimal> + Clone) -> Result<Decimal, SplitError> {
    let (integers, scale) = scaled_integers_with_scale(values)?;
    let sum = integers
        .iter()
        .try_fold(0i128, |acc, v| acc.checked_add(*v))
        .ok_or(SplitError::Overflow)?;
    Decimal::try_from_i128_with_scale(sum, scale)
        .map(|d| d.normalize())
        .map_err(|_| SplitError::Overflow)
}

/// `round_half_up(a × b / 10^divide_by_pow10, 2)` in cents, exact, for `a, b ≥ 0`.
fn mul_round_cents(a: Decimal, b: Decimal, divide_by_pow10: u32) -> Result<i128, SplitError> {
    let (a, b) = (a.normalize(), b.normalize());
    let product = a
        .mantissa()
        .checked_mul(b.mantissa())
        .ok_or(SplitError::Overflow)?;
    let scale = a.scale() + b.scale() + divide_by_pow10;
    if scale <= 2 {
        return product
            .checked_mul(pow10(2 - scale)?)
            .ok_or(SplitError::Overflow);
    }
    // 10^39 exceeds twice any i128: such a divisor rounds every product to 0.
    let Some(divisor) = 10i128.checked_pow(scale - 2) else {
        return Ok(0);
    };
    let (quotient, rest) = (product / divisor, product % divisor);
    Ok(if rest >= divisor - rest {
        quotient + 1
    } else {
        quotient
    })
}

/// Cents as euros with two decimals.
fn money(cents: i128) -> Result<Decimal, SplitError> {
    Decimal::try_from_i128_with_scale(cents, 2).map_err(|_| SplitError::Overflow)
}

/// Greatest common divisor of two non-negative integers.
fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `numerator / denominator` (both ≥ 0, denominator > 0) reduced: `"n/d"`, `"n"` or `"0"`.
fn fraction(numerator: i128, denominator: i128) -> String {
    if numerator == 0 {
        return "0".to_owned();
    }
    let g = gcd(numerator, denominator).max(1);
    let (n, d) = (numerator / g, denominator / g);
    if d == 1 {
        n.to_string()
    } else {
        format!("{n}/{d}")
    }
}

/// `numerator / denominator` with `decimals` decimals, truncated, and `…` if inexact.
fn decimal_expansion(
    numerator: i128,
    denominator: i128,
    decimals: u32,
) -> Result<String, SplitError> {
    let mut text = (numerator / denominator).to_string();
    text.push('.');
    let mut rest = numerator % denominator;
    for _ in 0..decimals {
        rest = rest.checked_mul(10).ok_or(SplitError::Overflow)?;
        text.push_str(&(rest / denominator).to_string());
        rest %= denominator;
    }
    if rest != 0 {
        text.push('…');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::round_half_up;
    use proptest::prelude::*;
    use rust_decimal::prelude::ToPrimitive;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn c(code: &str, weight: &str) -> Claimant {
        Claimant::new(code, d(weight))
    }

    #[allow(clippy::too_many_arguments)]
    fn share(
        code: &str,
        weight: &str,
        exact: &str,
        exact_decimal: &str,
        truncated: &str,
        remainder: &str,
        remainder_rank: Option<u32>,
        extra_cents: u32,
        tie_break: TieBreak,
        amount: &str,
    ) -> Share {
        Share {
            code: code.to_owned(),
            weight: d(weight),
            exact: exact.to_owned(),
            exact_decimal: exact_decimal.to_owned(),
            truncated: d(truncated),
            remainder: remainder.to_owned(),
            remainder_rank,
            extra_cents,
            tie_break,
            amount: d(amount),
        }
    }

    #[test]
    fn hundred_euros_over_three_equal_members() {
        // C = 10000 cents, w = 1 each, W = 3. 10000 = 3 × 3333 + 1 for everyone:
        // truncated 33.33, remainder 1/3, Σ truncated = 99.99, k = 1 leftover cent.
        // Equal remainders and weights: the lower code (A) gets it.
        let shares = split(d("100.00"), &[c("C", "1"), c("A", "1"), c("B", "1")]).unwrap();
        let third = "33.3333333333…";
        #[rustfmt::skip]
        let expected = vec![
            share("A", "1", "100/3", third, "33.33", "1/3", Some(1), 1, TieBreak::LowerCode, "33.34"),
            share("B", "1", "100/3", third, "33.33", "1/3", Some(2), 0, TieBreak::LowerCode, "33.33"),
            share("C", "1", "100/3", third, "33.33", "1/3", Some(3), 0, TieBreak::None, "33.33"),
        ];
        assert_eq!(shares, expected);
        assert!(verify(d("100.00"), &shares));
    }

    #[test]
    fn shares_are_json_strings_and_read_back() {
        let shares = split(d("100"), &[c("A", "1.000"), c("B", "2")]).unwrap();
        let json = serde_json::to_value(&shares[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "code": "A", "weight": "1", "exact": "100/3",
                "exact_decimal": "33.3333333333…", "truncated": "33.33", "remainder": "1/3",
                "remainder_rank": 2, "extra_cents": 0, "tie_break": "none", "amount": "33.33"
            })
        );
        let json = serde_json::to_string(&shares).unwrap();
        let back: Vec<Share> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, shares);
        assert!(verify(d("100"), &back));
        assert!(
            serde_json::from_str::<VatLine>(r#"{"rate":20,"base":"1.00","amount":"0.20"}"#)
                .is_err()
        );
    }

    #[test]
    fn a_tie_decided_by_larger_weight() {
        // C = 10004, weights 1, 4, 1, W = 6.
        // A: 10004 = 6 × 1667 + 2; B: 40016 = 6 × 6669 + 2; C: like A.
        // Σ truncated = 1667 + 6669 + 1667 = 10003, k = 1. All remainders are 2/6 = 1/3:
        // B (weight 4) comes first and gets the cent although A has the lower code.
        let shares = split(d("100.04"), &[c("A", "1"), c("B", "4"), c("C", "1")]).unwrap();
        #[rustfmt::skip]
        let expected = vec![
            share("A", "1", "2501/150", "16.6733333333…", "16.67", "1/3", Some(2), 0, TieBreak::LowerCode, "16.67"),
            share("B", "4", "5002/75", "66.6933333333…", "66.69", "1/3", Some(1), 1, TieBreak::LargerWeight, "66.70"),
            share("C", "1", "2501/150", "16.6733333333…", "16.67", "1/3", Some(3), 0, TieBreak::None, "16.67"),
        ];
        assert_eq!(shares, expected);
    }

    #[test]
    fn zero_weight_gets_nothing_and_exact_shares_have_no_remainder() {
        let shares = split(d("10.00"), &[c("A", "0"), c("B", "1"), c("C", "3")]).unwrap();
        #[rustfmt::skip]
        let expected = vec![
            share("A", "0", "0", "0.0000000000", "0", "0", None, 0, TieBreak::None, "0"),
            share("B", "1", "5/2", "2.5000000000", "2.50", "0", None, 0, TieBreak::None, "2.50"),
            share("C", "3", "15/2", "7.5000000000", "7.50", "0", None, 0, TieBreak::None, "7.50"),
        ];
        assert_eq!(shares, expected);
        let whole = split(d("25"), &[c("A", "1")]).unwrap();
        assert_eq!(whole[0].exact, "25");
        assert_eq!(whole[0].exact_decimal, "25.0000000000");
    }

    #[test]
    fn errors() {
        assert_eq!(
            split(d("1.00"), &[c("A", "0"), c("B", "0")]),
            Err(SplitError::NoWeight)
        );
        assert_eq!(split(d("1.00"), &[]), Err(SplitError::NoWeight));
        let zeros = split(d("0.00"), &[c("A", "0"), c("B", "0")]).unwrap();
        assert!(zeros.iter().all(|s| s.amount.is_zero() && s.exact == "0"));
        assert_eq!(split(d("0"), &[]), Ok(vec![]));
        assert_eq!(split(d("-1"), &[c("A", "1")]), Err(SplitError::Negative));
        assert_eq!(
            split(d("1"), &[c("A", "-1"), c("B", "2")]),
            Err(SplitError::Negative)
        );
        assert_eq!(
            split(d("1.001"), &[c("A", "1")]),
            Err(SplitError::TooManyDecimals)
        );
        assert!(split(d("1.0000"), &[c("A", "1")]).is_ok());
        // Scaling MAX to 28 decimals does not fit an i128.
        let tiny = Decimal::new(1, 28);
        let huge = Claimant::new("A", Decimal::MAX);
        assert_eq!(
            split(d("1"), &[huge.clone(), Claimant::new("B", tiny)]),
            Err(SplitError::Overflow)
        );
        assert_eq!(
            split(Decimal::MAX, &[huge.clone(), huge]),
            Err(SplitError::Overflow)
        );
        let item = ItemInput {
            item_id: TenderItemId::new(),
            vat_rate: d("20"),
            unit_price: d("-1"),
            members: vec![c("A", "1")],
        };
        assert_eq!(allocate_contract(&[item]), Err(SplitError::Negative));
    }

    #[test]
    fn verify_checks_amounts_and_proof_whatever_the_order() {
        let total = d("100.00");
        let mut shares = split(total, &[c("A", "1"), c("B", "1"), c("C", "1")]).unwrap();
        shares.reverse();
        assert!(verify(total, &shares));
        assert!(!verify(d("100.01"), &shares));
        let mut moved = shares.clone();
        moved[2].amount = d("33.33");
        moved[0].amount = d("33.34");
        assert!(!verify(total, &moved));
        let mut proof = shares.clone();
        proof[0].remainder = "2/3".to_owned();
        assert!(!verify(total, &proof));
    }

    #[test]
    fn duplicate_codes_are_kept_apart_deterministically() {
        let a = split(d("0.05"), &[c("A", "1"), c("A", "1"), c("B", "2")]).unwrap();
        let b = split(d("0.05"), &[c("B", "2"), c("A", "1"), c("A", "1")]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.iter().map(|s| s.amount).sum::<Decimal>(), d("0.05"));
        assert!(verify(d("0.05"), &a));
    }

    fn item(vat_rate: &str, unit_price: &str, members: &[(&str, &str)]) -> ItemInput {
        ItemInput {
            item_id: TenderItemId::new(),
            vat_rate: d(vat_rate),
            unit_price: d(unit_price),
            members: members.iter().map(|(code, q)| c(code, q)).collect(),
        }
    }

    #[test]
    fn item_total_rounds_half_up() {
        // Q = 1 + 2 = 3, p = 0.125: Q × p = 0.375 → 0.38 (half away from zero).
        // Split 38 cents 1:2: A 38/3 = 12 r 2, B 76/3 = 25 r 1; Σ = 37, k = 1 → A (2/3).
        let allocation =
            allocate_contract(&[item("20", "0.125", &[("A", "1"), ("B", "2")])]).unwrap();
        assert_eq!(allocation.items[0].total, d("0.38"));
        assert_eq!(allocation.items[0].quantity, d("3"));
        assert_eq!(allocation.total_ht, d("0.38"));
        let amounts: Vec<_> = allocation.parts.iter().map(|p| p.lines[0].amount).collect();
        assert_eq!(amounts, vec![d("0.13"), d("0.25")]);
        assert_eq!(allocation.parts[0].lines[0].proof.remainder, "2/3");
        assert_eq!(allocation.parts[1].lines[0].proof.remainder, "1/3");
    }

    #[test]
    fn vat_per_member_and_rate() {
        // Item X, 20 %, p = 10.00, A 1 + B 2 = 3 → T = 30.00; 3000 × 1 / 3 = 1000 r 0,
        //   3000 × 2 / 3 = 2000 r 0 → A 10.00, B 20.00.
        // Item Y, 5.5 %, p = 0.333, A 1 + B 2 = 3 → 0.999 → T = 1.00;
        //   A 100 / 3 = 33 r 1, B 200 / 3 = 66 r 2; Σ = 99, k = 1 → B (2/3) → A 0.33, B 0.67.
        // A: HT 10.33; VAT 20 % on 10.00 = 2.00; 5.5 % on 0.33 = 0.01815 → 0.02;
        //    VAT 2.02; TTC 12.35.
        // B: HT 20.67; VAT 20 % on 20.00 = 4.00; 5.5 % on 0.67 = 0.03685 → 0.04;
        //    VAT 4.04; TTC 24.71.
        // Lot: 30.00 + 1.00 = 31.00 = 10.33 + 20.67.
        let x = item("20", "10.00", &[("B", "2"), ("A", "1")]);
        let y = item("5.5", "0.333", &[("A", "1"), ("B", "2")]);
        let allocation = allocate_contract(&[x.clone(), y.clone()]).unwrap();
        assert_eq!(allocation.total_ht, d("31.00"));
        assert_eq!(
            allocation.items.iter().map(|i| i.total).collect::<Vec<_>>(),
            vec![d("30.00"), d("1.00")]
        );
        let [a, b] = &allocation.parts[..] else {
            panic!("two parts")
        };
        assert_eq!(a.member_code, "A");
        assert_eq!(
            a.lines
                .iter()
                .map(|l| (l.item_id, l.amount))
                .collect::<Vec<_>>(),
            vec![(x.item_id, d("10.00")), (y.item_id, d("0.33"))]
        );
        assert_eq!(
            a.vat,
            vec![
                VatLine {
                    rate: d("5.5"),
                    base: d("0.33"),
                    amount: d("0.02")
                },
                VatLine {
                    rate: d("20"),
                    base: d("10.00"),
                    amount: d("2.00")
                },
            ]
        );
        assert_eq!(
            (a.total_ht, a.total_vat, a.total_ttc),
            (d("10.33"), d("2.02"), d("12.35"))
        );
        assert_eq!(b.member_code, "B");
        assert_eq!(
            b.lines.iter().map(|l| l.amount).collect::<Vec<_>>(),
            vec![d("20.00"), d("0.67")]
        );
        assert_eq!(
            b.vat,
            vec![
                VatLine {
                    rate: d("5.5"),
                    base: d("0.67"),
                    amount: d("0.04")
                },
                VatLine {
                    rate: d("20"),
                    base: d("20.00"),
                    amount: d("4.00")
                },
            ]
        );
        assert_eq!(
            (b.total_ht, b.total_vat, b.total_ttc),
            (d("20.67"), d("4.04"), d("24.71"))
        );
        let json = serde_json::to_string(&allocation).unwrap();
        assert!(json.contains(r#""total_ht":"31.00""#), "{json}");
        assert!(
            json.contains(r#""rate":"5.5","base":"0.33","amount":"0.02""#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<ContractAllocation>(&json).unwrap(),
            allocation
        );
    }

    /// The worked example of `docs/allocation.md`, figure by figure.
    #[test]
    fn documented_example() {
        let paper = item(
            "20",
            "3.3333",
            &[("MAIRIE", "40"), ("CCAS", "10"), ("ECOLE", "25")],
        );
        let soap = item("5.5", "7.415", &[("CCAS", "3"), ("MAIRIE", "4")]);
        let allocation = allocate_contract(&[paper.clone(), soap.clone()]).unwrap();

        assert_eq!(
            allocation.items,
            vec![
                ItemTotal {
                    item_id: paper.item_id,
                    quantity: d("75"),
                    unit_price: d("3.3333"),
                    vat_rate: d("20"),
                    total: d("250.00")
                },
                ItemTotal {
                    item_id: soap.item_id,
                    quantity: d("7"),
                    unit_price: d("7.415"),
                    vat_rate: d("5.5"),
                    total: d("51.91")
                },
            ]
        );
        assert_eq!(allocation.total_ht, d("301.91"));

        let paper_split = split(d("250.00"), &paper.members).unwrap();
        #[rustfmt::skip]
        let expected = vec![
            share("CCAS", "10", "100/3", "33.3333333333…", "33.33", "1/3", Some(3), 0, TieBreak::None, "33.33"),
            share("ECOLE", "25", "250/3", "83.3333333333…", "83.33", "1/3", Some(2), 0, TieBreak::LargerWeight, "83.33"),
            share("MAIRIE", "40", "400/3", "133.3333333333…", "133.33", "1/3", Some(1), 1, TieBreak::LargerWeight, "133.34"),
        ];
        assert_eq!(paper_split, expected);
        let soap_split = split(d("51.91"), &soap.members).unwrap();
        #[rustfmt::skip]
        let expected = vec![
            share("CCAS", "3", "15573/700", "22.2471428571…", "22.24", "5/7", Some(1), 1, TieBreak::None, "22.25"),
            share("MAIRIE", "4", "5191/175", "29.6628571428…", "29.66", "2/7", Some(2), 0, TieBreak::None, "29.66"),
        ];
        assert_eq!(soap_split, expected);

        let summary: Vec<_> = allocation
            .parts
            .iter()
            .map(|p| {
                (
                    p.member_code.as_str(),
                    p.lines.iter().map(|l| l.amount).collect::<Vec<_>>(),
                    p.vat
                        .iter()
                        .map(|v| (v.rate, v.base, v.amount))
                        .collect::<Vec<_>>(),
                    p.total_ht,
                    p.total_vat,
                    p.total_ttc,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "CCAS",
                    vec![d("33.33"), d("22.25")],
                    vec![
                        (d("5.5"), d("22.25"), d("1.22")),
                        (d("20"), d("33.33"), d("6.67"))
                    ],
                    d("55.58"),
                    d("7.89"),
                    d("63.47"),
                ),
                (
                    "ECOLE",
                    vec![d("83.33")],
                    vec![(d("20"), d("83.33"), d("16.67"))],
                    d("83.33"),
                    d("16.67"),
                    d("100.00"),
                ),
                (
                    "MAIRIE",
                    vec![d("133.34"), d("29.66")],
                    vec![
                        (d("5.5"), d("29.66"), d("1.63")),
                        (d("20"), d("133.34"), d("26.67"))
                    ],
                    d("163.00"),
                    d("28.30"),
                    d("191.30"),
                ),
            ]
        );
        assert_eq!(allocation.parts[0].lines[1].proof, soap_split[0]);
        assert_eq!(allocation.parts[2].lines[0].proof, paper_split[2]);
    }

    // ---- properties ----

    /// Weights: many zeros and small equal integers (ties), and large values with up to
    /// 3 decimals.
    fn weight() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            2 => Just(Decimal::ZERO),
            3 => (1i64..=5).prop_map(Decimal::from),
            5 => (0i64..=999_999_999_999_999, 0u32..=3).prop_map(|(m, s)| Decimal::new(m, s)),
        ]
    }

    fn claimants(weights: &[Decimal]) -> Vec<Claimant> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| Claimant::new(format!("M{i:04}"), *w))
            .collect()
    }

    /// Checks the split's invariants against an independent computation in thousandths.
    fn check_split(total_cents: i64, weights: &[Decimal]) -> Result<Vec<Share>, TestCaseError> {
        let total = Decimal::new(total_cents, 2);
        let input = claimants(weights);
        let thousandths: Vec<i128> = weights
            .iter()
            .map(|w| (*w * Decimal::from(1000)).to_i128().unwrap())
            .collect();
        let sum: i128 = thousandths.iter().sum();
        let result = split(total, &input);
        if sum == 0 {
            if total_cents == 0 {
                prop_assert!(result.unwrap().iter().all(|s| s.amount.is_zero()));
            } else {
                prop_assert_eq!(result, Err(SplitError::NoWeight));
            }
            return Ok(vec![]);
        }
        let shares = result.unwrap();
        prop_assert_eq!(shares.len(), weights.len());
        prop_assert_eq!(shares.iter().map(|s| s.amount).sum::<Decimal>(), total);
        for s in &shares {
            let i: usize = s.code[1..].parse().unwrap();
            prop_assert_eq!(s.weight, weights[i]);
            let amount_cents = (s.amount * Decimal::ONE_HUNDRED).to_i128().unwrap();
            // |amount − total × w / W| < 0.01 €  ⇔  |amount_cents × W − C × w| < W.
            let gap = (amount_cents * sum - i128::from(total_cents) * thousandths[i]).abs();
            prop_assert!(gap < sum, "{s:?}");
            prop_assert!(s.extra_cents <= 1);
            prop_assert_eq!(
                s.truncated + Decimal::new(i64::from(s.extra_cents), 2),
                s.amount
            );
        }
        Ok(shares)
    }

    fn shuffled_split() -> impl Strategy<Value = (i64, Vec<Decimal>, Vec<usize>)> {
        (
            0i64..=1_000_000_000,
            prop::collection::vec(weight(), 1..=50),
        )
            .prop_flat_map(|(total, weights)| {
                let order: Vec<usize> = (0..weights.len()).collect();
                (Just(total), Just(weights), Just(order).prop_shuffle())
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn split_is_exact_fair_and_deterministic(
            (total_cents, weights, order) in shuffled_split(),
            pick in any::<prop::sample::Index>(),
        ) {
            let shares = check_split(total_cents, &weights)?;
            if shares.is_empty() {
                return Ok(());
            }
            let total = Decimal::new(total_cents, 2);
            let input = claimants(&weights);
            prop_assert_eq!(&split(total, &input).unwrap(), &shares);
            let shuffled: Vec<Claimant> = order.iter().map(|&i| input[i].clone()).collect();
            prop_assert_eq!(&split(total, &shuffled).unwrap(), &shares);
            prop_assert!(verify(total, &shares));
            let mut altered = shares.clone();
            altered[pick.index(shares.len())].amount += Decimal::new(1, 2);
            prop_assert!(!verify(total, &altered));
        }

        #[test]
        fn contract_allocation_adds_up(
            items in prop::collection::vec(
                (
                    0usize..4,
                    (0i64..=99_999_999, 0u32..=4),
                    prop::collection::btree_map(0usize..8, (0i64..=10_000_000, 0u32..=3), 0..=6),
                ),
                1..=5,
            ),
        ) {
            let rates = ["0", "5.5", "10", "20"];
            let inputs: Vec<ItemInput> = items
                .iter()
                .map(|(rate, (pm, ps), members)| ItemInput {
                    item_id: TenderItemId::new(),
                    vat_rate: d(rates[*rate]),
                    unit_price: Decimal::new(*pm, *ps),
                    members: members
                        .iter()
                        .map(|(m, (qm, qs))| Claimant::new(format!("M{m}"), Decimal::new(*qm, *qs)))
                        .collect(),
                })
                .collect();
            let allocation = allocate_contract(&inputs).unwrap();
            let item_sum: Decimal = allocation.items.iter().map(|i| i.total).sum();
            let parts_sum: Decimal = allocation.parts.iter().map(|p| p.total_ht).sum();
            prop_assert_eq!(allocation.total_ht, item_sum);
            prop_assert_eq!(parts_sum, item_sum);
            for (input, total) in inputs.iter().zip(&allocation.items) {
                let q: Decimal = input.members.iter().map(|m| m.weight).sum();
                prop_assert_eq!(total.quantity, q);
                prop_assert_eq!(total.total, round_half_up(q * input.unit_price, 2));
                let lines: Decimal = allocation
                    .parts
                    .iter()
                    .flat_map(|p| &p.lines)
                    .filter(|l| l.item_id == input.item_id)
                    .map(|l| l.amount)
                    .sum();
                prop_assert_eq!(lines, total.total);
            }
            let mut expected_members: Vec<String> = inputs
                .iter()
                .flat_map(|i| &i.members)
                .filter(|m| m.weight > Decimal::ZERO)
                .map(|m| m.code.clone())
                .collect();
            expected_members.sort();
            expected_members.dedup();
            let members: Vec<String> = allocation.parts.iter().map(|p| p.member_code.clone()).collect();
            prop_assert_eq!(members, expected_members);
            for part in &allocation.parts {
                prop_assert_eq!(part.total_ttc, part.total_ht + part.total_vat);
                prop_assert_eq!(part.total_vat, part.vat.iter().map(|v| v.amount).sum::<Decimal>());
                prop_assert_eq!(part.total_ht, part.lines.iter().map(|l| l.amount).sum::<Decimal>());
                prop_assert_eq!(part.total_ht, part.vat.iter().map(|v| v.base).sum::<Decimal>());
                for v in &part.vat {
                    prop_assert_eq!(v.amount, round_half_up(v.base * v.rate / Decimal::ONE_HUNDRED, 2));
                }
            }
            let reversed: Vec<ItemInput> = inputs
                .iter()
                .map(|i| ItemInput { members: i.members.iter().rev().cloned().collect(), ..i.clone() })
                .collect();
            prop_assert_eq!(allocate_contract(&reversed).unwrap(), allocation);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(50))]

        #[test]
        fn split_among_a_thousand_members(
            total_cents in 0i64..=1_000_000_000,
            weights in prop::collection::vec(weight(), 1000),
        ) {
            let shares = check_split(total_cents, &weights)?;
            prop_assert!(verify(Decimal::new(total_cents, 2), &shares));
        }
    }
}
