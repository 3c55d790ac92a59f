//! The Scale section of BENCHMARKS.md: the machine, the commands, the tables and what they mean.

use std::fmt::Write;
use std::time::Duration;

use crate::Plan;
use crate::common::{self, Admin, ConsumerKind};
use crate::pressure;
use crate::sustained;
use crate::workers::Row;

/// Where the figures were taken.
#[derive(Debug)]
pub(crate) struct Machine {
    cpu: String,
    cores: usize,
    memory_gib: f64,
    server: String,
    pgmq: String,
    load_at_start: String,
    date: String,
    commit: String,
}

impl Machine {
    pub(crate) async fn read(url: &str) -> Self {
        let admin = Admin::connect(url).await;
        let one = async |sql: &str| -> String {
            admin
                .client
                .query_one(sql, &[])
                .await
                .map(|r| r.get(0))
                .unwrap_or_else(|e| format!("unknown ({e})"))
        };
        let server = one("SHOW server_version").await;
        let pgmq = {
            use diesel_async::{AsyncConnection, AsyncPgConnection};
            use diesel_pgmq::PgmqAsyncConnectionExt;
            match AsyncPgConnection::establish(url).await {
                Ok(mut conn) => conn
                    .pgmq_version()
                    .await
                    .map_or_else(|e| format!("unknown ({e})"), |v| v.to_string()),
                Err(e) => format!("unknown ({e})"),
            }
        };
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kb: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let mut commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
        if git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()) {
            commit.push_str(" with uncommitted changes");
        }
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: memory_kb / (1024.0 * 1024.0),
            server,
            pgmq,
            load_at_start: std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "unknown".into()),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            commit,
        }
    }
}

/// Everything one run found.
#[derive(Debug)]
pub(crate) struct Results<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) machine: &'a Machine,
    pub(crate) took: Duration,
    pub(crate) workers: &'a [Row],
    pub(crate) pressure: Option<&'a pressure::Report>,
    pub(crate) sustained: Option<&'a [sustained::Report]>,
}

fn median(values: &[f64]) -> f64 {
    common::percentile(values, 50.0)
}

/// The line the Scale section of BENCHMARKS.md starts with: [`replace_section`] replaces
/// from it to the end of the file.
const SECTION_MARK: &str = "<!-- scale: written by cargo bench -p pgmq-harness --bench scale -->";

/// `doc` (BENCHMARKS.md) with its Scale section replaced by `section` (appended when it
/// has none).
pub(crate) fn replace_section(doc: &str, section: &str) -> String {
    let kept = doc.find(SECTION_MARK).map_or(doc, |at| &doc[..at]);
    format!("{}\n\n{section}", kept.trim_end())
}

pub(crate) fn markdown(r: &Results<'_>) -> String {
    let mut s = String::new();
    let m = r.machine;
    let _ = writeln!(s, "{SECTION_MARK}\n## Scale\n");
    let _ = writeln!(
        s,
        "Written by `cargo bench -p pgmq-harness --bench scale` (tests/benches/scale), \
         which replaces this section and keeps everything above it; the guidance at the \
         end is the project's reading of the figures. The tables above give each \
         operation's cost per client.\n"
    );
    if r.plan.quick {
        let _ = writeln!(
            s,
            "> **Smoke run, not a measurement.** These figures come from the quick sizes \
             (`--quick`: one round, {}-second windows, {}-second phases, {} sustained \
             messages) on a machine shared with other work; they show that every part \
             runs, not how the crates perform. The measurement is `-- --full` on a quiet \
             machine.\n",
            r.plan.window.as_secs(),
            r.plan.phase.as_secs(),
            r.plan.sustained
        );
    }
    let _ = writeln!(s, "### Machine and run\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| CPU | {} ({} cores) |", m.cpu, m.cores);
    let _ = writeln!(s, "| Memory | {:.0} GiB |", m.memory_gib);
    let _ = writeln!(
        s,
        "| PostgreSQL | {} on the same machine (pgmq-harness's throwaway server: fsync \
         off, synchronous_commit off, shared_buffers 128MB, autovacuum on with the \
         defaults) unless DATABASE_URL was set |",
        m.server
    );
    let _ = writeln!(s, "| pgmq | {} |", m.pgmq);
    let _ = writeln!(s, "| Load average at start | {} |", m.load_at_start);
    let _ = writeln!(
        s,
        "| Run | {} at commit {}, {} in all, mode {}, {} build |\n",
        m.date,
        m.commit,
        fmt_secs(r.took),
        if r.plan.quick {
            "quick (smoke)"
        } else {
            "full"
        },
        if cfg!(debug_assertions) {
            "debug (`--profile dev`)"
        } else {
            "optimized"
        }
    );
    let _ = writeln!(
        s,
        "Commands: `cargo bench -p pgmq-harness --bench scale -- --full` (the \
         measurement), `-- --quick` (smoke). `SCALE_PARTS=workers,pressure,sustained`, \
         `SCALE_HANDLERS`, `SCALE_ROUNDS`, `SCALE_SUSTAINED`, `SCALE_LOAD`, `SCALE_POOL`, \
         `SCALE_LOOP_POOL`, `SCALE_OUT`: see tests/benches/scale/main.rs.\n"
    );
    workers_section(&mut s, r);
    pressure_section(&mut s, r);
    sustained_section(&mut s, r);
    s.push_str(GUIDANCE);
    s
}

fn fmt_secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

fn workers_section(s: &mut String, r: &Results<'_>) {
    if r.workers.is_empty() {
        return;
    }
    let handlers = &r.plan.handlers;
    let _ = writeln!(s, "### Worker scaling\n");
    let _ = writeln!(
        s,
        "Messages handled per second (median of {} round(s) of {} s after {} ms of \
         warm-up) by one consumer with N concurrent handlers, each sleeping 1 ms, on a \
         plain queue of 256-byte messages kept above 4 000. The consumer runtimes read up \
         to min(N, 100) messages per round trip on a pool of {} connections and \
         acknowledge in batches (the sync Diesel consumer on an r2d2 pool, its handlers \
         on pooled threads); a read(1) loop is N tasks (threads for sync Diesel) each \
         doing `read(qty = 1)`, the handler, `delete`, sharing a pool of min(N, {}) connections on the same \
         driver.\n",
        r.plan.rounds,
        r.plan.window.as_secs(),
        r.plan.warm_up.as_millis(),
        common::pool_size(),
        common::env_number("SCALE_LOOP_POOL").unwrap_or(64),
    );
    let _ = write!(s, "| consumer |");
    for n in handlers {
        let _ = write!(s, " {n} |");
    }
    let _ = write!(s, " 256 vs 16 |\n|---|");
    for _ in handlers {
        let _ = write!(s, "---:|");
    }
    let _ = writeln!(s, "---:|");
    for kind in ConsumerKind::ALL {
        let _ = write!(s, "| {} |", kind.label());
        let at = |n: usize| {
            r.workers
                .iter()
                .find(|row| row.kind == kind && row.handlers == n && !row.rounds.is_empty())
                .map(|row| median(&row.rounds))
        };
        for &n in handlers {
            match at(n) {
                Some(v) => {
                    let _ = write!(s, " {v:.0} |");
                }
                None => {
                    let _ = write!(s, " — |");
                }
            }
        }
        match (at(16), at(256)) {
            (Some(a), Some(b)) => {
                let _ = writeln!(s, " {:.2}x |", b / a.max(1e-9));
            }
            _ => {
                let _ = writeln!(s, " — |");
            }
        }
    }
    let _ = writeln!(s, "\n— : not measured (not in `SCALE_HANDLERS`).\n");
}

fn pressure_section(s: &mut String, r: &Results<'_>) {
    let Some(p) = r.pressure else { return };
    let _ = writeln!(s, "### Under pressure\n");
    let _ = writeln!(
        s,
        "For each kind of queue: the diesel-async consumer's maximum with {} handlers of \
         1 ms on that queue kept full for a phase's length ({} s after {} ms of warm-up: a \
         queue table bloats between autovacuum's visits, so a shorter burst on a fresh \
         table overstates what the consumer keeps up), then a steady offered load of {:.0} \
         % of that maximum through the same consumer, in phases of {} s: \
         clean; one session idle in a transaction that took an xid; four `REPEATABLE \
         READ` transactions counting the queue table every 100 ms; recovery after both \
         are gone (until a second's p99 is back within 1.5x the clean p99 + 1 ms, at \
         most {} s). Pickup latency is from insert (`enqueued_at`, the server's clock) \
         to handler start (this process's clock: against a server on another machine, \
         their skew adds to it). Dead tuples and sizes are the queue table's at each \
         phase's end, from `queue_health`. \"plain + TableStorage\" is a plain queue \
         with `autovacuum_vacuum_scale_factor = 0.01`, `autovacuum_vacuum_threshold = \
         50`, `autovacuum_vacuum_cost_delay = 0`. The partitioned queue has partitions \
         of 10 000 ids and a retention of 100 000 (pgmq's defaults), and pg_partman's \
         `run_maintenance` runs every second beside it (as its background worker \
         would), waiting at most 200 ms for its locks; \"default partition\" counts \
         messages that found no partition made ahead.\n",
        pressure::HANDLERS,
        r.plan.phase.as_secs(),
        r.plan.warm_up.as_millis(),
        r.plan.load_fraction * 100.0,
        r.plan.phase.as_secs(),
        r.plan.phase.as_secs() * u64::from(pressure::RECOVERY_PHASES),
    );
    let _ = writeln!(
        s,
        "| queue | maximum msgs/s | offered msgs/s | time to recover |\n|---|---:|---:|---|"
    );
    for run in &p.runs {
        if let Some(why) = &run.skipped {
            let _ = writeln!(
                s,
                "| {} | skipped: {} | | |",
                run.storage.label(),
                why.replace('|', "/").replace('\n', " ")
            );
            continue;
        }
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.0} | {} |",
            run.storage.label(),
            run.max_msgs_per_sec,
            run.offered_msgs_per_sec,
            match run.recovered_in {
                Some(d) => format!("{:.1} s", d.as_secs_f64()),
                None => format!(
                    "not within {} s",
                    r.plan.phase.as_secs() * u64::from(pressure::RECOVERY_PHASES)
                ),
            }
        );
    }
    let _ = writeln!(
        s,
        "\n| queue | phase | s | msgs/s | p50 ms | p99 ms | msgs/s vs clean | p99 vs clean | \
         dead tuples | table MiB | index MiB | partitions | default partition |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let or_dash = |n: Option<i64>| n.map_or("—".to_owned(), |n| n.to_string());
    for run in p.runs.iter().filter(|r| r.skipped.is_none()) {
        let clean = &run.phases[0];
        for ph in &run.phases {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} | {:.1}x | {} | {} | {} | {} | {} |",
                run.storage.label(),
                ph.name,
                ph.took.as_secs_f64(),
                ph.msgs_per_sec,
                ph.p50_ms,
                ph.p99_ms,
                ph.msgs_per_sec / clean.msgs_per_sec.max(1e-9),
                ph.p99_ms / clean.p99_ms.max(1e-9),
                ph.dead_tuples,
                common::mib(ph.table_bytes),
                common::mib(ph.index_bytes),
                or_dash(ph.partitions),
                or_dash(ph.default_partition),
            );
        }
    }
    s.push('\n');
}

fn sustained_section(s: &mut String, r: &Results<'_>) {
    let Some(runs) = r.sustained else { return };
    let Some(first) = runs.first() else { return };
    let _ = writeln!(s, "### Sustained\n");
    let _ = writeln!(
        s,
        "{} messages of 256 bytes through two producers (diesel-async `send_batch` of \
         100, kept at most 5 000 ahead of the consumer) and the diesel-async consumer \
         (64 handlers of 1 ms), on a plain queue, twice: with autovacuum as the server \
         has it (\"server defaults\"), then with the queue's `TableStorage` settings of \
         \"plain + TableStorage\" above and, on the bench's throwaway server, \
         `autovacuum_naptime` at 10 s for the run (\"TableStorage + naptime\"). The \
         producers send 5 000 more than that, so they are still at work in the last \
         tenth. Autovacuum visits the database once per `autovacuum_naptime`: the table \
         grows between visits, and is bounded when it stops growing across them. RSS is \
         this process's (both runs in one process). At the end of each tenth of the \
         messages handled:\n",
        first.messages
    );
    let _ = writeln!(
        s,
        "| run | tenth | msgs/s | RSS MiB | table MiB | dead tuples | depth |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for run in runs {
        for (i, t) in run.tenths.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.1} | {} | {} | {} |",
                run.vacuum.label(),
                i + 1,
                t.msgs_per_sec,
                t.rss_kb as f64 / 1024.0,
                common::mib(t.table_bytes),
                t.dead_tuples,
                t.depth
            );
        }
    }
    let _ = writeln!(
        s,
        "\n| run | naptime | took | autovacuum runs on the table | last tenth over first \
         | largest table MiB | peak RSS MiB (process, so far) |\n\
         |---|---|---:|---:|---:|---:|---:|"
    );
    for run in runs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2}x | {} | {:.1} |",
            run.vacuum.label(),
            run.naptime,
            fmt_secs(run.took),
            run.autovacuums,
            run.last_over_first(),
            common::mib(run.max_table_bytes),
            run.peak_rss_kb as f64 / 1024.0
        );
    }
    let _ = writeln!(
        s,
        "\nThe goal: the last tenth within 10 % of the first, RSS flat, the table bounded.\n"
    );
}

/// What the figures mean for a deployment. Kept with the code so it is rewritten with
/// the tables; where it names a figure, it is one of the tables above.
const GUIDANCE: &str = "### Sizing a deployment

- **Connections per consumer.** A consumer runtime needs one connection to read and one
  to acknowledge (`SCALE_POOL=2` above); handlers share them, because one read brings up
  to `batch_size` messages and acknowledgements go out many ids per statement. Its
  handlers' own database work needs connections of its own (the transactional mode holds
  one per running handler). A read(1) loop needs a connection per worker and a round trip
  per message both ways: that is what stops it scaling.
- **Batch size and concurrency.** Concurrency is how many handlers run at once; the batch
  is how many messages one read brings (never more than free handlers). With short
  handlers the read's round trip is the cost to spread: a batch of 50 to 100 keeps the
  reads few. Raise concurrency, not the number of consumers, until the handlers' own
  resources (CPU, their connections) are the limit.
- **Held transactions and long readers.** An idle-in-transaction session or a long
  `REPEATABLE READ` reader stops vacuum on every table, the queue's too: every read and
  acknowledgement leaves a dead row that stays until the holder ends, and every read walks
  past all of them from the queue's oldest id, so a read costs more with each second the
  holder stays. Under pressure above, a minute of either is enough to cut the consumer to
  a fraction of the offered load and leave a backlog it drains only after the holder is
  gone. No client setting avoids it. Bound holders on the server
  (`idle_in_transaction_session_timeout` in seconds, `statement_timeout` for reporting
  sessions, or reporting on a replica), and alert on `queue_health`'s `dead_tuples`
  growing while `depth` does not.
- **Autovacuum.** With the server's defaults, autovacuum looks at each database once per
  `autovacuum_naptime` (a minute), waits for 20 % of a table's rows to be dead and is
  throttled: a queue that turns over thousands of messages a second grows by hundreds of
  MiB between its visits (Sustained, \"server defaults\"), and its reads slow down as
  they walk the dead rows. Give busy queues a per-table
  `autovacuum_vacuum_scale_factor` of about 0.01 and no cost delay
  (`QueueSpec::storage(TableStorage::new().autovacuum_vacuum_scale_factor(0.01)
  .autovacuum_vacuum_cost_delay_ms(0))`) and the server a naptime of 10 to 15 s
  (Sustained, \"TableStorage + naptime\"). Neither helps while a holder pins the
  horizon. A fillfactor below 100 does not make pgmq's reads HOT (`vt` is indexed; see
  the test `a_fillfactor_leaves_pgmq_reads_non_hot_on_a_plain_queue`).
- **When to partition.** A partitioned queue (pg_partman) bounds the table's size
  whatever vacuum manages: a partition past the retention is dropped whole. It is not
  faster: its maximum above is the lowest of the four (every read and acknowledgement
  runs over all of its partitions), and it does not spare vacuum (every acknowledgement
  is still a delete that leaves a dead row). Compare its pressure rows at its own
  offered load, not a plain queue's: offered a plain queue's load it falls behind with no
  pressure at all, which is what earlier smoke runs of this bench took for a failure to
  recover. Partition very large queues and archives kept for a retention period
  (`delete_archived_older_than` deletes an unpartitioned archive in bounded batches); keep
  pg_partman's maintenance running (its background worker or a cron job), with a lock
  timeout so it never queues the queue's reads behind it, and alert on
  `default_partition_length` above 0 (the pre-made partitions ran out: a long reader of
  the queue table blocks the maintenance that makes them). Unlogged queues skip the
  write-ahead log (lost on a crash, not replicated); on this server, with fsync off, their
  maximum above is close to a plain queue's, so measure on yours before giving up
  durability for it.

### The limits of one PostgreSQL server

Every message is a row written, updated on each read and deleted (or moved to the
archive) on acknowledgement, each a write to the table and its indexes and to the
write-ahead log: the server's disk, its write-ahead log and vacuum bound a queue's
throughput, and adding consumers beyond that adds contention, not messages. The figures
here come from one server on the same machine as the clients, with fsync off; a
production server with durable commits and a network between it and the clients does
less per connection and more in parallel. Beyond one server: consumers scale out across
machines on the same queues (reads with `FOR UPDATE SKIP LOCKED` never hand one message
to two consumers), and queues spread over databases or servers, each with its own
consumers, when one server's writes are the limit.
";
