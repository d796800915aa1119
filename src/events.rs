//! Changes worth telling connected clients about.
//!
//! Whoever commits a change publishes its event right after the commit; a
//! publish never fails the change. The live-update endpoint subscribes here.

use crate::ids::{RequestId, UserId};
use crate::requests::MaintenanceRequest;
use serde::Serialize;
use tokio::sync::broadcast;

/// One change to a request, as clients receive it: `{"type": ..., "data": ...}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    NewRequest(MaintenanceRequest),
    RequestUpdated(MaintenanceRequest),
    RequestClassified(MaintenanceRequest),
    RequestDeleted { id: RequestId, user_id: UserId },
}

impl Event {
    /// The resident the event concerns (staff see every event).
    pub fn owner(&self) -> UserId {
        match self {
            Event::NewRequest(r) | Event::RequestUpdated(r) | Event::RequestClassified(r) => {
                r.user_id
            }
            Event::RequestDeleted { user_id, .. } => *user_id,
        }
    }
}

/// A fan-out of events to every subscriber.
#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
}

impl Events {
    pub fn new(capacity: usize) -> Events {
        Events {
            sender: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// Sends to current subscribers; having none is not an error.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
