//! A `tracing` subscriber that keeps the level and message of every event
//! on one target, for tests of what spendguard says through `tracing`.

// Test binaries that include `support` without feature `tracing` use none
// of this.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// The events on `target`, in the order they were emitted. Clones share
/// what they heard.
#[derive(Clone)]
pub struct Heard {
    target: &'static str,
    events: Arc<Mutex<Vec<(Level, String)>>>,
}

impl Heard {
    /// Listens to events on `target` only.
    pub fn on(target: &'static str) -> Self {
        Heard {
            target,
            events: Arc::default(),
        }
    }

    /// Every event heard so far: its level and message.
    pub fn events(&self) -> Vec<(Level, String)> {
        self.events.lock().unwrap().clone()
    }
}

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Heard {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == self.target
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.events
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
