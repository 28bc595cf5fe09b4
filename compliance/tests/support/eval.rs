//! Shared by the tests and the benchmark example: loading the shipped `data/ofac/` files and
//! the labelled name-screening sample (positives derived from real SDN names, negatives from
//! common non-sanctioned names).
#![allow(dead_code)]

use std::path::PathBuf;

use rialto_compliance::names::normalize;
use rialto_compliance::ofac::SdnType;
use rialto_compliance::{
    AssetListText, NameIndex, NameThresholds, OfacManifest, SanctionsList, SdnInput, SdnList,
};

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/ofac")
}

fn read(relative: &str) -> String {
    let path = data_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn manifest() -> OfacManifest {
    OfacManifest::parse(&read("SOURCE")).expect("data/ofac/SOURCE")
}

/// `(asset, text)` for every shipped per-asset list.
pub fn address_lists() -> Vec<(String, String)> {
    let mut lists: Vec<(String, String)> = std::fs::read_dir(data_dir())
        .expect("data/ofac")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let asset = name
                .strip_prefix("sanctioned_addresses_")?
                .strip_suffix(".txt")?
                .to_owned();
            Some((asset, read(&name)))
        })
        .collect();
    lists.sort();
    lists
}

pub fn sanctions_list() -> SanctionsList {
    let lists = address_lists();
    let texts: Vec<AssetListText<'_>> = lists
        .iter()
        .map(|(asset, text)| AssetListText { asset, text })
        .collect();
    SanctionsList::from_lists(&texts, &manifest().addresses_commit).expect("address lists")
}

pub fn sdn_list() -> SdnList {
    let m = manifest();
    let sdn = read(&m.sdn);
    let aliases = m.aliases.map(|(alt, old)| (read(&alt), read(&old)));
    SdnList::parse(SdnInput {
        sdn_csv: &sdn,
        aliases: aliases.as_ref().map(|(a, o)| (a.as_str(), o.as_str())),
    })
    .expect("sdn csv")
}

/// Deterministic xorshift, so the sample is the same on every run and machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Exact,
    Typo,
    Reordered,
    Accented,
    ReorderedTypo,
    /// Informational, from [`partial_positives`]: not part of the recall floor.
    WordDropped,
    WordAdded,
}

pub struct Positive {
    pub query: String,
    pub ent_num: u32,
    pub variant: Variant,
}

/// One edit at a random letter anywhere in the name, first letters included (so the index's
/// recall cost shows up honestly): a substitution (the next letter of the alphabet), a
/// deletion, a doubled letter, or a swap with the next letter. Rolls again when the edit left
/// the name unchanged (a swap of two equal letters).
fn typo(name: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_alphabetic())
        .collect();
    loop {
        let at = letters[rng.below(letters.len())];
        let mut out = chars.clone();
        match rng.below(4) {
            0 => {
                let c = out[at].to_ascii_lowercase();
                out[at] = if c == 'z' { 'a' } else { (c as u8 + 1) as char };
            }
            1 => {
                out.remove(at);
            }
            2 => out.insert(at, out[at]),
            _ if at + 1 < out.len() && out[at + 1].is_ascii_alphabetic() => out.swap(at, at + 1),
            _ => continue,
        }
        let typed: String = out.into_iter().collect();
        if typed.to_lowercase() != name.to_lowercase() {
            return typed;
        }
    }
}

/// "LAST, First Middle" → "First Middle LAST"; entities get their words rotated.
fn reorder(name: &str) -> String {
    if let Some((last, first)) = name.split_once(", ") {
        return format!("{first} {last}");
    }
    let mut words: Vec<&str> = name.split_whitespace().collect();
    words.rotate_left(1);
    words.join(" ")
}

fn accent(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| match c {
            'a' => 'á',
            'e' => 'é',
            'o' => 'ö',
            'u' => 'ü',
            'n' => 'ñ',
            'c' => 'ç',
            c => c,
        })
        .collect()
}

/// `per_variant` distinct SDN individuals and entities (vessels and aircraft are not payment
/// parties) whose primary name has 2+ words and 8+ letters, drawn without replacement with a
/// fixed seed, each turned into every variant. The label is the entry's ent_num.
pub fn positives(list: &SdnList, per_variant: usize) -> Vec<Positive> {
    let mut rng = Rng::new(0x5eed_0fac);
    let mut eligible: Vec<_> = list
        .entries
        .iter()
        .filter(|e| matches!(e.sdn_type, SdnType::Individual | SdnType::Entity))
        .filter(|e| {
            let n = normalize(&e.name);
            n.tokens.len() >= 2 && n.tokens.iter().map(|t| t.chars().count()).sum::<usize>() >= 8
        })
        .collect();
    assert!(
        eligible.len() >= per_variant,
        "only {} eligible SDN names",
        eligible.len()
    );
    // Partial Fisher-Yates: the first `per_variant` slots become a uniform sample.
    for i in 0..per_variant {
        let j = i + rng.below(eligible.len() - i);
        eligible.swap(i, j);
    }
    let mut out = Vec::new();
    for e in &eligible[..per_variant] {
        for variant in [
            Variant::Exact,
            Variant::Typo,
            Variant::Reordered,
            Variant::Accented,
            Variant::ReorderedTypo,
        ] {
            let query = match variant {
                Variant::Exact => e.name.clone(),
                Variant::Typo => typo(&e.name, &mut rng),
                Variant::Reordered => reorder(&e.name),
                Variant::Accented => accent(&reorder(&e.name)),
                Variant::ReorderedTypo => typo(&reorder(&e.name), &mut rng),
                Variant::WordDropped | Variant::WordAdded => continue,
            };
            out.push(Positive {
                query,
                ent_num: e.ent_num,
                variant,
            });
        }
    }
    out
}

/// Informational (no floor; real payers shorten and lengthen names): `per_kind` distinct SDN
/// individuals with one of their 3+ words dropped (words split at spaces and commas, so a
/// hyphenated surname is one word), and `per_kind` with a common given name added.
pub fn partial_positives(list: &SdnList, per_kind: usize) -> Vec<Positive> {
    let mut rng = Rng::new(0x0dd_ba11);
    let words = |name: &str| -> Vec<String> {
        name.split([' ', ','])
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut individuals: Vec<_> = list
        .entries
        .iter()
        .filter(|e| e.sdn_type == SdnType::Individual)
        .collect();
    for i in 0..individuals.len() {
        let j = i + rng.below(individuals.len() - i);
        individuals.swap(i, j);
    }
    let mut out = Vec::new();
    let long = individuals
        .iter()
        .filter(|e| words(&e.name).len() >= 3)
        .take(per_kind);
    for e in long {
        let mut w = words(&e.name);
        w.remove(rng.below(w.len()));
        out.push(Positive {
            query: w.join(" "),
            ent_num: e.ent_num,
            variant: Variant::WordDropped,
        });
    }
    let added = ["Ali", "Maria", "James", "Mohammed", "Ivanovich", "Lee"];
    let any = individuals
        .iter()
        .filter(|e| words(&e.name).len() >= 2)
        .take(per_kind);
    for e in any {
        let query = format!("{} {}", e.name, added[rng.below(added.len())]);
        out.push(Positive {
            query,
            ent_num: e.ent_num,
            variant: Variant::WordAdded,
        });
    }
    out
}

/// Common given names and surnames from several cultures (English, German, French, Italian,
/// Spanish, Polish, Scandinavian, Dutch, Nigerian, Indian, Japanese, Chinese, Arabic, Russian,
/// Vietnamese, Korean), crossed in full.
const FIRST: [&str; 40] = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Sophie",
    "Lukas",
    "Emma",
    "Mateo",
    "Lucia",
    "Hiroshi",
    "Yuki",
    "Wei",
    "Priya",
    "Arjun",
    "Olga",
    "Pierre",
    "Camille",
    "Chloe",
    "Noah",
    "Liam",
    "Giulia",
    "Sven",
    "Ahmed",
    "Fatima",
    "Ivan",
    "Natalia",
    "Carlos",
    "Ana",
    "Omar",
    "Sara",
    "Mei",
    "Tuan",
];
const LAST: [&str; 40] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Schneider",
    "Fischer",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Suzuki",
    "Kowalski",
    "Nielsen",
    "Jansen",
    "Okafor",
    "Garcia",
    "Rodriguez",
    "Ivanova",
    "Chen",
    "Wang",
    "Khan",
    "Haddad",
    "Nguyen",
    "Kim",
    "Sharma",
];
const BUSINESSES: [&str; 30] = [
    "Blue Harbor Coffee Roasters",
    "Northwind Traders",
    "Acme Logistics LLC",
    "Sunrise Bakery",
    "Green Valley Farms",
    "Pixel Forge Studios",
    "Riverside Dental Clinic",
    "Atlas Bicycle Works",
    "Maple Leaf Consulting",
    "Golden Gate Florists",
    "Silver Birch Books",
    "Harborview Hotel",
    "Quantum Leap Software",
    "Cedar Creek Brewing",
    "Lighthouse Yoga",
    "Urban Sprout Market",
    "Copper Kettle Cafe",
    "Evergreen Landscaping",
    "Bright Path Tutoring",
    "Summit Outdoor Gear",
    "Red Lantern Noodle House",
    "Alpine Ski Rentals",
    "Oakwood Furniture GmbH",
    "Seaside Surf Shop",
    "Nordic Design Studio",
    "Little Sprouts Daycare",
    "Iron Horse Fitness",
    "Lotus Garden Spa",
    "Westbrook Veterinary Clinic",
    "Starlight Cinema",
];

/// Common non-sanctioned names: every FIRST × LAST pair (1,600) plus small-business names.
/// Any that equals an SDN name or alias after normalisation is dropped, so the labels are
/// right (a near-equal one stays a negative: flagging it for review counts as a false hit).
pub fn negatives(list: &SdnList) -> Vec<String> {
    let sdn_keys: std::collections::HashSet<String> = list
        .entries
        .iter()
        .flat_map(|e| std::iter::once(&e.name).chain(e.aliases.iter().map(|(_, a)| a)))
        .map(|n| normalize(n).key)
        .collect();
    let mut out: Vec<String> = Vec::new();
    for first in FIRST {
        for last in LAST {
            out.push(format!("{first} {last}"));
        }
    }
    out.extend(BUSINESSES.iter().map(|b| (*b).to_owned()));
    out.retain(|n| !sdn_keys.contains(&normalize(n).key));
    out
}

/// Integer percentage with one decimal, so no float arithmetic is needed.
pub fn pct(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "n/a".into();
    }
    let tenths = part * 1000 / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

pub struct EvalReport {
    pub positives: usize,
    pub found: usize,
    pub found_strong: usize,
    pub negatives: usize,
    pub false_hits: usize,
    pub false_strong: usize,
    pub per_variant: Vec<(Variant, usize, usize)>,
}

impl EvalReport {
    pub fn print(&self, label: &str) {
        let tp = self.found;
        println!(
            "{label}: recall {} ({}/{}), recall at Block {} ; false-positive rate {} ({}/{}), \
             false Block {} ; precision {}",
            pct(tp, self.positives),
            tp,
            self.positives,
            pct(self.found_strong, self.positives),
            pct(self.false_hits, self.negatives),
            self.false_hits,
            self.negatives,
            pct(self.false_strong, self.negatives),
            pct(tp, tp + self.false_hits),
        );
        for (variant, n, hit) in &self.per_variant {
            println!("  {variant:?}: {} ({hit}/{n})", pct(*hit, *n));
        }
    }
}

/// Recall on positives (the right ent_num among the matches) and false hits on negatives.
pub fn evaluate(
    index: &NameIndex,
    thresholds: &NameThresholds,
    positives: &[Positive],
    negatives: &[String],
    naive: bool,
) -> EvalReport {
    let search = |q: &str| {
        if naive {
            index.naive_search(q, thresholds)
        } else {
            index.search(q, thresholds)
        }
    };
    let mut report = EvalReport {
        positives: positives.len(),
        found: 0,
        found_strong: 0,
        negatives: negatives.len(),
        false_hits: 0,
        false_strong: 0,
        per_variant: Vec::new(),
    };
    for p in positives {
        let hits = search(&p.query);
        let hit = hits.iter().find(|m| m.ent_num == p.ent_num);
        let slot = match report
            .per_variant
            .iter_mut()
            .find(|(v, _, _)| *v == p.variant)
        {
            Some(slot) => slot,
            None => {
                report.per_variant.push((p.variant, 0, 0));
                report.per_variant.last_mut().expect("just pushed")
            }
        };
        slot.1 += 1;
        if let Some(m) = hit {
            slot.2 += 1;
            report.found += 1;
            if m.strength == rialto_compliance::MatchStrength::Strong {
                report.found_strong += 1;
            }
        }
    }
    for n in negatives {
        let hits = search(n);
        if !hits.is_empty() {
            report.false_hits += 1;
        }
        if hits
            .iter()
            .any(|m| m.strength == rialto_compliance::MatchStrength::Strong)
        {
            report.false_strong += 1;
        }
    }
    report
}
