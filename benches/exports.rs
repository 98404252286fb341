//! The bid comparison of a large lot: 2 000 items × 50 bids, written as XLSX (constant-memory
//! worksheet) and CSV. Prints the time of each and the process's peak resident memory after
//! building the input and after each export, so a regression in memory shows. Run with
//! `cargo bench --bench exports` (figures in docs/performance.md).

use std::collections::HashMap;
use std::time::Instant;

use rust_decimal::Decimal;
use tenderpool::contracts::domain::Dialect;
use tenderpool::exports::comparison::{Bid, Comparison, Item};
use tenderpool::ids::TenderItemId;

const ITEMS: usize = 2_000;
const BIDS: usize = 50;

/// Peak resident set size of this process so far, in MiB: `VmHWM` of /proc/self/status
/// (Linux). Not `getrusage`, whose `ru_maxrss` carries over the parent's peak across exec.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn input() -> Comparison {
    let items: Vec<Item> = (0..ITEMS)
        .map(|n| Item {
            id: TenderItemId::new(),
            position: u32::try_from(n + 1).unwrap_or(u32::MAX),
            cpv: "45442100-8".into(),
            unit: "m2".into(),
            quantity: Decimal::new(i64::try_from(100 + n).unwrap_or(0) * 10 + 5, 1),
        })
        .collect();
    let bids = (0..BIDS)
        .map(|b| {
            let prices: HashMap<TenderItemId, Decimal> = items
                .iter()
                .enumerate()
                .map(|(n, i)| {
                    let cents = i64::try_from(1_000 + (n * 37 + b * 101) % 9_000).unwrap_or(0);
                    (i.id, Decimal::new(cents, 2))
                })
                .collect();
            let total = items
                .iter()
                .map(|i| prices.get(&i.id).copied().unwrap_or_default() * i.quantity)
                .sum();
            Bid {
                supplier_name: format!("Fournisseur {b:02}"),
                prices,
                total,
                scores: vec![
                    Some(Decimal::new(5_000 + i64::try_from(b).unwrap_or(0), 2)),
                    Some(Decimal::from(30)),
                ],
                total_score: Some(Decimal::new(8_000 + i64::try_from(b).unwrap_or(0), 2)),
                rank: Some(u32::try_from(b + 1).unwrap_or(0)),
            }
        })
        .collect();
    Comparison {
        title: "Analyse des offres — lot de 2 000 articles × 50 offres".into(),
        items,
        criteria: vec![
            ("Prix".into(), Decimal::from(60)),
            ("Valeur technique".into(), Decimal::from(40)),
        ],
        bids,
    }
}

fn main() {
    let start_rss = peak_rss_mib();
    let t = Instant::now();
    let table = input();
    println!(
        "input {ITEMS} items × {BIDS} bids built in {:.0} ms; peak RSS {:.1} MiB (process start {:.1} MiB)",
        t.elapsed().as_secs_f64() * 1000.0,
        peak_rss_mib(),
        start_rss
    );
    let t = Instant::now();
    let xlsx = match table.xlsx() {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("xlsx failed: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "xlsx {:.1} MiB in {:.0} ms; peak RSS {:.1} MiB",
        xlsx.len() as f64 / 1_048_576.0,
        t.elapsed().as_secs_f64() * 1000.0,
        peak_rss_mib()
    );
    drop(xlsx);
    let t = Instant::now();
    let csv = table.csv(Dialect::ExcelFr);
    println!(
        "csv (excel-fr) {:.1} MiB in {:.0} ms; peak RSS {:.1} MiB",
        csv.len() as f64 / 1_048_576.0,
        t.elapsed().as_secs_f64() * 1000.0,
        peak_rss_mib()
    );
}
