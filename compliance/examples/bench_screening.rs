//! Screening benchmark without criterion:
//! `cargo run --release -p rialto-compliance --example bench_screening [-- --show-misses]
//! [-- --review BP --block BP]` (thresholds in basis points, to tune them on the sample)
//!
//! Prints address-screening throughput on one core, name-screening latency (p50/p99, every
//! query of the labelled sample three times) against the whole SDN file for the index and
//! for the naive full scan, the estimated heap bytes of both structures, the labelled
//! precision/recall evaluation, and the process's peak RSS (`VmHWM`) at the end.

#[path = "../tests/support/eval.rs"]
mod eval;

use std::hint::black_box;
use std::time::{Duration, Instant};

use rialto_compliance::{AddressKey, NameIndex, NameThresholds, Score};

fn micros(d: Duration) -> String {
    let nanos = d.as_nanos();
    format!("{}.{:01} µs", nanos / 1000, (nanos % 1000) / 100)
}

fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

fn bench_addresses() {
    let list = eval::sanctions_list();
    let mut keys: Vec<AddressKey> = Vec::new();
    for (_, text) in eval::address_lists() {
        keys.extend(text.lines().filter_map(|l| AddressKey::parse(l).ok()));
    }
    // Half listed, half not: flip the last byte of EVM keys, append a letter to the others.
    let misses: Vec<AddressKey> = keys
        .iter()
        .map(|k| match k {
            AddressKey::Evm(b) => {
                let mut b = *b;
                b[19] ^= 0xff;
                AddressKey::Evm(b)
            }
            AddressKey::Text(t) => AddressKey::Text(format!("{t}x")),
        })
        .collect();
    let probes: Vec<&AddressKey> = keys.iter().chain(misses.iter()).collect();
    let rounds = 2_000;
    let start = Instant::now();
    let mut hits = 0usize;
    for _ in 0..rounds {
        for key in &probes {
            hits += usize::from(black_box(list.check(key)).is_some());
        }
    }
    let elapsed = start.elapsed();
    let lookups = (rounds * probes.len()) as u128;
    let per_sec = lookups * 1_000_000_000 / elapsed.as_nanos().max(1);
    println!(
        "address screening: {} distinct listed addresses, {lookups} lookups ({hits} hits) in {} ms \
         = {per_sec} lookups/s on one core ({} ns each); memory ≈ {} KiB",
        list.len(),
        elapsed.as_millis(),
        elapsed.as_nanos() / lookups.max(1),
        list.estimated_bytes() / 1024,
    );
    // Parsing from text included (what an API request pays).
    let texts: Vec<String> = probes.iter().map(|k| k.to_string()).collect();
    let start = Instant::now();
    for _ in 0..200 {
        for t in &texts {
            let key = AddressKey::parse(t).expect("own output parses");
            black_box(list.check(&key));
        }
    }
    let n = (200 * texts.len()) as u128;
    println!(
        "  including parsing the address text: {} lookups/s",
        n * 1_000_000_000 / start.elapsed().as_nanos().max(1)
    );
}

/// Every query `ROUNDS` times (matches counted in the first round only).
fn latencies(queries: &[String], search: impl Fn(&str) -> usize) -> (Vec<Duration>, usize) {
    const ROUNDS: usize = 3;
    let mut times = Vec::with_capacity(queries.len() * ROUNDS);
    let mut matches = 0;
    for round in 0..ROUNDS {
        for q in queries {
            let start = Instant::now();
            let found = black_box(search(q));
            times.push(start.elapsed());
            if round == 0 {
                matches += found;
            }
        }
    }
    times.sort();
    (times, matches)
}

fn bench_names(index: &NameIndex, queries: &[String]) {
    let t = NameThresholds::default();
    let (indexed, m1) = latencies(queries, |q| index.search(q, &t).len());
    let (naive, m2) = latencies(queries, |q| index.naive_search(q, &t).len());
    for (label, times, matches) in [("indexed", &indexed, m1), ("naive  ", &naive, m2)] {
        let total: Duration = times.iter().sum();
        println!(
            "name screening {label}: p50 {}  p99 {}  max {}  ({} timings, {} queries/s, {matches} matches in one round)",
            micros(percentile(times, 500)),
            micros(percentile(times, 990)),
            micros(times[times.len() - 1]),
            times.len(),
            (times.len() as u128) * 1_000_000_000 / total.as_nanos().max(1),
        );
    }
}

fn main() {
    let show_misses = std::env::args().any(|a| a == "--show-misses");
    bench_addresses();

    let started = Instant::now();
    let sdn = eval::sdn_list();
    let parsed = started.elapsed();
    let index = NameIndex::build(&sdn);
    println!(
        "sdn: {} entries, {} indexed names (alias join {:?}); parse {} ms, index build {} ms; \
         index memory ≈ {} KiB",
        sdn.entries.len(),
        index.len(),
        sdn.alias_stats,
        parsed.as_millis(),
        (started.elapsed() - parsed).as_millis(),
        index.estimated_bytes() / 1024,
    );

    let positives = eval::positives(&sdn, 300);
    let negatives = eval::negatives(&sdn);
    let partial = eval::partial_positives(&sdn, 300);
    println!(
        "labelled sample: {} positives (300 distinct SDN individuals/entities × 5 variants), \
         {} negatives (common first × last names and small-business names, SDN-exact ones \
         dropped); {} informational partial-name positives",
        positives.len(),
        negatives.len(),
        partial.len()
    );
    let mut queries: Vec<String> = positives.iter().map(|p| p.query.clone()).collect();
    queries.extend(negatives.iter().cloned());
    bench_names(&index, &queries);

    let arg = |flag: &str| {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1)?.parse::<u16>().ok())
    };
    let mut t = NameThresholds::default();
    t.review = arg("--review").map(Score).unwrap_or(t.review);
    t.block = arg("--block").map(Score).unwrap_or(t.block);
    println!(
        "evaluation (thresholds: block {} bp, review {} bp, block needs {}+ letters):",
        t.block.0, t.review.0, t.min_block_letters
    );
    eval::evaluate(&index, &t, &positives, &negatives, false).print("indexed");
    eval::evaluate(&index, &t, &positives, &negatives, true).print("naive  ");
    eval::evaluate(&index, &t, &partial, &[], false)
        .print("partial names, indexed (informational)");

    if show_misses {
        for p in &positives {
            if !index
                .search(&p.query, &t)
                .iter()
                .any(|m| m.ent_num == p.ent_num)
            {
                println!(
                    "missed {:?}: {:?} (ent_num {})",
                    p.variant, p.query, p.ent_num
                );
            }
        }
        for n in &negatives {
            if let Some(m) = index.search(n, &t).first() {
                println!(
                    "false hit: {n:?} → {:?} ({}, {:?})",
                    m.matched_name, m.score.0, m.strength
                );
            }
        }
    }
    // Peak resident set of the whole process (lists, index, sample, allocator slack).
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
    {
        println!("{}", line.split_whitespace().collect::<Vec<_>>().join(" "));
    }
}
