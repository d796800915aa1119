//! Changes worth telling connected clients about, in commit order, and their live fan-out.
//!
//! Every change writes its event to the `events` table in the transaction that
//! makes the change (`Db::write`), so event ids are a gap-free sequence in commit order.
//! One writer commits every change and publishes right after each commit, so live
//! subscribers see events in that same order. A publish never fails a change: with no
//! subscriber, or a lagging one, the event is still in the table.

use crate::ids::{RequestId, UserId};
use crate::model::{MaintenanceRequest, photo_path};
use bytestring::ByteString;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::broadcast;

/// One change to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    NewRequest(MaintenanceRequest),
    RequestUpdated(MaintenanceRequest),
    RequestClassified(MaintenanceRequest),
    RequestDeleted { id: RequestId, user_id: UserId },
}

#[derive(Serialize)]
struct Deleted {
    id: RequestId,
    user_id: UserId,
}

impl Event {
    /// The `type` clients see.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::NewRequest(_) => "new_request",
            Event::RequestUpdated(_) => "request_updated",
            Event::RequestClassified(_) => "request_classified",
            Event::RequestDeleted { .. } => "request_deleted",
        }
    }

    /// The resident the event concerns (staff see every event).
    pub fn owner(&self) -> UserId {
        match self {
            Event::NewRequest(r) | Event::RequestUpdated(r) | Event::RequestClassified(r) => {
                r.user_id
            }
            Event::RequestDeleted { user_id, .. } => *user_id,
        }
    }

    pub fn request_id(&self) -> RequestId {
        match self {
            Event::NewRequest(r) | Event::RequestUpdated(r) | Event::RequestClassified(r) => r.id,
            Event::RequestDeleted { id, .. } => *id,
        }
    }

    /// The request the event is about when its photo is stored here (its link is signed as
    /// the event is sent).
    pub fn stored_photo(&self) -> Option<RequestId> {
        match self {
            Event::NewRequest(r) | Event::RequestUpdated(r) | Event::RequestClassified(r) => {
                r.local_photo.then_some(r.id)
            }
            Event::RequestDeleted { .. } => None,
        }
    }

    /// The `data` clients see, as JSON text: the request as the API returns it (with the
    /// photo's unsigned path), or `{id, user_id}` when deleted.
    pub fn data(&self) -> serde_json::Result<String> {
        match self {
            Event::NewRequest(r) | Event::RequestUpdated(r) | Event::RequestClassified(r) => {
                serde_json::to_string(r)
            }
            Event::RequestDeleted { id, user_id } => serde_json::to_string(&Deleted {
                id: *id,
                user_id: *user_id,
            }),
        }
    }
}

/// An event as committed: its id, whose it is, and the frame sent to clients.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub owner: UserId,
    /// `{"data": .., "id": .., "type": ..}`, serialized once and shared by every subscriber;
    /// a photo stored here appears in it as its unsigned path.
    pub frame: ByteString,
    /// For an event whose `data.image_url` is a photo stored here: what each socket needs to
    /// send it with a link signed for that socket ([`StoredEvent::frame_with`]).
    photo: Option<Arc<PhotoFrame>>,
}

#[derive(Debug, PartialEq)]
struct PhotoFrame {
    request: RequestId,
    kind: String,
    data: serde_json::Value,
}

impl StoredEvent {
    /// The event `id` of `kind` with `data` (a JSON object, as text; `kind` is one of
    /// [`Event::kind`]'s names). `photo` names the request when its photo is stored here;
    /// its link is then signed as the event is sent, if `data.image_url` is still this
    /// server's path for it (an external URL is sent as it is).
    pub fn new(
        id: i64,
        owner: UserId,
        kind: &str,
        data: &str,
        photo: Option<RequestId>,
    ) -> StoredEvent {
        // The text as it is: no parsing and serializing again for the common event.
        let kind_text = serde_json::Value::from(kind);
        let frame = format!(r#"{{"data":{data},"id":{id},"type":{kind_text}}}"#).into();
        let photo = photo.and_then(|request| {
            let data: serde_json::Value = serde_json::from_str(data).ok()?;
            let local = data.get("image_url").and_then(serde_json::Value::as_str)
                == Some(photo_path(request).as_str());
            local.then(|| {
                Arc::new(PhotoFrame {
                    request,
                    kind: kind.to_owned(),
                    data,
                })
            })
        });
        StoredEvent {
            id,
            owner,
            frame,
            photo,
        }
    }

    /// The frame to send, with its photo link (if any) made by `photo_url` (a link signed
    /// for the socket that sends it).
    pub fn frame_with(&self, photo_url: impl FnOnce(RequestId) -> String) -> ByteString {
        let Some(photo) = &self.photo else {
            return self.frame.clone();
        };
        let mut data = photo.data.clone();
        if let Some(fields) = data.as_object_mut() {
            fields.insert("image_url".into(), photo_url(photo.request).into());
        }
        frame(self.id, &photo.kind, &data)
    }
}

fn frame(id: i64, kind: &str, data: &serde_json::Value) -> ByteString {
    json!({"data": data, "id": id, "type": kind})
        .to_string()
        .into()
}

/// The live fan-out of committed events. Only the database's writer publishes, right after
/// each commit and in commit order.
#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<Arc<StoredEvent>>,
}

impl Events {
    /// `buffer` is how far a subscriber may fall behind before it misses events.
    pub fn new(buffer: usize) -> Events {
        Events {
            sender: broadcast::channel(buffer.max(1)).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.sender.subscribe()
    }

    /// Sends committed events to every subscriber; with none, they are only in the table.
    pub fn publish(&self, stored: Vec<StoredEvent>) {
        for event in stored {
            let _ = self.sender.send(Arc::new(event));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(frame: &ByteString) -> serde_json::Value {
        serde_json::from_str(frame).unwrap()
    }

    #[test]
    fn a_frame_carries_the_id_the_type_and_the_data_as_stored() {
        let event = StoredEvent::new(
            7,
            UserId(1),
            "request_deleted",
            r#"{"id":3,"user_id":1}"#,
            None,
        );
        let expected = json!({"id": 7, "type": "request_deleted", "data": {"id": 3, "user_id": 1}});
        assert_eq!(parsed(&event.frame), expected);
        assert_eq!(parsed(&event.frame_with(|_| unreachable!())), expected);
    }

    #[test]
    fn a_photo_stored_here_is_linked_for_each_socket_and_an_external_one_kept() {
        let data = r#"{"id":3,"image_url":"/api/requests/3/image","user_id":1}"#;
        let event = StoredEvent::new(8, UserId(1), "request_updated", data, Some(RequestId(3)));
        assert_eq!(
            parsed(&event.frame)["data"]["image_url"],
            "/api/requests/3/image"
        );
        let signed = parsed(&event.frame_with(|id| format!("https://m.example/{id}?sig=x")));
        assert_eq!(signed["data"]["image_url"], "https://m.example/3?sig=x");
        assert_eq!(signed["id"], 8);
        assert_eq!(signed["type"], "request_updated");

        let external = r#"{"id":3,"image_url":"https://s3.example/p.jpg","user_id":1}"#;
        let event = StoredEvent::new(
            9,
            UserId(1),
            "request_updated",
            external,
            Some(RequestId(3)),
        );
        assert_eq!(
            parsed(&event.frame_with(|_| unreachable!()))["data"]["image_url"],
            "https://s3.example/p.jpg"
        );
    }
}
