//! Throughput of every client against the raw-driver ceiling, in one process, interleaved,
//! against one server; then the peak memory of a consumer by queue depth.
//!
//! Run: `cargo bench -p pgmq-harness --bench pgmq` (add `-- --quick` for a smoke run;
//! `BENCH_ROUNDS=n` sets the number of rounds, 5 by default; `BENCH_OPS=send,consumer,rss`
//! runs only the named ops, see [`clients::Op::key`], `outbox` the transactional-outbox
//! comparison of `outbox.rs` and `rss` the memory measurement;
//! `BENCH_CLIENTS=upstream,seaorm` measures only the named clients beside the raw ceiling,
//! see [`clients::ClientKind::key`]; `BENCH_CONCURRENCY=1` and `BENCH_PAYLOADS=100` pick the
//! client counts and payload sizes (1,8 and 100,1000 by default); `BENCH_CONSUMER_POOL=2`
//! gives each consumer backend two pooled connections (one by default, as the raw loop
//! has); `BENCH_SQLX_PING=1` gives sea-orm-pgmq's pool sqlx's default ping before every
//! acquire); `BENCH_RSS_DEPTHS=10000,100000` sets the queue depths of the memory
//! measurement (1,000 and 10,000 quick, 10,000 and 100,000 full).
//! Writes `BENCHMARKS.md` at the repository root (set `BENCH_OUT` to write elsewhere).
//!
//! Each measurement moves a fixed number of messages split across the clients' workers,
//! timed from a barrier that all workers (connections already open, statements already
//! prepared by a warm-up call) pass together to the last worker's finish. Rounds rotate the
//! order of the clients so table bloat and cache warmth do not favour anyone; the report
//! gives each client's median msgs/s over the rounds and its ratio to the raw ceiling (the
//! median of its per-round ratios to the ceiling's figure of the same round).

mod clients;
mod outbox;
mod report;
mod rss;

use std::time::{Duration, Instant};

use clients::{ClientKind, Op, Payload};

/// What one run measures.
struct Plan {
    quick: bool,
    rounds: usize,
    ops: Vec<Op>,
    /// The clients measured; the raw ceiling is always among them.
    clients: Vec<ClientKind>,
    concurrency: Vec<usize>,
    payload_sizes: Vec<usize>,
    /// Messages moved per measurement, for single-message ops; others scale it.
    messages: usize,
    /// Whether to run the transactional-outbox comparison (`outbox.rs`).
    outbox: bool,
    /// Queue depths the memory measurement drains; empty to skip it.
    rss_depths: Vec<usize>,
}

impl Plan {
    fn from_args() -> Self {
        let quick = std::env::args().any(|a| a == "--quick");
        let only = std::env::var("BENCH_OPS").ok();
        let wanted = |key: &str| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|k| k.trim() == key))
        };
        Self {
            quick,
            rounds: std::env::var("BENCH_ROUNDS")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(if quick { 1 } else { 5 }),
            ops: Op::ALL.into_iter().filter(|op| wanted(op.key())).collect(),
            clients: {
                let only = std::env::var("BENCH_CLIENTS").ok();
                ClientKind::ALL
                    .into_iter()
                    .filter(|k| {
                        *k == ClientKind::Raw
                            || only
                                .as_deref()
                                .is_none_or(|o| o.split(',').any(|c| c.trim() == k.key()))
                    })
                    .collect()
            },
            concurrency: list_var("BENCH_CONCURRENCY").unwrap_or_else(|| vec![1, 8]),
            payload_sizes: list_var("BENCH_PAYLOADS").unwrap_or_else(|| vec![100, 1000]),
            messages: if quick { 200 } else { 2000 },
            outbox: wanted("outbox"),
            rss_depths: match (wanted("rss"), quick) {
                (false, _) => vec![],
                (true, true) => list_var("BENCH_RSS_DEPTHS").unwrap_or_else(|| vec![1_000, 10_000]),
                (true, false) => {
                    list_var("BENCH_RSS_DEPTHS").unwrap_or_else(|| vec![10_000, 100_000])
                }
            },
        }
    }
}

/// A comma-separated list of numbers from the environment variable `name`, if set.
fn list_var(name: &str) -> Option<Vec<usize>> {
    let text = std::env::var(name).ok()?;
    let list = text
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {n:?} is not a number"))
        })
        .collect();
    Some(list)
}

/// One cell of the report: an op at a concurrency and payload, measured for every client.
#[derive(Debug)]
pub(crate) struct Cell {
    pub(crate) op: Op,
    pub(crate) clients: usize,
    pub(crate) payload: usize,
    /// (client, msgs/s of each round); no rounds for a client that does not run the op.
    pub(crate) results: Vec<(ClientKind, Vec<f64>)>,
}

/// The runtime every measurement runs on: two workers, as many as the machine has cores.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn main() {
    if rss::child_mode() {
        return;
    }
    let plan = Plan::from_args();
    let url = pgmq_harness::database_url();
    let runtime = runtime();
    let kinds = plan.clients.as_slice();
    let started = Instant::now();
    let load_at_start = report::load_average();
    let mut cells = Vec::new();
    for &op in &plan.ops {
        for &payload_size in &plan.payload_sizes {
            for &clients in &plan.concurrency {
                let payload = Payload::of_size(payload_size);
                let total = plan.messages * op.scale();
                let mut results: Vec<(ClientKind, Vec<f64>)> =
                    kinds.iter().map(|k| (*k, Vec::new())).collect();
                for round in 0..plan.rounds {
                    for i in 0..kinds.len() {
                        let idx = (i + round) % kinds.len();
                        let kind = kinds[idx];
                        if !kind.runs(op) {
                            continue;
                        }
                        let elapsed = runtime
                            .block_on(clients::measure(&url, kind, op, clients, total, &payload));
                        results[idx]
                            .1
                            .push(op.messages_moved(total) as f64 / secs(elapsed));
                    }
                }
                let cell = Cell {
                    op,
                    clients,
                    payload: payload_size,
                    results,
                };
                eprintln!("{}", report::line(&cell));
                cells.push(cell);
            }
        }
    }
    let memory = rss::measure(&runtime, &url, &plan.rss_depths);
    let out = std::env::var("BENCH_OUT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md").to_owned());
    let outbox_section = if plan.outbox {
        let rows = outbox::run(
            &runtime,
            &url,
            plan.rounds,
            &plan.concurrency,
            plan.messages,
        );
        outbox::markdown(&rows, plan.rounds)
    } else {
        String::new()
    };
    let previous = std::fs::read_to_string(&out).ok();
    let run = report::RunInfo {
        rounds: plan.rounds,
        quick: plan.quick,
        took: started.elapsed(),
        load_at_start,
    };
    let text = report::markdown(&cells, &memory, &outbox_section, &run, previous.as_deref());
    std::fs::write(&out, text).expect("writing the report");
    eprintln!("wrote {out}");
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}
