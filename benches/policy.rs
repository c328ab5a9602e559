//! Cost of one policy decision as the rule set grows, the first time it is asked:
//! `Engine::explain`, the evaluation `Engine::decide` runs on a request it has not
//! decided before (a repeat is answered from the engine's memo). Casbin scans every `p` rule per
//! decision, so the `p` cases show the linear cost; the `g` case is the shape production
//! should have: few `p` rules, many role and dataset links.
//!
//! Criterion reports means; the target is a p99, so `main` also times single decisions and
//! prints percentiles.

// A benchmark whose fixtures cannot be built should stop loudly, not limp on.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use kaifang::policy::{Engine, Rule, parse_csv};

const MODEL: &str = include_str!("../policies/model.conf");
const POLICY: &str = include_str!("../policies/policy.csv");
const DATASETS: usize = 10_000;
const USERS: usize = 100_000;
const ANALYST_ROLES: usize = 100;

fn build(rules: &[Rule]) -> Engine {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let start = Instant::now();
    let engine = rt
        .block_on(Engine::build(MODEL, rules))
        .expect("engine builds");
    eprintln!("built {} rules in {:?}", rules.len(), start.elapsed());
    engine
}

fn allow(sub: String, obj: String, act: &str) -> Rule {
    Rule::Allow {
        sub,
        obj,
        act: act.to_owned(),
    }
}

/// `n` grants, one per user, spread over the datasets.
fn p_rules(n: usize) -> Vec<Rule> {
    (0..n)
        .map(|i| {
            allow(
                format!("user:u{i}"),
                format!("dataset:d{}", i % DATASETS),
                "data:query",
            )
        })
        .collect()
}

/// The shipped rules, 100,000 users each holding one role, 100 analyst roles inheriting
/// `registered`, and 10,000 datasets each linked to a tier and one of 100 orgs.
fn g_rules() -> Vec<Rule> {
    let mut rules = parse_csv(POLICY).expect("policy.csv parses");
    rules.extend((0..ANALYST_ROLES).map(|k| Rule::Role {
        member: format!("role:analyst{k}"),
        role: "registered".to_owned(),
    }));
    rules.extend((0..USERS).map(|i| Rule::Role {
        member: format!("user:u{i}"),
        role: match i % 100 {
            0 => "role:publisher:us-dot-bts".to_owned(),
            1 => "role:reviewer:us-dot-bts".to_owned(),
            2 => "role:auditor".to_owned(),
            _ => format!("role:analyst{}", i % ANALYST_ROLES),
        },
    }));
    for d in 0..DATASETS {
        let tier = ["open", "conditional", "restricted"][d % 3];
        let org = if d % 100 == 0 {
            "us-dot-bts".to_owned()
        } else {
            format!("org{}", d % 100)
        };
        rules.push(Rule::Group {
            dataset: format!("dataset:d{d}"),
            group: format!("tier:{tier}"),
        });
        rules.push(Rule::Group {
            dataset: format!("dataset:d{d}"),
            group: format!("org:{org}"),
        });
    }
    rules
}

/// The i-th request: a signed-in user with a token role that no `g` line mentions.
fn request(i: usize, users: usize) -> (Vec<String>, String) {
    let ids = vec![
        format!("user:u{}", (i * 7919) % users),
        "role:researcher".to_owned(),
        "registered".to_owned(),
        "anonymous".to_owned(),
    ];
    (ids, format!("dataset:d{}", (i * 104_729) % DATASETS))
}

fn bench_decide(c: &mut Criterion, cases: &[(String, Engine, usize)]) {
    let mut group = c.benchmark_group("decide");
    for (name, engine, users) in cases {
        if engine.rules().len() >= 100_000 && name.starts_with("p_rules") {
            group.sample_size(10);
        } else {
            group.sample_size(100);
        }
        group.bench_with_input(BenchmarkId::from_parameter(name), engine, |b, engine| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                let (ids, obj) = request(i, *users);
                black_box(engine.explain(&ids, &obj, &[], "data:query").decision)
            });
        });
    }
    group.finish();
}

fn percentiles(name: &str, engine: &Engine, users: usize, samples: usize) {
    let mut times: Vec<Duration> = (0..samples)
        .map(|i| {
            let (ids, obj) = request(i, users);
            let start = Instant::now();
            black_box(engine.explain(&ids, &obj, &[], "data:query").decision);
            start.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((samples as f64 * q) as usize).min(samples - 1)];
    println!(
        "{name:>16}: p50 {:>10.1?}  p99 {:>10.1?}  max {:>10.1?}  ({samples} decisions)",
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

fn main() {
    let mut cases: Vec<(String, Engine, usize)> = [10, 1_000, 100_000]
        .into_iter()
        .map(|n| (format!("p_rules_{n}"), build(&p_rules(n)), n))
        .collect();
    cases.push(("g_links_100k".to_owned(), build(&g_rules()), USERS));

    // Guard against timing the error path: every case must reach a real decision.
    for (name, engine, users) in &cases {
        let (ids, obj) = request(0, *users);
        let d = engine.decide(&ids, &obj, &[], "data:query");
        assert!(!d.reason.contains("policy engine"), "{name}: {d:?}");
    }
    let (ids, _) = request(0, USERS);
    let open = cases
        .last()
        .map(|(_, e, _)| e.decide(&ids, "dataset:d0", &[], "data:query"));
    assert!(
        open.is_some_and(|d| d.allowed),
        "open dataset must be readable"
    );

    let mut criterion = Criterion::default().configure_from_args();
    bench_decide(&mut criterion, &cases);
    criterion.final_summary();

    for (name, engine, users) in &cases {
        let samples = if engine.rules().len() >= 100_000 && name.starts_with("p_rules") {
            30
        } else {
            20_000
        };
        percentiles(name, engine, *users, samples);
    }
}
