//! Benchmarks of the pure domain code on the hot paths: aggregating a campaign's needs into
//! lots (with procedure advice) and parsing decimals from the API. Run with `cargo bench`.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tenderpool::decimal::{Amount, Quantity, UnitPrice, VatRate};
use tenderpool::needs::aggregation::{aggregate, AggNeed, Level, Terms};
use tenderpool::needs::domain::{estimated_value, Unit};
use uuid::Uuid;

/// `n` needs from 30 members over 12 CPV codes, 3 units and 4 VAT rates (deterministic).
fn needs(n: usize) -> Vec<AggNeed> {
    let cpvs = [
        "45442100-8",
        "45421100-5",
        "45000000-7",
        "45310000-3",
        "45330000-9",
        "45260000-7",
        "09134100-8",
        "09100000-0",
        "44111000-1",
        "39830000-9",
        "50700000-2",
        "90910000-9",
    ];
    let units = [Unit::M2, Unit::Unit, Unit::L];
    let vats = ["0", "5.5", "10", "20"];
    (0..n)
        .map(|i| {
            let quantity =
                Quantity::parse(&format!("{}.{:03}", 1 + i % 997, i % 1000)).expect("quantity");
            let price =
                UnitPrice::parse(&format!("{}.{:04}", i % 503, (i * 7) % 10_000)).expect("price");
            AggNeed {
                id: tenderpool::ids::NeedId(Uuid::from_u128(i as u128)),
                member_code: format!("M{:02}", i % 30),
                cpv: cpvs[i % cpvs.len()].to_owned(),
                unit: units[i % units.len()],
                vat_rate: VatRate::parse(vats[i % vats.len()]).expect("vat"),
                quantity,
                estimated_value: estimated_value(quantity, price).expect("value"),
            }
        })
        .collect()
}

fn aggregation(c: &mut Criterion) {
    let thresholds =
        tenderpool::config::Settings::load_from(std::path::Path::new("/nonexistent"), &[])
            .expect("default settings")
            .procedures
            .thresholds;
    let date = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
    let mut group = c.benchmark_group("aggregate");
    for n in [100usize, 1_000, 10_000] {
        let input = needs(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter(|| {
                aggregate(
                    tenderpool::ids::CampaignId(Uuid::nil()),
                    &tenderpool::needs::aggregation::group(black_box(input)),
                    Terms {
                        level: Level::Group,
                        contract_months: 36,
                        launch_date: date,
                    },
                    &thresholds,
                )
            })
        });
    }
    group.finish();
}

fn decimals(c: &mut Criterion) {
    c.bench_function("parse and print an amount", |b| {
        b.iter(|| Amount::parse(black_box("123456789012.34")).map(|a| a.to_string()))
    });
    c.bench_function("refuse an exponent", |b| {
        b.iter(|| Amount::parse(black_box("1e3")).is_err())
    });
}

criterion_group!(benches, aggregation, decimals);
criterion_main!(benches);
