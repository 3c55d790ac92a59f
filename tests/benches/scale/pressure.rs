//! Under pressure: a steady offered load (a fixed fraction of the consumer's maximum,
//! measured on each kind of queue) through the diesel-async consumer, in four phases: clean; one session idle in
//! a transaction that holds an xid; four `REPEATABLE READ` sessions scanning the queue
//! table; recovery once they are gone. Both pressures pin the MVCC horizon, so vacuum
//! cannot reclaim the rows every read and acknowledgement leave dead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_orm_core::QueueName;
use pgmq_orm_core::consumer::CancellationToken;
use tokio::task::JoinHandle;

use crate::Plan;
use crate::common::{self, Admin, ConsumerKind, Job, Setup, Storage, Tally};

const QUEUE: &str = "scale_pressure";
/// Handlers of the consumer under pressure, each doing 1 ms of work.
pub(crate) const HANDLERS: usize = 64;
/// The longest recovery waited for, in phases: a minute's pressure leaves a backlog the
/// consumer drains at its maximum less the offered load.
pub(crate) const RECOVERY_PHASES: u32 = 4;

/// What one phase measured.
#[derive(Debug)]
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) took: Duration,
    pub(crate) msgs_per_sec: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Dead tuples and sizes of the queue table at the phase's end.
    pub(crate) dead_tuples: i64,
    pub(crate) table_bytes: i64,
    pub(crate) index_bytes: i64,
    /// For a partitioned queue, the rows in pg_partman's default partition (messages
    /// that found no pre-made partition).
    pub(crate) default_partition: Option<i64>,
    /// For a partitioned queue, its partitions at the phase's end (the default one too).
    pub(crate) partitions: Option<i64>,
}

/// One storage's run.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) storage: Storage,
    /// The consumer's throughput on this kind of queue kept full.
    pub(crate) max_msgs_per_sec: f64,
    /// The load offered in every phase: a fraction of the maximum.
    pub(crate) offered_msgs_per_sec: f64,
    /// Why it did not run, if it did not.
    pub(crate) skipped: Option<String>,
    pub(crate) phases: Vec<Phase>,
    /// From the release of the pressure to the first second whose p99 pickup latency is
    /// back within 1.5x the clean phase's (+1 ms); `None` if not within the phase.
    pub(crate) recovered_in: Option<Duration>,
}

/// The whole part: a run per storage.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) runs: Vec<Run>,
}

pub(crate) fn run(runtime: &tokio::runtime::Runtime, url: &str, plan: &Plan) -> Report {
    let runs = plan
        .storages
        .iter()
        .map(|&storage| {
            let run = runtime.block_on(one_storage(url, storage, plan));
            for p in &run.phases {
                eprintln!(
                    "pressure: {:<22} {:<20} {:>6.0} msgs/s p50 {:>7.1} ms p99 {:>7.1} ms \
                     dead {:>7} table {} MiB",
                    storage.label(),
                    p.name,
                    p.msgs_per_sec,
                    p.p50_ms,
                    p.p99_ms,
                    p.dead_tuples,
                    common::mib(p.table_bytes)
                );
            }
            if let Some(why) = &run.skipped {
                eprintln!("pressure: {}: skipped ({why})", storage.label());
            }
            run
        })
        .collect();
    Report { runs }
}

/// The consumer's throughput on a full queue of `storage` (made afresh, and maintained
/// for a partitioned one) over one phase's length: what the offered load is a fraction of. `Err` says why the
/// storage is unavailable here.
async fn maximum(url: &str, storage: Storage, plan: &Plan) -> Result<f64, String> {
    let admin = Admin::connect(url).await;
    admin.recreate(QUEUE, storage).await?;
    let stop_fill = CancellationToken::new();
    let maintaining =
        (storage == Storage::Partitioned).then(|| maintenance(url.to_owned(), stop_fill.clone()));
    admin.fill(QUEUE, 5_000, &Job::of_256_bytes()).await;
    let filler = common::keep_full(url.to_owned(), QUEUE, 4_000, 2_000, stop_fill.clone());
    let (tally, cancel) = (Tally::new(), CancellationToken::new());
    let tasks = start_consumer(url, &tally, &cancel, false).await;
    tokio::time::sleep(plan.warm_up).await;
    // Over a phase's length, not the workers part's short window: a queue table bloats
    // between autovacuum's visits and its reads slow down with it, so a short burst on a
    // fresh table overstates what the consumer keeps up for a phase.
    let (start, before) = (Instant::now(), tally.handled());
    tokio::time::sleep(plan.phase).await;
    let rate = (tally.handled() - before) as f64 / start.elapsed().as_secs_f64();
    common::stop(tasks, &cancel).await;
    stop_fill.cancel();
    filler.await.expect("filler");
    if let Some(m) = maintaining {
        m.await.expect("maintenance");
    }
    Ok(rate)
}

async fn start_consumer(
    url: &str,
    tally: &Arc<Tally>,
    cancel: &CancellationToken,
    record: bool,
) -> Vec<JoinHandle<()>> {
    let setup = Setup {
        handlers: HANDLERS,
        work: Duration::from_millis(1),
        record,
    };
    common::start(
        ConsumerKind::DieselAsync,
        url,
        QUEUE,
        setup,
        Arc::clone(tally),
        cancel.clone(),
    )
    .await
}

/// Sends `rate` msgs/s in a batch every 10 ms until `stop`.
fn producer(url: String, rate: f64, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let admin = Admin::connect(&url).await;
        let job = Job::of_256_bytes();
        let start = Instant::now();
        let mut sent = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while !stop.is_cancelled() {
            tick.tick().await;
            // Catch up to the schedule rather than count ticks, so a slow send does not
            // lower the offered load.
            let due = (start.elapsed().as_secs_f64() * rate) as usize;
            if due > sent {
                admin.fill(QUEUE, due - sent, &job).await;
                sent = due;
            }
        }
    })
}

/// pg_partman's maintenance of the partitioned queue every second, as its background
/// worker or a cron job would run it in a deployment: it makes the partitions ahead of
/// the ids. It waits at most 200 ms for its locks and tries again at the next round: a
/// partition is made under a lock that conflicts with a long reader of the parent (the
/// `REPEATABLE READ` scanners), and a waiting request would queue every read behind it.
fn maintenance(url: String, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let admin = Admin::connect(&url).await;
        let schema: String = admin
            .client
            .query_one(
                "SELECT quote_ident(n.nspname) FROM pg_extension e \
                 JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'",
                &[],
            )
            .await
            .expect("pg_partman's schema")
            .get(0);
        admin
            .client
            .batch_execute("SET lock_timeout = '200ms'")
            .await
            .expect("lock_timeout");
        let parent = format!("pgmq.{}", QueueName::new(QUEUE).expect("name").table_name());
        let run = format!("SELECT {schema}.run_maintenance($1::text, false, false)");
        while !stop.is_cancelled() {
            // A lock timeout is expected while the scanners hold the parent.
            let _ = admin.client.execute(&run, &[&parent]).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// A pressure on the server, released by [`Pressure::release`].
struct Pressure {
    sessions: Vec<tokio_postgres::Client>,
    scanners: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

impl Pressure {
    /// One session that took an xid and sits idle in its transaction.
    async fn idle_in_transaction(url: &str) -> Self {
        let admin = Admin::connect(url).await;
        admin
            .client
            .batch_execute("BEGIN; SELECT txid_current();")
            .await
            .expect("xid holder");
        Self {
            sessions: vec![admin.client],
            scanners: Vec::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Four `REPEATABLE READ` transactions counting the queue table's rows every 100 ms:
    /// each keeps the snapshot of its first count, and each count walks every dead row.
    async fn repeatable_read_scanners(url: &str) -> Self {
        let stop = CancellationToken::new();
        let table = QueueName::new(QUEUE).expect("name").quoted_table_name();
        let mut scanners = Vec::new();
        for _ in 0..4 {
            let admin = Admin::connect(url).await;
            let count = format!("SELECT count(*) FROM {table}");
            admin
                .client
                .batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ; {count};"))
                .await
                .expect("scanner");
            let stop = stop.clone();
            scanners.push(tokio::spawn(async move {
                while !stop.is_cancelled() {
                    admin.client.batch_execute(&count).await.expect("scan");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                admin.client.batch_execute("COMMIT").await.expect("commit");
            }));
        }
        Self {
            sessions: Vec::new(),
            scanners,
            stop,
        }
    }

    async fn release(self) {
        self.stop.cancel();
        for s in self.scanners {
            s.await.expect("scanner");
        }
        for c in self.sessions {
            c.batch_execute("ROLLBACK").await.expect("rollback");
        }
    }
}

async fn one_storage(url: &str, storage: Storage, plan: &Plan) -> Run {
    let skipped = |why| Run {
        storage,
        max_msgs_per_sec: 0.0,
        offered_msgs_per_sec: 0.0,
        skipped: Some(why),
        phases: Vec::new(),
        recovered_in: None,
    };
    let max = match maximum(url, storage, plan).await {
        Ok(max) => max,
        Err(why) => return skipped(why),
    };
    let offered = (max * plan.load_fraction).max(10.0);
    eprintln!(
        "pressure: {}: maximum {max:.0} msgs/s, offering {offered:.0} msgs/s",
        storage.label()
    );
    let admin = Admin::connect(url).await;
    if let Err(why) = admin.recreate(QUEUE, storage).await {
        return skipped(why);
    }
    let (tally, cancel) = (Tally::new(), CancellationToken::new());
    let tasks = start_consumer(url, &tally, &cancel, true).await;
    let stop_producing = CancellationToken::new();
    let producing = producer(url.to_owned(), offered, stop_producing.clone());
    let maintaining = (storage == Storage::Partitioned)
        .then(|| maintenance(url.to_owned(), stop_producing.clone()));
    tokio::time::sleep(plan.warm_up).await;

    let mut phases = Vec::new();
    phases.push(phase(url, "clean", &tally, plan.phase).await);
    let pressure = Pressure::idle_in_transaction(url).await;
    phases.push(phase(url, "idle in transaction", &tally, plan.phase).await);
    pressure.release().await;
    let pressure = Pressure::repeatable_read_scanners(url).await;
    phases.push(phase(url, "4 RR scanners", &tally, plan.phase).await);
    pressure.release().await;

    // Recovery: until a second's p99 is back near the clean phase's, at most
    // RECOVERY_PHASES phases.
    let (released, handled_at_release) = (Instant::now(), tally.handled());
    let clean_p99 = phases[0].p99_ms;
    let mut recovered_in = None;
    while released.elapsed() < plan.phase * RECOVERY_PHASES {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Instant::now();
        let Some(second_ago) = now.checked_sub(Duration::from_secs(1)) else {
            continue;
        };
        if second_ago < released {
            continue;
        }
        let last = tally.latencies_between(second_ago, now);
        if !last.is_empty() && common::percentile(&last, 99.0) <= clean_p99 * 1.5 + 1.0 {
            recovered_in = Some(released.elapsed());
            break;
        }
    }
    phases.push(measure_since(url, "recovery", &tally, released, handled_at_release).await);

    stop_producing.cancel();
    producing.await.expect("producer");
    if let Some(m) = maintaining {
        m.await.expect("maintenance");
    }
    common::stop(tasks, &cancel).await;
    Run {
        storage,
        max_msgs_per_sec: max,
        offered_msgs_per_sec: offered,
        skipped: None,
        phases,
        recovered_in,
    }
}

/// Runs one phase of `length`, then reads its figures.
async fn phase(url: &str, name: &'static str, tally: &Tally, length: Duration) -> Phase {
    let (start, before) = (Instant::now(), tally.handled());
    tokio::time::sleep(length).await;
    measure_since(url, name, tally, start, before).await
}

async fn measure_since(
    url: &str,
    name: &'static str,
    tally: &Tally,
    start: Instant,
    before: u64,
) -> Phase {
    let end = Instant::now();
    let took = end - start;
    let handled = tally.handled().saturating_sub(before);
    let latencies = tally.latencies_between(start, end);
    let health = common::health(url, QUEUE).await;
    let partitions = match health.default_partition_length {
        Some(_) => Some(partition_count(url).await),
        None => None,
    };
    Phase {
        name,
        took,
        msgs_per_sec: handled as f64 / took.as_secs_f64().max(1e-9),
        p50_ms: common::percentile(&latencies, 50.0),
        p99_ms: common::percentile(&latencies, 99.0),
        dead_tuples: health.dead_tuples,
        table_bytes: health.table_bytes,
        index_bytes: health.index_bytes,
        default_partition: health.default_partition_length,
        partitions,
    }
}

/// The partitions of the queue's table.
async fn partition_count(url: &str) -> i64 {
    let admin = Admin::connect(url).await;
    let table = QueueName::new(QUEUE).expect("name").quoted_table_name();
    admin
        .client
        .query_one(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = $1::text::regclass",
            &[&table],
        )
        .await
        .expect("partitions")
        .get(0)
}
