//! How often endpoint discovery finds what was meant: recall@1 and recall@5
//! over the committed set of agency requests (`discovery_set.json`), the
//! held-out quarter apart so tuning on the rest shows as a gap.
//!
//! Run with `cargo bench -p agencybot-agent --bench discovery`
//! (`-- --misses` lists every request whose endpoint is not first).

use std::collections::BTreeMap;

use agencybot_agent::find_endpoints;
use agencybot_ofapi::Catalog;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    query: String,
    area: String,
    expected: Vec<String>,
    held_out: bool,
}

#[derive(Default)]
struct Tally {
    cases: usize,
    at_1: usize,
    at_5: usize,
}

impl Tally {
    fn add(&mut self, rank: Option<usize>) {
        self.cases += 1;
        self.at_1 += usize::from(rank == Some(0));
        self.at_5 += usize::from(rank.is_some_and(|r| r < 5));
    }

    fn line(&self, name: &str) -> String {
        let percent = |n: usize| 100.0 * n as f64 / self.cases.max(1) as f64;
        format!(
            "{name:<22} {:>4} requests  recall@1 {:>5.1} %  recall@5 {:>5.1} %",
            self.cases,
            percent(self.at_1),
            percent(self.at_5)
        )
    }
}

fn main() {
    let show_misses = std::env::args().any(|a| a == "--misses");
    let cases: Vec<Case> = serde_json::from_str(include_str!("discovery_set.json"))
        .expect("discovery_set.json is a list of {query, area, expected, held_out}");
    let catalog = Catalog::onlyfans();
    for case in &cases {
        for id in &case.expected {
            assert!(
                catalog.get(id).is_some(),
                "`{}` expects `{id}`, which the catalog lacks",
                case.query
            );
        }
    }
    let mut tuning = Tally::default();
    let mut held_out = Tally::default();
    let mut areas: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for case in &cases {
        let found = find_endpoints(&case.query, 5);
        let rank = found.iter().position(|e| case.expected.contains(&e.id));
        if case.held_out {
            held_out.add(rank);
        } else {
            tuning.add(rank);
        }
        areas.entry(&case.area).or_default().add(rank);
        if rank != Some(0) {
            let got: Vec<&str> = found.iter().map(|e| e.id.as_str()).collect();
            misses.push(format!(
                "{} {:?} (rank {}) wants {:?}, got {:?}",
                if case.held_out {
                    "held-out"
                } else {
                    "tuning  "
                },
                case.query,
                rank.map_or("-".to_owned(), |r| (r + 1).to_string()),
                case.expected,
                got
            ));
        }
    }
    println!("endpoint discovery over {} requests", cases.len());
    println!("{}", tuning.line("tuning set"));
    println!("{}", held_out.line("held-out set"));
    let all = Tally {
        cases: tuning.cases + held_out.cases,
        at_1: tuning.at_1 + held_out.at_1,
        at_5: tuning.at_5 + held_out.at_5,
    };
    println!("{}", all.line("all"));
    println!("by area:");
    for (area, tally) in &areas {
        println!("  {}", tally.line(area));
    }
    if show_misses {
        println!("not first ({}):", misses.len());
        for miss in &misses {
            println!("  {miss}");
        }
    }
}
