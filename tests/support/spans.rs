//! A `tracing` layer that keeps every span on spendguard's targets, with
//! each field as it was last recorded, whether it has closed, and the
//! events inside it, for tests of the guarded call's span.

// Test binaries that include `support` without feature `tracing` use none
// of this.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span: its name, its fields, its events, and whether it closed.
#[derive(Debug, Clone, Default)]
pub struct CapturedSpan {
    pub name: String,
    pub fields: BTreeMap<String, String>,
    pub events: Vec<CapturedEvent>,
    pub closed: bool,
}

/// One event inside a span.
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    pub level: Level,
    pub target: String,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

impl CapturedSpan {
    /// The field `name` as it was recorded, if it was.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Every field and event, as text: to look for what must never be there.
    pub fn all_text(&self) -> String {
        format!("{:?} {:?}", self.fields, self.events)
    }
}

/// The spans heard so far, in the order they opened. Clones share them.
#[derive(Clone, Default)]
pub struct Spans {
    spans: Arc<Mutex<Vec<CapturedSpan>>>,
}

impl Spans {
    /// A subscriber that hears spendguard's spans and events into `self`.
    pub fn subscriber(&self) -> impl Subscriber + Send + Sync {
        tracing_subscriber::registry().with(self.clone())
    }

    /// Hears this thread's spans until the guard is dropped. Each
    /// callsite's interest is worked out again with this subscriber in the
    /// set: another test's thread, with no subscriber, may have met a
    /// callsite first and had it cached as of interest to no one.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let guard = tracing::subscriber::set_default(self.subscriber());
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    /// Every span heard so far.
    pub fn all(&self) -> Vec<CapturedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// The one span heard so far; panics if there is not exactly one.
    pub fn only(&self) -> CapturedSpan {
        let spans = self.all();
        assert_eq!(spans.len(), 1, "{spans:#?}");
        spans.into_iter().next().unwrap()
    }
}

/// Where a span's captured copy is, kept in the registry's extensions.
struct Slot(usize);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target().starts_with("spendguard")
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut span = CapturedSpan {
            name: attributes.metadata().name().to_owned(),
            ..CapturedSpan::default()
        };
        attributes.record(&mut Fields(&mut span.fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(span);
        if let Some(registered) = context.span(id) {
            registered.extensions_mut().insert(Slot(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        let Some(registered) = context.span(id) else {
            return;
        };
        let slot = registered.extensions().get::<Slot>().map(|slot| slot.0);
        if let Some(index) = slot {
            values.record(&mut Fields(&mut self.spans.lock().unwrap()[index].fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let Some(registered) = context.event_span(event) else {
            return;
        };
        let slot = registered.extensions().get::<Slot>().map(|slot| slot.0);
        let Some(index) = slot else {
            return;
        };
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        self.spans.lock().unwrap()[index]
            .events
            .push(CapturedEvent {
                level: *event.metadata().level(),
                target: event.metadata().target().to_owned(),
                message,
                fields,
            });
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        let slot = context
            .span(&id)
            .and_then(|registered| registered.extensions().get::<Slot>().map(|slot| slot.0));
        if let Some(index) = slot {
            self.spans.lock().unwrap()[index].closed = true;
        }
    }
}
