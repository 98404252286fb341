//! The bid comparison of a lot (*tableau d'analyse des offres*): one row per item, one column
//! group (unit price, amount) per competing bid in rank order, then the totals, the scores per
//! criterion, the total score and the rank. Written as XLSX (numbers as numbers with € formats,
//! the lowest price of each item highlighted, header frozen) or CSV (the allocation's
//! dialects). Pure; rows are produced one at a time and the XLSX is written in constant-memory
//! mode, so memory stays flat for large lots.
//!
//! Cell texts that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) are
//! neutralised with a leading `'`.

use std::collections::HashMap;

use rust_decimal::Decimal;
use rust_xlsxwriter::{Color, Format, FormatAlign, Workbook, XlsxError};

use crate::contracts::domain::Dialect;
use crate::ids::TenderItemId;

/// An item row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Item.
    pub id: TenderItemId,
    /// Position in the lot (1-based).
    pub position: u32,
    /// CPV code.
    pub cpv: String,
    /// Unit.
    pub unit: String,
    /// Yearly quantity.
    pub quantity: Decimal,
}

/// A competing bid's column group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    /// Bidder's legal name.
    pub supplier_name: String,
    /// Unit prices by item.
    pub prices: HashMap<TenderItemId, Decimal>,
    /// Exact total HT.
    pub total: Decimal,
    /// Score per criterion (the tender's order), the price's included.
    pub scores: Vec<Option<Decimal>>,
    /// Total score.
    pub total_score: Option<Decimal>,
    /// Rank.
    pub rank: Option<u32>,
}

/// The whole table's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// First line: tender and lot.
    pub title: String,
    /// Items in lot order.
    pub items: Vec<Item>,
    /// Criteria `(name, weight)` in the tender's order.
    pub criteria: Vec<(String, Decimal)>,
    /// Competing bids in rank order.
    pub bids: Vec<Bid>,
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// A label or a name (neutralised when written).
    Text(String),
    /// A quantity or a rank.
    Number(Decimal),
    /// A unit price in euros (up to 4 decimals, written as given); `true` for the lowest of
    /// its item.
    Price(Decimal, bool),
    /// An amount in euros (written to the cent in CSV, exact in XLSX).
    Money(Decimal),
    /// A score (2 decimals).
    Score(Decimal),
}

/// Row index (0-based) of the column header; the rows above it are the title.
pub const HEADER_ROW: u32 = 2;
/// Columns before the bids' groups.
pub const ITEM_COLUMNS: u16 = 4;

/// A text as written: a leading `=`, `+`, `-` or `@` gets a `'` first.
pub fn neutralise(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

impl Comparison {
    /// The rows, title and header included, one at a time.
    pub fn rows(&self) -> impl Iterator<Item = Vec<Cell>> + '_ {
        let title = std::iter::once(vec![Cell::Text(self.title.clone())]);
        let blank = std::iter::once(Vec::new());
        let mut header = vec![
            Cell::Text("N°".into()),
            Cell::Text("Code CPV".into()),
            Cell::Text("Unité".into()),
            Cell::Text("Quantité annuelle".into()),
        ];
        for b in &self.bids {
            header.push(Cell::Text(format!(
                "{} — prix unitaire HT",
                b.supplier_name
            )));
            header.push(Cell::Text(format!("{} — montant HT", b.supplier_name)));
        }
        let items = self.items.iter().map(move |i| {
            let lowest = self
                .bids
                .iter()
                .filter_map(|b| b.prices.get(&i.id))
                .min()
                .copied();
            let mut row = vec![
                Cell::Number(Decimal::from(i.position)),
                Cell::Text(i.cpv.clone()),
                Cell::Text(i.unit.clone()),
                Cell::Number(i.quantity.normalize()),
            ];
            for b in &self.bids {
                match b.prices.get(&i.id) {
                    Some(p) => {
                        row.push(Cell::Price(*p, Some(*p) == lowest));
                        row.push(Cell::Money(*p * i.quantity));
                    }
                    None => row.extend([Cell::Empty, Cell::Empty]),
                }
            }
            row
        });
        let footer_row = |label: String, values: Vec<Cell>| {
            let mut row = vec![Cell::Text(label), Cell::Empty, Cell::Empty, Cell::Empty];
            for v in values {
                row.push(Cell::Empty);
                row.push(v);
            }
            row
        };
        let mut footer = vec![footer_row(
            "Total HT".into(),
            self.bids.iter().map(|b| Cell::Money(b.total)).collect(),
        )];
        for (k, (name, weight)) in self.criteria.iter().enumerate() {
            footer.push(footer_row(
                format!("Note « {name} » (sur {})", weight.normalize()),
                self.bids
                    .iter()
                    .map(|b| {
                        b.scores
                            .get(k)
                            .copied()
                            .flatten()
                            .map_or(Cell::Empty, Cell::Score)
                    })
                    .collect(),
            ));
        }
        footer.push(footer_row(
            "Note totale (sur 100)".into(),
            self.bids
                .iter()
                .map(|b| b.total_score.map_or(Cell::Empty, Cell::Score))
                .collect(),
        ));
        footer.push(footer_row(
            "Rang".into(),
            self.bids
                .iter()
                .map(|b| {
                    b.rank
                        .map_or(Cell::Empty, |r| Cell::Number(Decimal::from(r)))
                })
                .collect(),
        ));
        title
            .chain(blank)
            .chain(std::iter::once(header))
            .chain(items)
            .chain(footer)
    }

    /// The table as CSV in `dialect` (`excel-fr`: `;`, a BOM, decimal commas).
    pub fn csv(&self, dialect: Dialect) -> String {
        let (sep, comma) = match dialect {
            Dialect::Rfc4180 => (',', false),
            Dialect::ExcelFr => (';', true),
        };
        let mut out = String::new();
        if comma {
            out.push('\u{feff}');
        }
        let num = |d: Decimal| {
            let s = d.to_string();
            if comma {
                s.replace('.', ",")
            } else {
                s
            }
        };
        for row in self.rows() {
            let fields: Vec<String> = row
                .into_iter()
                .map(|c| match c {
                    Cell::Empty => String::new(),
                    Cell::Text(t) => {
                        let t = neutralise(&t);
                        if t.contains([sep, '"', '\n', '\r']) {
                            format!("\"{}\"", t.replace('"', "\"\""))
                        } else {
                            t
                        }
                    }
                    Cell::Number(d) => num(d.normalize()),
                    Cell::Price(d, _) => num(d.normalize()),
                    Cell::Money(d) => num(crate::exports::ocds::cents(d)),
                    Cell::Score(d) => num(crate::exports::ocds::cents(d)),
                })
                .collect();
            out.push_str(&fields.join(&sep.to_string()));
            out.push_str("\r\n");
        }
        out
    }

    /// The table as an XLSX workbook (one sheet, « Analyse des offres »).
    pub fn xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet_with_constant_memory()?;
        sheet.set_name("Analyse des offres")?;
        let euro = Format::new().set_num_format("#,##0.00\\ \"€\"");
        let price = Format::new().set_num_format("#,##0.00##\\ \"€\"");
        let lowest = Format::new()
            .set_num_format("#,##0.00##\\ \"€\"")
            .set_background_color(Color::RGB(0x00C6_EFCE))
            .set_bold();
        let score = Format::new().set_num_format("0.00");
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Center);
        let bold = Format::new().set_bold();
        sheet.set_column_width(0, 6)?;
        sheet.set_column_width(1, 14)?;
        sheet.set_column_width(2, 10)?;
        sheet.set_column_width(3, 14)?;
        let groups = u16::try_from(self.bids.len()).unwrap_or(u16::MAX / 2);
        for c in 0..groups.saturating_mul(2) {
            sheet.set_column_width(ITEM_COLUMNS.saturating_add(c), 18)?;
        }
        sheet.set_freeze_panes(HEADER_ROW + 1, ITEM_COLUMNS)?;
        for (r, row) in self.rows().enumerate() {
            let r = u32::try_from(r).unwrap_or(u32::MAX);
            for (c, cell) in row.into_iter().enumerate() {
                let c = u16::try_from(c).unwrap_or(u16::MAX);
                match cell {
                    Cell::Empty => {}
                    Cell::Text(t) if r == HEADER_ROW => {
                        sheet.write_string_with_format(r, c, neutralise(&t), &header)?;
                    }
                    Cell::Text(t) if r == 0 || (c == 0 && r > HEADER_ROW) => {
                        sheet.write_string_with_format(r, c, neutralise(&t), &bold)?;
                    }
                    Cell::Text(t) => {
                        sheet.write_string(r, c, neutralise(&t))?;
                    }
                    Cell::Number(d) => {
                        sheet.write_number(r, c, float(d))?;
                    }
                    Cell::Price(d, low) => {
                        let f = if low { &lowest } else { &price };
                        sheet.write_number_with_format(r, c, float(d), f)?;
                    }
                    Cell::Money(d) => {
                        sheet.write_number_with_format(r, c, float(d), &euro)?;
                    }
                    Cell::Score(d) => {
                        sheet.write_number_with_format(r, c, float(d), &score)?;
                    }
                }
            }
        }
        book.save_to_buffer()
    }
}

/// An XLSX number: the file stores IEEE doubles, written as their shortest digits; a decimal
/// of at most 15 significant digits (every amount here) reads back with the same digits.
/// Parsed from the decimal's text, never computed in floating point.
fn float(d: Decimal) -> f64 {
    d.normalize().to_string().parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn sample() -> Comparison {
        let (a, b) = (TenderItemId::new(), TenderItemId::new());
        Comparison {
            title: "2027-GRP-004 — Lot 1".into(),
            items: vec![
                Item {
                    id: a,
                    position: 1,
                    cpv: "45421100-5".into(),
                    unit: "unit".into(),
                    quantity: dec("12"),
                },
                Item {
                    id: b,
                    position: 2,
                    cpv: "45442100-8".into(),
                    unit: "m2".into(),
                    quantity: dec("150.5"),
                },
            ],
            criteria: vec![
                ("Prix".into(), dec("60")),
                ("Valeur technique".into(), dec("40")),
            ],
            bids: vec![
                Bid {
                    supplier_name: "=HYPERLINK(\"x\")".into(),
                    prices: [(a, dec("300")), (b, dec("19.99"))].into_iter().collect(),
                    total: dec("6608.495"),
                    scores: vec![Some(dec("60")), Some(dec("20"))],
                    total_score: Some(dec("80")),
                    rank: Some(1),
                },
                Bid {
                    supplier_name: "BTP; Ouest".into(),
                    prices: [(a, dec("350")), (b, dec("18"))].into_iter().collect(),
                    total: dec("6909"),
                    scores: vec![Some(dec("57.3906")), Some(dec("10"))],
                    total_score: Some(dec("67.3906")),
                    rank: Some(2),
                },
            ],
        }
    }

    #[test]
    fn rows_have_one_group_per_bid_and_flag_the_lowest_price() {
        let rows: Vec<Vec<Cell>> = sample().rows().collect();
        assert_eq!(rows[2].len(), 4 + 2 * 2);
        // Item 1: 300 is the lowest; item 2: 18 is.
        assert_eq!(rows[3][4], Cell::Price(dec("300"), true));
        assert_eq!(rows[3][6], Cell::Price(dec("350"), false));
        assert_eq!(rows[4][4], Cell::Price(dec("19.99"), false));
        assert_eq!(rows[4][5], Cell::Money(dec("3008.495")));
        assert_eq!(rows[4][6], Cell::Price(dec("18"), true));
        let last = rows.last().unwrap();
        assert_eq!(last[0], Cell::Text("Rang".into()));
        assert_eq!(last[5], Cell::Number(dec("1")));
    }

    #[test]
    fn csv_neutralises_formulas_and_follows_the_dialect() {
        let csv = sample().csv(Dialect::ExcelFr);
        assert!(csv.starts_with('\u{feff}'));
        assert!(
            csv.contains("\"'=HYPERLINK(\"\"x\"\") — prix unitaire HT\""),
            "{csv}"
        );
        assert!(csv.contains("\"BTP; Ouest — montant HT\""));
        assert!(
            csv.contains("2;45442100-8;m2;150,5;19,99;3008,50;18;2709,00"),
            "{csv}"
        );
        assert!(
            csv.contains("Note « Prix » (sur 60);;;;;60,00;;57,39"),
            "{csv}"
        );
        let plain = sample().csv(Dialect::Rfc4180);
        assert!(plain.contains("Total HT,,,,,6608.50,,6909.00"), "{plain}");
    }

    #[test]
    fn xlsx_builds() {
        let bytes = sample().xlsx().unwrap();
        assert_eq!(&bytes[..2], b"PK", "a zip file");
    }
}
