//! How screening treats ordinary people (issue 15, point 9):
//! `cargo run --release -p rialto-compliance --example common_names`
//!
//! Screens every name of `tests/data/common_names.tsv` (the commonest full names of 30
//! countries) against the shipped lists, as a payer's name with no other identifier and again
//! with the payer's nationality given as that country, and prints per country how many clear,
//! go to review and are blocked, and how many have a strong SDN match (which blocked on its
//! own before a name match needed a confirming identifier).

#[path = "../tests/support/common_names.rs"]
mod common_names;
#[path = "../tests/support/eval.rs"]
mod eval;

use std::collections::BTreeMap;
use std::time::Instant;

use rialto_compliance::{MatchStrength, NameThresholds};

fn main() {
    let lists = common_names::Lists::load();
    let sample = common_names::sample();
    let started = Instant::now();
    let (alone, with_nationality, blocked) = common_names::screen_all(&lists);
    let elapsed = started.elapsed();
    let mut strong: BTreeMap<_, usize> = BTreeMap::new();
    for (country, name) in &sample {
        let hits = lists.names.search(name, &NameThresholds::default());
        if hits.iter().any(|m| m.strength == MatchStrength::Strong) {
            *strong.entry(*country).or_default() += 1;
        }
    }
    println!("| country | names | clear | review | block | block with nationality | strong SDN match (blocked before) |");
    println!("|---|---|---|---|---|---|---|");
    let mut totals = [0usize; 6];
    for (country, [clear, review, block]) in &alone {
        let nat_block = with_nationality[country][2];
        let strong = strong.get(country).copied().unwrap_or(0);
        let names = clear + review + block;
        println!("| {country} | {names} | {clear} | {review} | {block} | {nat_block} | {strong} |");
        for (t, v) in totals
            .iter_mut()
            .zip([names, *clear, *review, *block, nat_block, strong])
        {
            *t += v;
        }
    }
    let [n, c, r, b, nb, s] = totals;
    println!(
        "| **all {}** | {n} | {c} | {r} ({}) | {b} | {nb} | {s} |",
        alone.len(),
        eval::pct(r, n)
    );
    println!(
        "\n{} screenings (2 per name) in {} ms; blocked: {blocked:?}",
        2 * sample.len(),
        elapsed.as_millis()
    );
}
