//! `send_with_retry` against a scripted provider on loopback: rate limits and
//! outages are retried until an answer comes, other errors are returned at
//! once, attempts are capped, and every attempt asks the budget first, so a
//! budget that runs out between attempts ends the retries with nothing sent.
#![cfg(feature = "client")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use spendguard::budget::{Amount, LimitKind};
use spendguard::client::{GuardedClient, Jitter, Provider, RetryPolicy, RetryPolicyError};
use spendguard::clock::FakeClock;
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::{CallPlan, ClientError, PriceTable, TaskBudget, Usage, Usd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MODEL: &str = "gpt-4o-mini";

/// One scripted HTTP answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn status(status: u16) -> Self {
        let body = json!({"error": {"message": format!("scripted {status}")}});
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// A Chat Completions answer that reports `prompt` and `completion` tokens.
    fn answer(prompt: u64, completion: u64) -> Self {
        let body = json!({
            "id": "chatcmpl-retry",
            "object": "chat.completion",
            "created": 1_767_225_600,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "101"},
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion
            }
        });
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    fn to_http(&self) -> String {
        let mut text = format!(
            "HTTP/1.1 {} Scripted\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n",
            self.status,
            self.body.len()
        );
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(&self.body);
        text
    }
}

type Hook = Arc<dyn Fn(usize) + Send + Sync>;

/// A provider on 127.0.0.1 that answers request `n` with `replies[n]`, after
/// running the hook with `n`, and keeps every request body it was sent.
struct ScriptedProvider {
    base_url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl ScriptedProvider {
    async fn start(replies: Vec<Reply>) -> Self {
        ScriptedProvider::start_with_hook(replies, |_| {}).await
    }

    async fn start_with_hook(
        replies: Vec<Reply>,
        hook: impl Fn(usize) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let hook: Hook = Arc::new(hook);
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (seen, hook, replies) = (Arc::clone(&seen), Arc::clone(&hook), replies.clone());
                tokio::spawn(answer(socket, seen, hook, replies));
            }
        });
        ScriptedProvider { base_url, requests }
    }

    /// How many requests reached the provider.
    fn requests(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn client(&self) -> GuardedClient {
        client(&self.base_url, None)
    }
}

async fn answer(
    mut socket: TcpStream,
    seen: Arc<Mutex<Vec<Value>>>,
    hook: Hook,
    replies: Vec<Reply>,
) {
    let Some(body) = read_request(&mut socket).await else {
        return;
    };
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(body);
        seen.len() - 1
    };
    hook(index);
    let reply = replies
        .get(index)
        .cloned()
        .unwrap_or_else(|| Reply::status(418).header("x-unscripted", index));
    let _ = socket.write_all(reply.to_http().as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// Reads one HTTP/1.1 request and returns its JSON body.
async fn read_request(socket: &mut TcpStream) -> Option<Value> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    while data.len() < head_end + length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..read]);
    }
    serde_json::from_slice(&data[head_end..head_end + length]).ok()
}

/// $1 per million input tokens, $2 per million output tokens.
fn price() -> Arc<ModelPrice> {
    let per_m = |dollars| PricePerToken::per_million(dollars).unwrap();
    Arc::new(ModelPrice::new(MODEL, Rates::new(per_m(1.0), per_m(2.0))))
}

fn client(base_url: &str, http: Option<reqwest::Client>) -> GuardedClient {
    let mut prices = PriceTable::new();
    prices.insert(ModelPrice::clone(&price()));
    let mut builder = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(base_url)
        .prices(Arc::new(prices));
    if let Some(http) = http {
        builder = builder.http_client(http);
    }
    builder.build().unwrap()
}

/// A request whose worst case is its prompt plus 100 output tokens: about
/// $0.00022.
fn request() -> Value {
    json!({
        "model": MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Name one prime above 100."}],
    })
}

/// Millisecond waits, no jitter: quick and predictable.
fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(attempts)
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(20))
        .with_jitter(Jitter::None)
}

fn dollars(amount: f64) -> Usd {
    Usd::from_dollars(amount).unwrap()
}

fn budget_error(error: ClientError) -> spendguard::BudgetExceeded {
    match error {
        ClientError::Budget(refusal) => refusal,
        other => panic!("expected a budget refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn rate_limits_and_outages_are_retried_until_the_answer_comes() {
    let provider = ScriptedProvider::start(vec![
        Reply::status(429).header("retry-after", 0),
        Reply::status(500),
        Reply::status(529).header("retry-after-ms", 5),
        Reply::answer(20, 5),
    ])
    .await;
    let budget = TaskBudget::new(dollars(1.0));

    let answer = provider
        .client()
        .send_with_retry(&budget, &request(), &quick(4))
        .await
        .unwrap();

    assert_eq!(provider.requests(), 4);
    assert_eq!(answer.body["choices"][0]["message"]["content"], "101");
    let receipt = answer.receipt;
    assert!(receipt.is_reported());
    assert_eq!(receipt.usage, Usage::new(20, 5));
    // 20 × $1/M + 5 × $2/M
    assert_eq!(receipt.cost, dollars(0.00003));
    assert_eq!(receipt.spent, receipt.cost);
    // The failed attempts spent nothing, but every attempt sent counts
    // toward the call limit.
    let snapshot = budget.snapshot();
    assert_eq!(snapshot.spent, receipt.cost);
    assert_eq!((snapshot.calls, snapshot.calls_in_flight), (4, 0));
    assert_eq!(snapshot.in_flight, Usd::ZERO);
    assert_eq!(snapshot.abandoned, 0);
    // Every attempt was the same guarded request, `max_tokens` and all.
    for body in provider.requests.lock().unwrap().iter() {
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["model"], MODEL);
    }
}

#[tokio::test]
async fn a_rejected_request_is_returned_at_once() {
    for status in [400, 401, 402, 404, 422] {
        let provider =
            ScriptedProvider::start(vec![Reply::status(status), Reply::answer(20, 5)]).await;
        let budget = TaskBudget::new(dollars(1.0));
        let error = provider
            .client()
            .send_with_retry(&budget, &request(), &quick(4))
            .await
            .unwrap_err();
        assert!(!error.is_retryable(), "{status}: {error}");
        assert_eq!(provider.requests(), 1, "{status} was retried");
        assert_eq!(budget.snapshot().spent, Usd::ZERO);
    }
}

#[tokio::test]
async fn attempts_stop_at_the_policy_maximum_with_the_last_error() {
    for attempts in [1, 3] {
        let provider = ScriptedProvider::start(vec![Reply::status(503); 5]).await;
        let budget = TaskBudget::new(dollars(1.0));
        let error = provider
            .client()
            .send_with_retry(&budget, &request(), &quick(attempts))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::ProviderFailed { status: 503, .. }),
            "{error:?}"
        );
        assert_eq!(provider.requests(), attempts as usize);
        let snapshot = budget.snapshot();
        assert_eq!(
            (snapshot.spent, snapshot.calls, snapshot.calls_in_flight),
            (Usd::ZERO, u64::from(attempts), 0),
            "nothing was billed, and every attempt sent counts as a call"
        );
    }
}

#[tokio::test]
async fn a_policy_that_cannot_work_sends_nothing() {
    let provider = ScriptedProvider::start(vec![Reply::answer(20, 5)]).await;
    let budget = TaskBudget::new(dollars(1.0));
    let client = provider.client();
    let zero = client
        .send_with_retry(&budget, &request(), &quick(0))
        .await
        .unwrap_err();
    assert!(matches!(
        zero,
        ClientError::RetryPolicy(RetryPolicyError::ZeroAttempts)
    ));
    let inverted = quick(3).with_base_delay(Duration::from_secs(1));
    let error = client
        .send_with_retry(&budget, &request(), &inverted)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ClientError::RetryPolicy(RetryPolicyError::BaseAboveMax { .. })
    ));
    assert_eq!(provider.requests(), 0);
}

#[tokio::test]
async fn a_budget_that_cannot_afford_the_first_attempt_sends_nothing() {
    let provider = ScriptedProvider::start(vec![Reply::answer(20, 5)]).await;
    let budget = TaskBudget::new(dollars(0.0001));
    let error = provider
        .client()
        .send_with_retry(&budget, &request(), &quick(4))
        .await
        .unwrap_err();
    assert_eq!(budget_error(error).limit, LimitKind::Cost);
    assert_eq!(provider.requests(), 0);
}

#[tokio::test]
async fn the_wait_is_at_least_the_providers_retry_after() {
    let provider = ScriptedProvider::start(vec![
        Reply::status(429).header("retry-after-ms", 150),
        Reply::answer(20, 5),
    ])
    .await;
    let budget = TaskBudget::new(dollars(1.0));
    let policy = quick(2).with_max_delay(Duration::from_secs(1));
    let started = Instant::now();
    provider
        .client()
        .send_with_retry(&budget, &request(), &policy)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(provider.requests(), 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_max_delay_ends_the_retries_without_waiting() {
    let provider = ScriptedProvider::start(vec![
        Reply::status(429).header("retry-after", 3_600),
        Reply::answer(20, 5),
    ])
    .await;
    let budget = TaskBudget::new(dollars(1.0));
    let started = Instant::now();
    let error = provider
        .client()
        .send_with_retry(
            &budget,
            &request(),
            &quick(4).with_max_delay(Duration::from_secs(30)),
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(error, ClientError::RateLimited { .. }),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3_600)));
    assert_eq!(provider.requests(), 1);
}

/// Runs `send_with_retry` while a sibling task, sharing the budget, spends
/// with `spend` after the first attempt was refused by the provider (its
/// dollars freed, the attempt counted), and before the second is reserved (the provider asks for a
/// one-second wait).
async fn sibling_spends_during_the_wait(
    budget: TaskBudget,
    spend: impl FnOnce(&TaskBudget),
) -> (ClientError, usize) {
    let provider = ScriptedProvider::start(vec![
        Reply::status(429).header("retry-after", 1),
        Reply::answer(20, 5),
    ])
    .await;
    let client = provider.client();
    let policy = quick(4).with_max_delay(Duration::from_secs(5));
    let body = request();
    let retrying = client.send_with_retry(&budget, &body, &policy);
    let sibling = async {
        // The first attempt reached the provider and its reservation was
        // released: the retry is now waiting.
        while provider.requests() == 0 || budget.snapshot().calls_in_flight > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        spend(&budget);
    };
    let (result, ()) = tokio::join!(retrying, sibling);
    (result.unwrap_err(), provider.requests())
}

#[tokio::test]
async fn a_call_limit_used_up_during_the_wait_stops_the_retries() {
    let budget = TaskBudget::builder("agent").max_calls(2).build().unwrap();
    let price = price();
    // The refused first attempt is one of the two calls; the sibling makes
    // the other.
    let (error, requests) = sibling_spends_during_the_wait(budget.clone(), |budget| {
        let call = budget.reserve(CallPlan::new(&price, 10)).unwrap();
        call.settle(&Usage::new(10, 10));
    })
    .await;
    let refusal = budget_error(error);
    assert_eq!(refusal.limit, LimitKind::Calls);
    assert_eq!(refusal.spent, Amount::Calls(2));
    assert_eq!(requests, 1, "the refused retry must not be sent");
    assert_eq!(budget.snapshot().calls, 2);
}

#[tokio::test]
async fn dollars_spent_elsewhere_during_the_wait_stop_the_retries() {
    let budget = TaskBudget::new(dollars(0.001));
    let price = price();
    let (error, requests) = sibling_spends_during_the_wait(budget.clone(), |budget| {
        // $0.0009 of the $0.001: the retry's worst case no longer fits.
        let call = budget
            .reserve(CallPlan::new(&price, 100).with_max_output_tokens(400))
            .unwrap();
        call.settle(&Usage::new(100, 400));
    })
    .await;
    let refusal = budget_error(error);
    assert_eq!(refusal.limit, LimitKind::Cost);
    assert_eq!(refusal.spent, Amount::Usd(dollars(0.0009)));
    assert_eq!(requests, 1, "the refused retry must not be sent");
}

#[tokio::test]
async fn a_wait_that_would_pass_the_time_limit_is_refused_without_sleeping() {
    let clock = FakeClock::at_unix(Duration::from_secs(1_767_225_600));
    let budget = TaskBudget::builder("agent")
        .max_duration(Duration::from_secs(600))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    // The provider takes nine and a half minutes to answer 429, asking for
    // a minute's wait: the task would be out of time before the retry.
    let provider = ScriptedProvider::start_with_hook(
        vec![
            Reply::status(429).header("retry-after", 60),
            Reply::answer(20, 5),
        ],
        move |_| clock.advance(Duration::from_secs(570)),
    )
    .await;
    let policy = quick(4).with_max_delay(Duration::from_secs(120));
    let started = Instant::now();
    let error = provider
        .client()
        .send_with_retry(&budget, &request(), &policy)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "it slept");
    let refusal = budget_error(error);
    assert_eq!(refusal.limit, LimitKind::Duration);
    assert_eq!(refusal.spent, Amount::Time(Duration::from_secs(570)));
    assert_eq!(refusal.requested, Amount::Time(Duration::from_secs(60)));
    assert!(
        refusal.to_string().contains("while waiting 60.0s to retry"),
        "{refusal}"
    );
    assert_eq!(provider.requests(), 1);
}

/// With tokio's clock paused, a real 20-second `Retry-After` is waited out
/// in no time. The HTTP client has no timeout of its own here: a paused
/// clock jumps to the next timer whenever the runtime waits on a socket,
/// and a request timeout would be that timer.
#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_waited_out_in_full_on_a_paused_clock() {
    let provider = ScriptedProvider::start(vec![
        Reply::status(503).header("retry-after", 20),
        Reply::answer(20, 5),
    ])
    .await;
    let client = client(&provider.base_url, Some(reqwest::Client::new()));
    let budget = TaskBudget::new(dollars(1.0));
    let policy = RetryPolicy::new().with_max_delay(Duration::from_secs(30));
    let started = tokio::time::Instant::now();
    let answer = client
        .send_with_retry(&budget, &request(), &policy)
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(20), "{waited:?}");
    assert!(waited < Duration::from_secs(21), "{waited:?}");
    assert_eq!(answer.receipt.usage, Usage::new(20, 5));
    assert_eq!(provider.requests(), 2);
}

#[tokio::test]
async fn every_attempt_sent_counts_toward_max_calls_billed_or_not() {
    // A loop of four retried calls in a 429 storm, under `max_calls(5)`.
    let provider = ScriptedProvider::start(vec![Reply::status(429); 16]).await;
    let budget = TaskBudget::builder("storm")
        .max_cost(dollars(1.0))
        .max_calls(5)
        .build()
        .unwrap();
    let client = provider.client();
    let mut refused = 0;
    for _ in 0..4 {
        match client.send_with_retry(&budget, &request(), &quick(4)).await {
            Err(ClientError::Budget(refusal)) => {
                assert_eq!(refusal.limit, LimitKind::Calls, "{refusal}");
                refused += 1;
            }
            Err(error) => assert!(error.is_retryable(), "{error}"),
            Ok(answer) => panic!("the storm answered: {:?}", answer.body),
        }
    }
    assert_eq!(provider.requests(), 5, "the call limit caps attempts sent");
    assert!(refused >= 1);
    let snapshot = budget.snapshot();
    assert_eq!((snapshot.spent, snapshot.calls), (Usd::ZERO, 5));
}
