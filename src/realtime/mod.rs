//! Live updates: the `/ws` endpoint and the pruning of the event log.

pub mod socket;

use crate::db::{self, Db};
use crate::ids::Timestamp;
use std::time::Duration;
use tokio::sync::watch;

/// Deletes events past the retention period, hourly, until shutdown.
pub async fn prune_events(db: Db, retention: Duration, shutdown: watch::Receiver<bool>) {
    crate::periodic::every(Duration::from_secs(3600), shutdown, || {
        let db = db.clone();
        async move {
            let cutoff = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
            let before = Timestamp(chrono::Utc::now() - cutoff);
            match db.change(move |tx| db::events::prune(tx, before)).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned old events"),
                Err(e) => tracing::warn!(error = %e, "could not prune events"),
            }
        }
    })
    .await
}
