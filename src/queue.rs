//! The classification job queue: the LLM refines the offline answer in the background.
//!
//! Jobs live in SQLite; a bounded channel of request ids feeds a pool of
//! workers. The channel is only a fast path: when it is full the job simply
//! stays queued in the database, and a sweeper feeds queued jobs back into the
//! channel as room frees up. At start-up every unfinished job is queued again,
//! so a crash or a kill loses none. Claiming a job is an atomic state change,
//! so an id that reaches the channel twice is processed once.

use crate::classify::llm::{LlmClient, LlmVerdict};
use crate::classify::{self, Classification};
use crate::db::jobs::ClaimedJob;
use crate::db::requests::Refined;
use crate::db::{self, Db};
use crate::errors::AppError;
use crate::events::{Event, Events};
use crate::ids::RequestId;
use crate::periodic;
use crate::taxonomy::ClassificationMethod;
use crate::telemetry::metrics;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;

/// The LLM gives no probability of its own; this is its measured accuracy on our labels.
const LLM_CONFIDENCE: f64 = 0.9;

/// How the queue is sized.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Room in the channel; beyond it jobs wait in the database.
    pub capacity: usize,
    /// Concurrent LLM calls.
    pub workers: usize,
    /// Requests classified in one LLM call at most (one owner's requests only).
    pub batch: usize,
    /// How often queued jobs are fed back into the channel.
    pub sweep_interval: Duration,
}

/// The handle the rest of the application holds: enqueue, and whether refinement is on.
#[derive(Clone)]
pub struct ClassifyQueue {
    sender: Option<mpsc::Sender<RequestId>>,
}

impl ClassifyQueue {
    /// A queue that refines nothing (no LLM configured).
    pub fn disabled() -> ClassifyQueue {
        ClassifyQueue { sender: None }
    }

    /// Whether submissions get a refinement job.
    pub fn refines(&self) -> bool {
        self.sender.is_some()
    }

    /// Offers a committed job to the workers. Never blocks and never fails the caller:
    /// with the channel full the job waits in the database for the sweeper.
    pub fn enqueue(&self, request: RequestId) {
        if let Some(sender) = &self.sender
            && let Err(e) = sender.try_send(request)
        {
            tracing::debug!(request = %request, error = %e, "channel full; the job waits in the database");
        }
    }
}

/// The running workers and sweeper, to be stopped at shutdown.
pub struct QueueWorkers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl QueueWorkers {
    /// Stops taking new jobs and lets running ones finish, for at most `grace`. Jobs still
    /// running after that stay marked running and are queued again at the next start.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = futures_util::future::join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "classification jobs still running at shutdown; they resume at the next start"
            );
        }
    }
}

struct Worker {
    db: Db,
    llm: LlmClient,
    events: Events,
    batch: usize,
}

/// Jobs settled in one transaction by [`settle_without_llm`].
const SETTLE_CHUNK: usize = 200;
/// The pause between two such transactions. SQLite has no queue for the write lock: a
/// process that waits for it polls, and would rarely find it free between back-to-back
/// transactions of another (`maintenance reclassify` queueing while the server settles what
/// it queued would time out). The pause lets such a writer in.
const SETTLE_PAUSE: Duration = Duration::from_millis(25);

/// What [`settle_without_llm`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Jobs finished.
    pub jobs: u64,
    /// Requests whose category or priority the offline classifier changed.
    pub changed: u64,
}

/// Without an LLM: every unfinished job (one a previous run left, or one `maintenance
/// reclassify` queued) is finished with the offline classifier's answer now, saved with its
/// history entry when it changes the labels. A manual classification is never touched.
pub async fn settle_without_llm(db: &Db, events: &Events) -> Result<Settled, AppError> {
    let mut done = Settled::default();
    loop {
        let ids = db
            .run(|conn| db::jobs::unfinished_requests(conn, SETTLE_CHUNK))
            .await?;
        if ids.is_empty() {
            break;
        }
        if done.jobs > 0 {
            tokio::time::sleep(SETTLE_PAUSE).await;
        }
        done.jobs += ids.len() as u64;
        done.changed += db
            .write(events, move |tx| {
                let mut changed = 0;
                let mut events = Vec::new();
                for id in ids {
                    let answer = db::requests::find_request(tx, id, crate::model::Scope::All)?
                        .map(|r| (classify::offline(&r.description), (r.category, r.priority)));
                    let refined = db::requests::finish_refinement(
                        tx,
                        id,
                        answer.as_ref().map(|(answer, _)| answer),
                        None,
                    )?;
                    if let (Refined::Applied(saved), Some((_, before))) = (refined, answer) {
                        changed += u64::from(before != (saved.category, saved.priority));
                        events.push(Event::RequestClassified(saved));
                    }
                }
                Ok((changed, events))
            })
            .await?;
    }
    if done.jobs > 0 {
        tracing::info!(
            jobs = done.jobs,
            changed = done.changed,
            "no LLM configured: classification jobs finished by the offline classifier"
        );
    }
    Ok(done)
}

/// Without an LLM, the server finishes jobs queued while it runs (by `maintenance
/// reclassify`) as the sweeper would feed them to workers: so their events come from this
/// process, in commit order, and reach the connected clients live.
pub async fn settle_while_serving(
    db: Db,
    events: Events,
    every: Duration,
    shutdown: watch::Receiver<bool>,
) {
    periodic::every(every, shutdown, || {
        let (db, events) = (db.clone(), events.clone());
        async move {
            if let Err(e) = settle_without_llm(&db, &events).await {
                tracing::warn!(error = %e, "could not finish queued classification jobs");
            }
        }
    })
    .await
}

/// Requests queued in one write.
const RECLASSIFY_CHUNK: usize = 500;

/// What `maintenance reclassify` queued.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reclassified {
    /// Requests taken (manual classifications are never taken).
    pub taken: u64,
    /// Jobs queued now (a request whose job is queued or running already keeps it).
    pub queued: u64,
}

/// Queues a classification job for each request `which` takes. Whoever serves the database
/// answers them: its LLM workers, or without an LLM its offline classifier (and when no
/// server runs, the caller may settle them itself with [`settle_without_llm`]). A manual
/// classification is never queued, even one made while this runs. `progress(done, total)`
/// follows along.
pub async fn reclassify(
    db: &Db,
    which: db::requests::Reclassify,
    progress: impl Fn(u64, u64),
) -> Result<Reclassified, AppError> {
    let total = db
        .run(move |conn| db::requests::count_to_reclassify(conn, which))
        .await?;
    progress(0, total);
    let mut done = Reclassified::default();
    let mut after = RequestId(0);
    loop {
        let chunk = db
            .run(move |conn| db::requests::next_to_reclassify(conn, which, after, RECLASSIFY_CHUNK))
            .await?;
        let Some(&last) = chunk.last() else { break };
        after = last;
        done.taken += chunk.len() as u64;
        done.queued += db
            .change(move |tx| {
                let now = crate::ids::Timestamp::now();
                let mut queued = 0;
                for id in chunk {
                    queued += u64::from(db::jobs::requeue(tx, id, now)?);
                }
                Ok(queued)
            })
            .await?;
        progress(done.taken, total);
    }
    Ok(done)
}

/// Starts the workers and the sweeper after queueing again whatever a previous run left unfinished.
pub async fn start(
    db: Db,
    llm: LlmClient,
    events: Events,
    settings: QueueSettings,
) -> Result<(ClassifyQueue, QueueWorkers), AppError> {
    let waiting = db.change(|tx| db::jobs::requeue_unfinished(tx)).await?;
    if waiting > 0 {
        tracing::info!(jobs = waiting, "resuming unfinished classification jobs");
    }
    let (sender, receiver) = mpsc::channel(settings.capacity.max(1));
    let receiver = Arc::new(Mutex::new(receiver));
    let (stop, stopped) = watch::channel(false);
    let worker = Arc::new(Worker {
        db: db.clone(),
        llm,
        events,
        batch: settings.batch.max(1),
    });
    let mut tasks = Vec::new();
    for _ in 0..settings.workers.max(1) {
        tasks.push(tokio::spawn(run_worker(
            worker.clone(),
            receiver.clone(),
            stopped.clone(),
        )));
    }
    tasks.push(tokio::spawn(run_sweeper(
        db,
        sender.clone(),
        settings.sweep_interval,
        stopped,
    )));
    Ok((
        ClassifyQueue {
            sender: Some(sender),
        },
        QueueWorkers { stop, tasks },
    ))
}

async fn run_worker(
    worker: Arc<Worker>,
    receiver: Arc<Mutex<mpsc::Receiver<RequestId>>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let first = tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                next = receiver.recv() => match next {
                    Some(id) => id,
                    None => return,
                },
            };
            let mut batch = vec![first];
            while batch.len() < worker.batch {
                match receiver.try_recv() {
                    Ok(id) if !batch.contains(&id) => batch.push(id),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            batch
        };
        worker.process(batch).await;
    }
}

/// Feeds queued jobs into the channel as room frees up.
async fn run_sweeper(
    db: Db,
    sender: mpsc::Sender<RequestId>,
    every: Duration,
    stopped: watch::Receiver<bool>,
) {
    periodic::every(every, stopped, || {
        let (db, sender) = (db.clone(), sender.clone());
        async move {
            let room = sender.capacity();
            if room == 0 {
                return;
            }
            match db.run(move |conn| db::jobs::queued(conn, room)).await {
                Ok(ids) => {
                    for id in ids {
                        if sender.try_send(id).is_err() {
                            break;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read queued jobs"),
            }
        }
    })
    .await
}

impl Worker {
    async fn process(&self, batch: Vec<RequestId>) {
        let claimed = match self.db.change(move |tx| db::jobs::claim(tx, &batch)).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim classification jobs");
                return;
            }
        };
        // One resident's text per call: a description never sits beside another resident's
        // in the model's input, so what one writes cannot steer how another is classified.
        for jobs in by_owner(claimed) {
            self.refine(jobs).await;
        }
    }

    /// Asks the LLM about one owner's jobs and saves each answer, held to the safety rules.
    async fn refine(&self, jobs: Vec<ClaimedJob>) {
        let texts: Vec<&str> = jobs.iter().map(|job| job.description.as_str()).collect();
        let answers = self.llm.classify_batch(&texts).await;
        let outcome = match &answers {
            Ok(_) => "answered",
            Err(e) => {
                tracing::info!(jobs = jobs.len(), error = %e, "LLM unavailable; the offline classification stands");
                "failed"
            }
        };
        tracing::debug!(jobs = jobs.len(), outcome, "classification batch");
        let rules = match &answers {
            Ok(_) => self.safety_rules(&jobs).await,
            Err(_) => None,
        };
        for (index, job) in jobs.iter().enumerate() {
            let (answer, error) = match (&answers, &rules) {
                (Ok(verdicts), Some(rules)) => match verdicts.get(index).cloned().flatten() {
                    Some(verdict) => (Some(from_llm(verdict).held_to(rules[index])), None),
                    None => (
                        None,
                        Some("missing or invalid in the LLM answer".to_owned()),
                    ),
                },
                (Ok(_), None) => (
                    None,
                    Some("could not check the answer against the safety rules".to_owned()),
                ),
                (Err(e), _) => (None, Some(e.to_string())),
            };
            self.save(job, answer, error).await;
        }
    }

    /// The offline safety rule of each job's text, worked out on the blocking pool.
    async fn safety_rules(&self, jobs: &[ClaimedJob]) -> Option<Vec<Option<&'static str>>> {
        let descriptions: Vec<String> = jobs.iter().map(|job| job.description.clone()).collect();
        match tokio::task::spawn_blocking(move || classify::safety_rules(&descriptions)).await {
            Ok(rules) => Some(rules),
            Err(e) => {
                tracing::error!(error = %e, "the offline safety check failed");
                None
            }
        }
    }

    async fn save(&self, job: &ClaimedJob, answer: Option<Classification>, error: Option<String>) {
        let request = job.request;
        let saved = self
            .db
            .write(&self.events, move |tx| {
                let refined = db::requests::finish_refinement(
                    tx,
                    request,
                    answer.as_ref(),
                    error.as_deref(),
                )?;
                let events = match &refined {
                    Refined::Applied(r) | Refined::KeptOffline(r) => {
                        vec![Event::RequestClassified(r.clone())]
                    }
                    Refined::Manual | Refined::Gone => Vec::new(),
                };
                Ok((refined, events))
            })
            .await;
        if let Ok(refined) = &saved {
            if matches!(refined, Refined::Applied(_)) {
                metrics::classified(ClassificationMethod::Llm);
            }
            if let Ok(queued) = chrono::DateTime::parse_from_rfc3339(&job.queued_at) {
                let waited = chrono::Utc::now().signed_duration_since(queued);
                metrics::job_finished(waited.to_std().unwrap_or_default());
            }
        }
        match saved {
            Ok(Refined::Applied(_) | Refined::KeptOffline(_) | Refined::Gone) => {}
            Ok(Refined::Manual) => {
                tracing::debug!(request = %request, "kept the admin's manual classification")
            }
            Err(e) => {
                tracing::warn!(request = %request, error = %e, "could not save a classification");
                let message = e.to_string();
                if let Err(e) = self
                    .db
                    .change(move |tx| db::jobs::release(tx, request, &message))
                    .await
                {
                    tracing::error!(request = %request, error = %e, "could not release a classification job");
                }
            }
        }
    }
}

/// The jobs grouped by owner, in the order each owner first appears.
fn by_owner(jobs: Vec<ClaimedJob>) -> Vec<Vec<ClaimedJob>> {
    let mut groups: Vec<Vec<ClaimedJob>> = Vec::new();
    for job in jobs {
        match groups.iter_mut().find(|group| group[0].owner == job.owner) {
            Some(group) => group.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}

/// A classification from the LLM's answer.
pub fn from_llm(verdict: LlmVerdict) -> Classification {
    Classification {
        category: verdict.category,
        priority: verdict.priority,
        confidence: LLM_CONFIDENCE,
        reason: verdict.reason,
        method: ClassificationMethod::Llm,
    }
}
