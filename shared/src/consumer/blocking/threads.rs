//! The threads the blocking consumer runs its handlers and statements on: an elastic
//! pool shared by every consumer of the process.
//!
//! A job starts at once: on an idle thread if there is one, else on a new thread, so a
//! handler or statement that never returns holds only its own thread and never delays
//! another job (a fixed-size pool would queue the next statement behind it and break the
//! statement bound). A thread idle for [`KEEP_IDLE`] ends, so the pool shrinks back after
//! a burst. Reusing threads instead of starting one per message and per statement is
//! what keeps the consumer near the driver's ceiling: see BENCHMARKS.md.

use std::collections::VecDeque;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use super::lock;

/// How long a thread waits for a job before it ends.
const KEEP_IDLE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// An elastic thread pool: see the [module](self).
#[derive(Default)]
pub(super) struct Threads {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job, the ones already notified included.
    idle: usize,
    /// Notifications sent and not yet taken by a waking thread.
    waking: usize,
    /// Threads alive, busy or idle.
    alive: usize,
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Threads")
            .field("alive", &st.alive)
            .field("idle", &st.idle)
            .field("queued", &st.jobs.len())
            .finish()
    }
}

/// The process's pool.
pub(super) fn shared() -> &'static Threads {
    static THREADS: OnceLock<Threads> = OnceLock::new();
    THREADS.get_or_init(Threads::default)
}

impl Threads {
    /// Runs `job` on an idle thread, or on a new one when every thread is busy or
    /// already promised a queued job. A panic in `job` ends the job, not the thread.
    /// `Err` (the job is dropped, not run) when no thread could be started.
    pub(super) fn run(&'static self, job: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.jobs.push_back(Box::new(job));
        // Every queued job has an idle thread of its own, else a new thread takes it: a
        // job never waits for a busy thread to come back.
        if st.jobs.len() <= st.idle {
            self.wake_one(&mut st);
            return Ok(());
        }
        // Spawned under the lock, so that on failure the newest job is still ours.
        let started = thread::Builder::new()
            .name("pgmq-consumer".into())
            .spawn(move || self.serve());
        match started {
            Ok(_) => {
                st.alive += 1;
                Ok(())
            }
            Err(e) => {
                st.jobs.pop_back();
                Err(e)
            }
        }
    }

    /// Wakes an idle thread for the queued jobs unless one is already on its way.
    ///
    /// One wake-up at a time: the woken thread wakes the next if jobs remain once it
    /// took one ([`Threads::serve`]). A burst of short jobs is then run by the few
    /// threads that come back for more before the next waiter is up, instead of waking
    /// a thread (a system call and a context switch) per job; a job that blocks has
    /// passed the wake-up on before it started.
    fn wake_one(&self, st: &mut State) {
        if st.waking == 0 && st.idle > 0 && !st.jobs.is_empty() {
            st.waking += 1;
            self.work.notify_one();
        }
    }

    /// A pool thread: runs queued jobs until none comes for [`KEEP_IDLE`].
    fn serve(&self) {
        let mut st = lock(&self.state);
        loop {
            if let Some(job) = st.jobs.pop_front() {
                self.wake_one(&mut st);
                drop(st);
                // The job's own code reports its failure (a statement's caller sees its
                // channel closed); the thread stays in the pool.
                let _ = catch_unwind(AssertUnwindSafe(job));
                st = lock(&self.state);
                continue;
            }
            st.idle += 1;
            let (next, waited) = self
                .work
                .wait_timeout(st, KEEP_IDLE)
                .unwrap_or_else(|p| p.into_inner());
            st = next;
            st.idle -= 1;
            // Whatever woke it (a notification, a timeout, a spurious wake-up), a waking
            // thread takes a pending notification: a count never stays up for a thread
            // that is not coming.
            st.waking = st.waking.saturating_sub(1);
            if waited.timed_out() && st.jobs.is_empty() {
                st.alive -= 1;
                return;
            }
        }
    }

    /// Threads alive now, busy or idle.
    #[cfg(test)]
    pub(super) fn alive(&self) -> usize {
        lock(&self.state).alive
    }

    /// Waits up to 5 s for every thread to be idle.
    #[cfg(test)]
    fn settle(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let st = lock(&self.state);
            if st.idle == st.alive {
                return;
            }
            drop(st);
            thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Instant;

    fn leaked() -> &'static Threads {
        Box::leak(Box::default())
    }

    #[test]
    fn a_job_that_never_returns_does_not_delay_the_next() {
        let pool = leaked();
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        pool.run(move || {
            let _ = hold_rx.recv();
        })
        .unwrap();
        let (tx, rx) = mpsc::channel();
        pool.run(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the second job ran beside the blocked one");
        assert_eq!(pool.alive(), 2);
        drop(hold_tx);
    }

    /// Jobs one after another (each submitted once the last thread is idle again) run
    /// on one thread, a panicking job included.
    #[test]
    fn threads_are_reused_and_a_panic_keeps_its_thread() {
        let pool = leaked();
        for i in 0..100 {
            let (tx, rx) = mpsc::channel();
            pool.run(move || {
                let _ = tx.send(thread::current().id());
                if i % 50 == 0 {
                    panic!("job {i} panics (on purpose)");
                }
            })
            .unwrap();
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
            pool.settle();
        }
        assert_eq!(pool.alive(), 1, "{pool:?}");
    }

    /// 64 jobs that each wait until all 64 have started: only possible if each gets a
    /// thread of its own. The second round finds 64 idle threads, woken one by another.
    #[test]
    fn many_jobs_at_once_all_run_side_by_side() {
        let pool = leaked();
        for round in 0..2 {
            pool.settle();
            let started = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel();
            for _ in 0..64 {
                let (s, t) = (Arc::clone(&started), tx.clone());
                pool.run(move || {
                    s.fetch_add(1, Ordering::SeqCst);
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while s.load(Ordering::SeqCst) < 64 && Instant::now() < deadline {
                        thread::sleep(Duration::from_millis(1));
                    }
                    t.send(s.load(Ordering::SeqCst)).unwrap();
                })
                .unwrap();
            }
            for _ in 0..64 {
                let seen = rx
                    .recv_timeout(Duration::from_secs(20))
                    .expect("all 64 jobs ran");
                assert_eq!(seen, 64, "round {round}");
            }
            assert_eq!(pool.alive(), 64, "round {round}: {pool:?}");
        }
    }
}
