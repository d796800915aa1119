//! Changes worth telling connected clients about: the types live in [`crate::model::event`],
//! below the database layer that stores them.

pub use crate::model::event::{Event, Events, StoredEvent};
