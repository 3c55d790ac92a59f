//! Scale and queue health (issue #23): how the consumers behave as the work grows, under
//! the usual database pressures and over a long run, against one PostgreSQL server.
//!
//! Run: `cargo bench -p pgmq-harness --bench scale -- --full` for the measurement (about
//! 35 minutes, on a quiet machine; the pressure phases last a minute each, as long as
//! autovacuum's default naptime), or `-- --quick` for a smoke
//! run of a few minutes whose figures are labelled as no measurement. Without either, the
//! quick sizes are used. Parts: `SCALE_PARTS=workers,pressure,sustained` (all by default).
//! Sizes: `SCALE_ROUNDS` (rounds of the workers part), `SCALE_HANDLERS=1,16,64,256`,
//! `SCALE_SUSTAINED=1000000` (messages), `SCALE_LOAD=50` (offered load, percent of the
//! measured maximum), `SCALE_POOL=2` (connections of a consumer runtime),
//! `SCALE_LOOP_POOL=64` (most connections the read(1) loops share). Writes the "Scale"
//! section at the end of BENCHMARKS.md, keeping the rest of the file (`SCALE_OUT` names
//! another file to write the section into).
//!
//! The three parts:
//! - workers (`workers.rs`): msgs/s with 1, 16, 64 and 256 concurrent handlers of 1 ms on
//!   a queue of 256-byte messages kept full, for the diesel-async, SeaORM and sync
//!   Diesel consumer runtimes beside a read(1)-handle-delete loop per worker on the same
//!   driver;
//! - pressure (`pressure.rs`): a steady offered load through the diesel-async consumer,
//!   clean, with an idle-in-transaction session holding an xid, with four
//!   `REPEATABLE READ` scanners, and recovering; for plain, unlogged, partitioned and
//!   plain-with-`TableStorage` queues;
//! - sustained (`sustained.rs`): N messages through producers and the consumer, by tenths,
//!   with the server's autovacuum as found and with the queue's `TableStorage` settings.

mod common;
mod pressure;
mod report;
mod sustained;
mod workers;

use std::time::{Duration, Instant};

use common::{Storage, env_number};

/// What one run measures.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The smoke sizes: figures that show the bench works, not how the crates perform.
    pub(crate) quick: bool,
    pub(crate) workers: bool,
    pub(crate) pressure: bool,
    pub(crate) sustained_part: bool,
    pub(crate) rounds: usize,
    pub(crate) handlers: Vec<usize>,
    /// Time a consumer runs before its window opens.
    pub(crate) warm_up: Duration,
    /// The measured window of the workers part (and of the pressure part's maximum).
    pub(crate) window: Duration,
    /// Length of each pressure phase.
    pub(crate) phase: Duration,
    /// Offered load as a fraction of the measured maximum.
    pub(crate) load_fraction: f64,
    pub(crate) storages: Vec<Storage>,
    /// Messages of the sustained part.
    pub(crate) sustained: usize,
}

impl Plan {
    fn from_args() -> Self {
        let full = std::env::args().any(|a| a == "--full")
            || std::env::var_os("SCALE_FULL").is_some_and(|v| v != "0");
        let quick = !full;
        let parts = std::env::var("SCALE_PARTS").ok();
        let wanted = |key: &str| {
            parts
                .as_deref()
                .is_none_or(|p| p.split(',').any(|k| k.trim() == key))
        };
        Self {
            quick,
            workers: wanted("workers"),
            pressure: wanted("pressure"),
            sustained_part: wanted("sustained"),
            rounds: env_number("SCALE_ROUNDS").unwrap_or(if quick { 1 } else { 3 }),
            handlers: list_var("SCALE_HANDLERS").unwrap_or_else(|| vec![1, 16, 64, 256]),
            warm_up: Duration::from_millis(if quick { 500 } else { 2_000 }),
            window: Duration::from_secs(if quick { 2 } else { 10 }),
            phase: Duration::from_secs(if quick { 3 } else { 60 }),
            load_fraction: env_number("SCALE_LOAD").unwrap_or(50) as f64 / 100.0,
            storages: vec![
                Storage::Plain,
                Storage::Unlogged,
                Storage::Partitioned,
                Storage::Tuned,
            ],
            sustained: env_number("SCALE_SUSTAINED").unwrap_or(if quick {
                20_000
            } else {
                1_000_000
            }),
        }
    }
}

/// A comma-separated list of numbers from the environment variable `name`, if set.
fn list_var(name: &str) -> Option<Vec<usize>> {
    let text = std::env::var(name).ok()?;
    Some(
        text.split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: {n:?} is not a number"))
            })
            .collect(),
    )
}

fn main() {
    let plan = Plan::from_args();
    let url = pgmq_harness::database_url();
    // Two workers, as many as the machine the figures were first taken on has cores.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let machine = runtime.block_on(report::Machine::read(&url));
    // The sustained part first: its peak memory is then this process's, not an earlier
    // part's (256 read loops hold more than one consumer does).
    let sustained = plan
        .sustained_part
        .then(|| sustained::run(&runtime, &url, &plan));
    let workers = if plan.workers {
        workers::run(&runtime, &url, &plan)
    } else {
        Vec::new()
    };
    let pressure = plan.pressure.then(|| pressure::run(&runtime, &url, &plan));
    let out = std::env::var("SCALE_OUT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md").to_owned());
    let section = report::markdown(&report::Results {
        plan: &plan,
        machine: &machine,
        took: started.elapsed(),
        workers: &workers,
        pressure: pressure.as_ref(),
        sustained: sustained.as_deref(),
    });
    let doc = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::write(&out, report::replace_section(&doc, &section)).expect("writing the report");
    eprintln!("wrote {out}");
}
