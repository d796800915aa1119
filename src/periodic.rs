//! Housekeeping that runs now and then while the server serves.

use std::time::Duration;
use tokio::sync::watch;

/// Runs `tick` at once and then every `period`, one run at a time, until `shutdown` turns
/// true (a run under way is not cut short).
/// (`tick` makes each run's future afresh, owning what it needs: a future borrowing from an
/// async closure would not be `Send` to spawn, a known limit of today's compiler.)
pub async fn every<Run: Future<Output = ()>>(
    period: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut tick: impl FnMut() -> Run,
) {
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = ticks.tick() => {}
        }
        tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_ticks_again_and_again_until_shutdown() {
        let (stop, shutdown) = watch::channel(false);
        let (count, mut counted) = watch::channel(0u32);
        let running = tokio::spawn(every(Duration::from_millis(5), shutdown, move || {
            count.send_modify(|n| *n += 1);
            std::future::ready(())
        }));
        counted.wait_for(|n| *n >= 3).await.unwrap();
        stop.send(true).unwrap();
        running.await.unwrap();
        let stopped_at = *counted.borrow();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(*counted.borrow(), stopped_at, "no tick after shutdown");
    }
}
