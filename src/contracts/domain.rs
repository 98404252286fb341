//! A contract's allocation as a table (CSV), in the plain dialect or the one French
//! spreadsheets open directly (`excel-fr`: `;` between fields, a UTF-8 BOM, decimal commas).
//! Pure.

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::allocation::MemberPart;

/// CSV dialects of `GET /api/v1/contracts/{id}/allocation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
pub enum Dialect {
    /// RFC 4180: `,`, decimal points, no BOM.
    #[default]
    #[serde(rename = "rfc4180")]
    Rfc4180,
    /// `;`, a UTF-8 BOM and decimal commas (Excel in French).
    #[serde(rename = "excel-fr")]
    ExcelFr,
}

/// The CSV header: one row per member and item (`line`), per member and VAT rate (`vat`)
/// and per member (`total`).
pub const HEADER: [&str; 16] = [
    "member_code",
    "kind",
    "item_id",
    "vat_rate",
    "quantity",
    "unit_price",
    "item_total",
    "exact_share",
    "truncated",
    "remainder",
    "remainder_rank",
    "extra_cents",
    "tie_break",
    "amount_ht",
    "vat",
    "amount_ttc",
];

struct Writer {
    dialect: Dialect,
    out: String,
}

impl Writer {
    fn sep(&self) -> char {
        match self.dialect {
            Dialect::Rfc4180 => ',',
            Dialect::ExcelFr => ';',
        }
    }

    /// A text field, quoted when it holds the separator, a quote or a line break; a field
    /// a spreadsheet would run as a formula is prefixed with `'`.
    fn text(&self, v: &str) -> String {
        let v = if v.starts_with(['=', '+', '-', '@']) {
            format!("'{v}")
        } else {
            v.to_owned()
        };
        if v.contains([self.sep(), '"', '\n', '\r']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v
        }
    }

    /// A decimal as written in the JSON (`12.5`), with a comma in `excel-fr`.
    fn number(&self, v: &str) -> String {
        match self.dialect {
            Dialect::Rfc4180 => v.to_owned(),
            Dialect::ExcelFr => v.replace('.', ","),
        }
    }

    fn row(&mut self, fields: &[String]) {
        let sep = self.sep().to_string();
        self.out.push_str(&fields.join(&sep));
        self.out.push_str("\r\n");
    }
}

fn money(v: Decimal) -> String {
    crate::decimal::fixed(v, 2)
}

fn plain(v: Decimal) -> String {
    v.normalize().to_string()
}

/// The member parts `parts` as CSV in `dialect` (each part's lines with their allocation
/// proof, its VAT per rate, its totals).
pub fn allocation_csv(
    parts: &[MemberPart],
    items: &[crate::allocation::ItemTotal],
    dialect: Dialect,
) -> String {
    let mut w = Writer {
        dialect,
        out: String::new(),
    };
    if dialect == Dialect::ExcelFr {
        w.out.push('\u{feff}');
    }
    w.row(&HEADER.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    let e = String::new;
    for p in parts {
        let code = w.text(&p.member_code);
        for l in &p.lines {
            let total = items
                .iter()
                .find(|i| i.item_id == l.item_id)
                .map(|i| w.number(&money(i.total)))
                .unwrap_or_default();
            let row = vec![
                code.clone(),
                "line".into(),
                l.item_id.to_string(),
                w.number(&plain(l.vat_rate)),
                w.number(&plain(l.quantity)),
                w.number(&plain(l.unit_price)),
                total,
                w.number(&l.proof.exact_decimal),
                w.number(&money(l.proof.truncated)),
                w.text(&l.proof.remainder),
                l.proof
                    .remainder_rank
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
                l.proof.extra_cents.to_string(),
                w.text(tie_break(&l.proof.tie_break)),
                w.number(&money(l.amount)),
                e(),
                e(),
            ];
            w.row(&row);
        }
        for v in &p.vat {
            let row = vec![
                code.clone(),
                "vat".into(),
                e(),
                w.number(&plain(v.rate)),
                e(),
                e(),
                e(),
                e(),
                e(),
                e(),
                e(),
                e(),
                e(),
                w.number(&money(v.base)),
                w.number(&money(v.amount)),
                e(),
            ];
            w.row(&row);
        }
        let mut row = vec![code.clone(), "total".into()];
        row.extend(std::iter::repeat_with(e).take(11));
        row.push(w.number(&money(p.total_ht)));
        row.push(w.number(&money(p.total_vat)));
        row.push(w.number(&money(p.total_ttc)));
        w.row(&row);
    }
    w.out
}

fn tie_break(t: &crate::allocation::TieBreak) -> &'static str {
    match t {
        crate::allocation::TieBreak::None => "none",
        crate::allocation::TieBreak::LargerWeight => "larger_weight",
        crate::allocation::TieBreak::LowerCode => "lower_code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::{allocate_contract, Claimant, ItemInput};
    use crate::ids::TenderItemId;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn plain_csv_has_a_header_lines_vat_and_totals() {
        let a = allocate_contract(&[ItemInput {
            item_id: TenderItemId::new(),
            vat_rate: dec("20"),
            unit_price: dec("100"),
            members: vec![
                Claimant::new("A", dec("1")),
                Claimant::new("B", dec("1")),
                Claimant::new("C", dec("1")),
            ],
        }])
        .unwrap();
        let csv = allocation_csv(&a.parts, &a.items, Dialect::Rfc4180);
        let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
        assert_eq!(rows[0], HEADER.join(","));
        // 300 € over three: 100 each, no remainder; lines, one VAT row and a total per member.
        assert_eq!(rows.len(), 1 + 3 * 3);
        assert!(rows[1].starts_with("A,line,"));
        assert!(rows[1].contains(",20,1,100,300.00,100.0000000000,100.00,0,,0,none,100.00,,"));
        assert_eq!(rows[2], "A,vat,,20,,,,,,,,,,100.00,20.00,");
        assert_eq!(rows[3], "A,total,,,,,,,,,,,,100.00,20.00,120.00");
    }

    #[test]
    fn excel_fr_uses_semicolons_a_bom_and_decimal_commas() {
        let a = allocate_contract(&[ItemInput {
            item_id: TenderItemId::new(),
            vat_rate: dec("5.5"),
            unit_price: dec("33.3333"),
            members: vec![
                Claimant::new("A", dec("1")),
                Claimant::new("B", dec("1")),
                Claimant::new("C", dec("1")),
            ],
        }])
        .unwrap();
        let csv = allocation_csv(&a.parts, &a.items, Dialect::ExcelFr);
        assert!(csv.starts_with('\u{feff}'));
        let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(rows[0], HEADER.join(";"));
        // 3 × 33.3333 = 99.9999 → 100.00; 33.34 / 33.33 / 33.33.
        assert!(rows[1].starts_with("A;line;"), "{}", rows[1]);
        assert!(
            rows[1]
                .contains(";5,5;1;33,3333;100,00;33,3333333333…;33,33;1/3;1;1;lower_code;33,34;;"),
            "{}",
            rows[1]
        );
        assert_eq!(rows[3], "A;total;;;;;;;;;;;;33,34;1,83;35,17");
        assert!(!csv.contains("33.33"));
    }

    #[test]
    fn text_fields_are_quoted_and_defused() {
        let w = Writer {
            dialect: Dialect::Rfc4180,
            out: String::new(),
        };
        assert_eq!(w.text("a,b"), "\"a,b\"");
        assert_eq!(w.text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(w.text("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
