//! Throughput of every client against the raw-driver ceiling, in one process, interleaved,
//! against one server.
//!
//! Run: `cargo bench -p pgmq-harness --bench pgmq` (add `-- --quick` for a smoke run;
//! `BENCH_ROUNDS=n` sets the number of rounds, 5 by default; `BENCH_ONLY=outbox` runs only
//! the transactional-outbox comparison of `outbox.rs`).
//! Writes `BENCHMARKS.md` at the repository root (set `BENCH_OUT` to write elsewhere).
//!
//! Each measurement moves a fixed number of messages split across the clients' workers,
//! timed from a barrier that all workers (connections already open, statements already
//! prepared by a warm-up call) pass together to the last worker's finish. Rounds rotate the
//! order of the clients so table bloat and cache warmth do not favour anyone; the report
//! gives each client's median msgs/s over the rounds and its ratio to the raw ceiling.

mod clients;
mod outbox;
mod report;

use std::time::{Duration, Instant};

use clients::{ClientKind, Op, Payload};

/// What one run measures.
struct Plan {
    rounds: usize,
    ops: Vec<Op>,
    concurrency: Vec<usize>,
    payload_sizes: Vec<usize>,
    /// Messages moved per measurement, for single-message ops; batch ops move 20x this.
    messages: usize,
}

impl Plan {
    fn from_args() -> Self {
        let quick = std::env::args().any(|a| a == "--quick");
        Self {
            rounds: std::env::var("BENCH_ROUNDS")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(if quick { 1 } else { 5 }),
            ops: Op::ALL.to_vec(),
            concurrency: vec![1, 8],
            payload_sizes: vec![100, 1000],
            messages: if quick { 200 } else { 2000 },
        }
    }
}

/// One cell of the report: an op at a concurrency and payload, measured for every client.
#[derive(Debug)]
/// One cell of the report.
pub(crate) struct Cell {
    pub(crate) op: Op,
    pub(crate) clients: usize,
    pub(crate) payload: usize,
    /// (client, msgs/s of each round)
    pub(crate) results: Vec<(ClientKind, Vec<f64>)>,
}

fn main() {
    let plan = Plan::from_args();
    let url = pgmq_harness::database_url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let kinds = ClientKind::ALL;
    let started = Instant::now();
    let mut cells = Vec::new();
    let only_outbox = std::env::var("BENCH_ONLY").is_ok_and(|o| o == "outbox");
    for &op in plan.ops.iter().filter(|_| !only_outbox) {
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
    let out = std::env::var("BENCH_OUT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md").to_owned());
    let outbox = outbox::run(
        &runtime,
        &url,
        plan.rounds,
        &plan.concurrency,
        plan.messages,
    );
    let mut text = report::markdown(&cells, plan.rounds, started.elapsed());
    text.push_str(&outbox::markdown(&outbox, plan.rounds));
    std::fs::write(&out, text).expect("writing the report");
    eprintln!("wrote {out}");
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}
