//! Worker scaling: messages handled per second by 1, 16, 64 and 256 concurrent handlers
//! of 1 ms each, on a queue of 256-byte messages that is kept full, for each consumer
//! beside the one-message-per-read loop on the same driver.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_orm_core::consumer::CancellationToken;

use crate::Plan;
use crate::common::{self, Admin, ConsumerKind, Job, Setup, Storage, Tally};

const QUEUE: &str = "scale_workers";

/// One consumer at one handler count: msgs/s of each round; empty when it was not run.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) kind: ConsumerKind,
    pub(crate) handlers: usize,
    pub(crate) rounds: Vec<f64>,
}

pub(crate) fn run(runtime: &tokio::runtime::Runtime, url: &str, plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::new();
    for &handlers in &plan.handlers {
        for kind in ConsumerKind::ALL {
            let mut row = Row {
                kind,
                handlers,
                rounds: Vec::new(),
            };
            for _ in 0..plan.rounds {
                row.rounds
                    .push(runtime.block_on(measure(url, kind, handlers, plan)));
            }
            eprintln!(
                "workers: {:<28} {handlers:>3} handlers: {}",
                kind.label(),
                row.rounds
                    .iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            rows.push(row);
        }
    }
    rows
}

/// Handled msgs/s of one consumer over the measured window, after a warm-up.
async fn measure(url: &str, kind: ConsumerKind, handlers: usize, plan: &Plan) -> f64 {
    let admin = Admin::connect(url).await;
    admin
        .recreate(QUEUE, Storage::Plain)
        .await
        .expect("plain queue");
    // Full from the start and topped up while it runs: never fewer than 2 000 visible
    // messages (more than 256 handlers take in 1 ms), so the figure is the consumer's.
    admin.fill(QUEUE, 5_000, &Job::of_256_bytes()).await;
    let stop_fill = CancellationToken::new();
    let filler = common::keep_full(url.to_owned(), QUEUE, 4_000, 2_000, stop_fill.clone());
    let tally = Tally::new();
    let cancel = CancellationToken::new();
    let setup = Setup {
        handlers,
        work: Duration::from_millis(1),
        record: false,
    };
    let tasks = common::start(kind, url, QUEUE, setup, Arc::clone(&tally), cancel.clone()).await;
    tokio::time::sleep(plan.warm_up).await;
    let (start, before) = (Instant::now(), tally.handled());
    tokio::time::sleep(plan.window).await;
    let (took, after) = (start.elapsed(), tally.handled());
    common::stop(tasks, &cancel).await;
    stop_fill.cancel();
    filler.await.expect("filler");
    (after - before) as f64 / took.as_secs_f64()
}
