//! The mock's books: the script of behaviours, the requests received, the
//! bills, and which requests are still being answered.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use spendguard::prices::ModelPrice;
use spendguard::Usage;
use tokio::sync::watch;

use super::{Api, Behaviour, Bill, ReceivedRequest};

/// Everything the mock records, shared by the handle and the server.
#[derive(Debug)]
pub(super) struct Ledger {
    records: Mutex<Records>,
    /// How many requests are being answered.
    in_flight: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct Records {
    script: VecDeque<Behaviour>,
    received: Vec<ReceivedRequest>,
    bills: Vec<Bill>,
}

impl Ledger {
    /// Empty books: no script, nothing received, nothing billed.
    pub(super) fn new() -> Self {
        Ledger {
            records: Mutex::new(Records::default()),
            in_flight: watch::Sender::new(0),
        }
    }

    /// Queues a behaviour for a later request.
    pub(super) fn push(&self, behaviour: Behaviour) {
        self.records.lock().script.push_back(behaviour);
    }

    /// Records a request and takes the behaviour scripted for it; returns
    /// the request's number (from 1) with the behaviour.
    pub(super) fn receive(&self, request: ReceivedRequest) -> (usize, Behaviour) {
        let mut records = self.records.lock();
        records.received.push(request);
        let behaviour = records.script.pop_front().unwrap_or(Behaviour::Answer);
        (records.received.len(), behaviour)
    }

    /// How many requests were received so far.
    pub(super) fn request_count(&self) -> usize {
        self.records.lock().received.len()
    }

    /// Every request received so far.
    pub(super) fn received(&self) -> Vec<ReceivedRequest> {
        self.records.lock().received.clone()
    }

    /// Every bill recorded so far.
    pub(super) fn bills(&self) -> Vec<Bill> {
        self.records.lock().bills.clone()
    }

    /// Resolves once no request is being answered.
    pub(super) async fn idle(&self) {
        let mut in_flight = self.in_flight.subscribe();
        // The sender lives in `self`, so the wait cannot fail.
        let _ = in_flight.wait_for(|count| *count == 0).await;
    }
}

/// A request being answered; it stops counting as in flight when dropped.
#[derive(Debug)]
pub(super) struct Visit {
    ledger: Arc<Ledger>,
}

impl Visit {
    /// Counts a request as in flight.
    pub(super) fn begin(ledger: &Arc<Ledger>) -> Self {
        ledger.in_flight.send_modify(|count| *count += 1);
        Visit {
            ledger: Arc::clone(ledger),
        }
    }
}

impl Drop for Visit {
    fn drop(&mut self) {
        self.ledger.in_flight.send_modify(|count| *count -= 1);
    }
}

/// The running bill of one answer, recorded in the ledger when dropped:
/// whether the body was sent in full, ended early, or abandoned by the
/// client. It is recorded before the request stops counting as in flight,
/// as `Drop::drop` runs before the fields are dropped.
#[derive(Debug)]
pub(super) struct Meter {
    api: Api,
    model: String,
    price: Arc<ModelPrice>,
    usage: Usage,
    visit: Visit,
}

impl Meter {
    /// Starts a bill for `usage` so far.
    pub(super) fn new(
        visit: Visit,
        api: Api,
        model: String,
        price: Arc<ModelPrice>,
        usage: Usage,
    ) -> Self {
        Meter {
            api,
            model,
            price,
            usage,
            visit,
        }
    }

    /// Adds visible output tokens that were just sent.
    pub(super) fn add_output(&mut self, tokens: u64) {
        self.usage.output_tokens += tokens;
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let bill = Bill {
            api: self.api,
            model: std::mem::take(&mut self.model),
            usage: self.usage,
            cost: self.price.cost(&self.usage),
        };
        self.visit.ledger.records.lock().bills.push(bill);
    }
}
