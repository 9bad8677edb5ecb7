//! The hashing threads: at most `slots` threads, each keeping its own Argon2 work area, take jobs
//! in arrival order from one bounded line.
//!
//! A thread that finishes a job takes the next waiting one at once, so while jobs wait the cores go
//! from one hash straight to the next. (A `spawn_blocking` per hash, as before, made every hash's
//! end a chain of hand-offs: the finished thread woke an async worker, which woke a blocking
//! thread, and the core sat idle in between: 4–5 % of the machine during a login flood, see
//! bench/history.md.)

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::super::work_area::WorkArea;

/// One piece of work, run on a hashing thread in that thread's work area.
pub(super) type Job = Box<dyn FnOnce(&mut WorkArea) + Send>;

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Every slot is busy and the line is at its limit.
    Full,
    /// No hashing thread could be started.
    NoThread,
}

/// The threads and their line. Dropping it lets the threads end once their current job is done.
#[derive(Debug)]
pub(super) struct Threads {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    slots: usize,
    line: Mutex<Line>,
    /// Signalled when a job joins the line or the threads are told to end.
    arrived: Condvar,
}

struct Line {
    /// Jobs no thread has taken yet, oldest first, each with its ticket.
    waiting: VecDeque<(u64, Job)>,
    next_ticket: u64,
    /// Threads started (never more than `slots`).
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
    /// Jobs being run.
    running: usize,
    /// Set when the last handle is dropped.
    closed: bool,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Line")
            .field("waiting", &self.waiting.len())
            .field("threads", &self.threads)
            .field("idle", &self.idle)
            .field("running", &self.running)
            .field("closed", &self.closed)
            .finish()
    }
}

impl Line {
    /// Jobs that no free slot is about to take: those waiting for a busy thread to finish.
    fn queued(&self, slots: usize) -> usize {
        (self.running + self.waiting.len()).saturating_sub(slots)
    }
}

/// A job's place in the line. Dropped before a thread took the job (the caller gave up), it takes
/// the job out, so an abandoned job neither runs nor holds a place; once the job runs, it keeps
/// its slot until it ends, whatever its caller does.
#[derive(Debug)]
pub(super) struct Place {
    shared: Arc<Shared>,
    ticket: u64,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut line = self.shared.lock();
        let position = line.waiting.iter().position(|(ticket, _)| *ticket == self.ticket);
        let abandoned = position.and_then(|index| line.waiting.remove(index));
        drop(line);
        // The job (and the password it holds) is dropped outside the lock.
        drop(abandoned);
    }
}

impl Threads {
    /// At most `slots` threads (at least one), started as jobs first need them.
    pub(super) fn new(slots: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                slots: slots.max(1),
                line: Mutex::new(Line {
                    waiting: VecDeque::new(),
                    next_ticket: 0,
                    threads: 0,
                    idle: 0,
                    running: 0,
                    closed: false,
                }),
                arrived: Condvar::new(),
            }),
        }
    }

    /// Puts `job` in the line, unless every slot is busy and `limit` jobs already wait for one.
    pub(super) fn submit(&self, job: Job, limit: usize) -> Result<Place, Refusal> {
        let shared = &self.shared;
        let mut line = shared.lock();
        // `running` never exceeds `slots`, so this is: no slot free for it and `limit` queued.
        if line.running + line.waiting.len() >= shared.slots.saturating_add(limit) {
            return Err(Refusal::Full);
        }
        let ticket = line.next_ticket;
        line.next_ticket += 1;
        line.waiting.push_back((ticket, job));
        let place = Place {
            shared: Arc::clone(shared),
            ticket,
        };
        if line.idle >= line.waiting.len() {
            drop(line);
            shared.arrived.notify_one();
        } else if line.threads < shared.slots {
            line.threads += 1;
            let number = line.threads;
            drop(line);
            let worker = Arc::clone(shared);
            let started = std::thread::Builder::new()
                .name(format!("imhotep-hash-{number}"))
                .spawn(move || worker.serve());
            if started.is_err() {
                let mut line = shared.lock();
                line.threads -= 1;
                if line.threads == 0 {
                    // No thread would ever take the job: `place` takes it out again.
                    drop(line);
                    drop(place);
                    return Err(Refusal::NoThread);
                }
            }
        }
        Ok(place)
    }

    /// Jobs waiting for a busy slot right now.
    pub(super) fn queued(&self) -> usize {
        self.shared.lock().queued(self.shared.slots)
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One hashing thread: takes the oldest waiting job, runs it in this thread's work area
    /// (allocated on the first job and kept), and goes on until the handle is dropped.
    fn serve(&self) {
        let mut area: Option<WorkArea> = None;
        let mut line = self.lock();
        loop {
            if let Some((_, job)) = line.waiting.pop_front() {
                line.running += 1;
                drop(line);
                let area = area.get_or_insert_with(WorkArea::new);
                // A panicking job drops its reply, which its caller sees; the thread goes on.
                let _ = panic::catch_unwind(AssertUnwindSafe(|| job(area)));
                line = self.lock();
                line.running -= 1;
            } else if line.closed {
                line.threads -= 1;
                return;
            } else {
                line.idle += 1;
                line = self.arrived.wait(line).unwrap_or_else(PoisonError::into_inner);
                line.idle -= 1;
            }
        }
    }
}
