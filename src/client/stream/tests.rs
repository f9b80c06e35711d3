//! Guarded streams over in-memory bodies: each provider's event shapes,
//! bodies split anywhere, and every way a stream can end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;

use bytes::Bytes;
use futures_util::stream;
use serde_json::{json, Value};

use super::*;
use crate::budget::OutputCeiling;
use crate::money::PricePerToken;
use crate::prices::{ModelPrice, PriceTable, Rates};
use crate::tokens::count_text;
use crate::usage::Usage;

/// $1 per million input tokens and $4 per million output tokens, for every
/// model, so costs are easy to check.
fn client(provider: Provider) -> GuardedClient {
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let mut prices = PriceTable::new();
    for model in ["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash"] {
        prices.insert(ModelPrice::new(model, Rates::new(per_m(1.0), per_m(4.0))));
    }
    GuardedClient::builder(provider)
        .prices(Arc::new(prices))
        .build()
        .unwrap()
}

fn cost(usage: Usage) -> Usd {
    Usd::from_nanos(usage.prompt_tokens() * 1_000 + usage.billed_output_tokens() * 4_000)
}

fn budget() -> TaskBudget {
    TaskBudget::builder("t")
        .max_cost(Usd::from_dollars(1.0).unwrap())
        .output_ceiling(OutputCeiling::clamping(1_000))
        .build()
        .unwrap()
}

fn chat_request(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hello."}]})
}

fn body_of(pieces: Vec<Result<Vec<u8>, String>>) -> Body {
    Box::pin(stream::iter(
        pieces.into_iter().map(|piece| piece.map(Bytes::from)),
    ))
}

/// `text` split into pieces of `size` bytes.
fn pieces(text: &str, size: usize) -> Vec<Result<Vec<u8>, String>> {
    text.as_bytes()
        .chunks(size)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect()
}

/// A guarded stream for `request` over the body `pieces`.
fn open(
    client: &GuardedClient,
    budget: &TaskBudget,
    request: &Value,
    pieces: Vec<Result<Vec<u8>, String>>,
) -> GuardedStream {
    let call = client.prepare(budget, request, true).unwrap();
    client.guard_stream(call, body_of(pieces))
}

/// Polls `stream` once; the in-memory bodies are always ready.
fn next(stream: &mut GuardedStream) -> Option<Result<StreamEvent, ClientError>> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(stream).poll_next(&mut cx) {
        Poll::Ready(item) => item,
        Poll::Pending => panic!("an in-memory body is never pending"),
    }
}

/// Every event, and the error that ended the stream, if one did.
fn drain(stream: &mut GuardedStream) -> (Vec<StreamEvent>, Option<ClientError>) {
    let mut events = Vec::new();
    while let Some(item) = next(stream) {
        match item {
            Ok(event) => events.push(event),
            Err(error) => {
                assert!(next(stream).is_none(), "an error is the last item");
                assert!(stream.is_terminated());
                return (events, Some(error));
            }
        }
    }
    assert!(stream.is_terminated());
    (events, None)
}

fn sse(events: &[Value]) -> String {
    events
        .iter()
        .map(|event| format!("data: {event}\n\n"))
        .collect()
}

fn named_sse(events: &[Value]) -> String {
    events
        .iter()
        .map(|event| {
            format!(
                "event: {}\ndata: {event}\n\n",
                event["type"].as_str().unwrap()
            )
        })
        .collect()
}

fn chat_chunk(delta: Value) -> Value {
    json!({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}],
        "usage": null})
}

/// OpenAI's documented stream with `include_usage`: content chunks with
/// `"usage": null`, a finish chunk, the usage chunk with empty `choices`,
/// then `[DONE]`.
fn chat_body(words: &[&str], usage: Option<Value>) -> String {
    let mut events = vec![chat_chunk(json!({"role": "assistant", "content": ""}))];
    events.extend(
        words
            .iter()
            .map(|word| chat_chunk(json!({"content": word}))),
    );
    let mut finish = chat_chunk(json!({}));
    finish["choices"][0]["finish_reason"] = json!("stop");
    events.push(finish);
    if let Some(usage) = usage {
        events.push(
            json!({"id": "chatcmpl-123", "object": "chat.completion.chunk",
            "created": 1694268190, "model": "gpt-4o-mini", "choices": [], "usage": usage}),
        );
    }
    sse(&events) + "data: [DONE]\n\n"
}

const WORDS: [&str; 6] = ["Hello", "!", " How", " can", " I", " help?"];

fn chat_usage() -> Value {
    json!({"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}})
}

#[test]
fn the_request_asks_for_a_stream_with_usage() {
    let budget = budget();
    let call = client(Provider::OpenAiChat)
        .prepare(&budget, &chat_request("gpt-4o"), true)
        .unwrap();
    assert_eq!(call.wire_body["stream"], true);
    assert_eq!(call.wire_body["stream_options"]["include_usage"], true);
    assert_eq!(call.wire_body["max_completion_tokens"], 1_000);
    assert!(call.reports_usage);
    call.reservation.release();

    let call = client(Provider::Gemini)
        .prepare(&budget, &chat_request("gemini-2.5-flash"), true)
        .unwrap();
    let url = Provider::Gemini.endpoint(Provider::Gemini.default_base_url(), &call.model, true);
    assert!(url.ends_with(":streamGenerateContent?alt=sse"), "{url}");
    call.reservation.release();
}

#[test]
fn openai_chat_is_settled_from_its_usage_chunk() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let body = chat_body(&WORDS, Some(chat_usage()));
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body, 4096),
    );
    assert!(stream.receipt().is_none());
    let (events, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    // `[DONE]` ends the stream and is not an event.
    assert_eq!(events.len(), 1 + WORDS.len() + 2);
    assert_eq!(events[1].data["choices"][0]["delta"]["content"], "Hello");
    assert_eq!(events[1].event, None);

    let receipt = stream.receipt().unwrap().clone();
    assert_eq!(receipt.source, CostSource::Reported);
    assert_eq!(receipt.usage, Usage::new(11, 6));
    assert_eq!(receipt.cost, cost(Usage::new(11, 6)));
    assert_eq!(stream.cost_so_far(), receipt.cost);
    let snapshot = budget.snapshot();
    assert_eq!(
        (snapshot.spent, snapshot.in_flight),
        (receipt.cost, Usd::ZERO)
    );
    assert_eq!(snapshot.abandoned, 0);
}

#[test]
fn a_body_split_anywhere_gives_the_same_events_and_bill() {
    let body = chat_body(&WORDS, Some(chat_usage()));
    let client = client(Provider::OpenAiChat);
    let whole = {
        let budget = budget();
        let mut stream = open(
            &client,
            &budget,
            &chat_request("gpt-4o"),
            pieces(&body, body.len()),
        );
        let (events, _) = drain(&mut stream);
        (events, stream.receipt().unwrap().clone())
    };
    for size in [1, 2, 3, 7, 64, 333] {
        let budget = budget();
        let mut stream = open(
            &client,
            &budget,
            &chat_request("gpt-4o"),
            pieces(&body, size),
        );
        let (events, error) = drain(&mut stream);
        assert!(error.is_none(), "pieces of {size}: {error:?}");
        assert_eq!(events, whole.0, "pieces of {size}");
        assert_eq!(stream.receipt(), Some(&whole.1), "pieces of {size}");
    }
}

fn anthropic_events(output_tokens: u64) -> Vec<Value> {
    vec![
        json!({"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
            "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5-20250929",
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 25, "cache_read_input_tokens": 100, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"location\": \"San Fra"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ncisco, CA\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": output_tokens}}),
        json!({"type": "message_stop"}),
    ]
}

#[test]
fn anthropic_is_settled_from_message_start_and_message_delta() {
    let budget = budget();
    let client = client(Provider::Anthropic);
    let body = named_sse(&anthropic_events(89));
    let mut stream = open(
        &client,
        &budget,
        &chat_request("claude-sonnet-4-5"),
        pieces(&body, 5),
    );
    let (events, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events.len(), 12);
    assert_eq!(events[0].event.as_deref(), Some("message_start"));
    assert_eq!(events[2].data, json!({"type": "ping"}));
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.source, CostSource::Reported);
    assert_eq!(
        receipt.usage,
        Usage {
            input_tokens: 25,
            cache_read_tokens: 100,
            output_tokens: 89,
            ..Usage::default()
        }
    );
}

#[test]
fn anthropic_cut_short_is_billed_from_its_input_and_the_output_counted() {
    let budget = budget();
    let client = client(Provider::Anthropic);
    // Everything up to the tool call's arguments; no message_delta.
    let events = &anthropic_events(89)[..9];
    let body = named_sse(events);
    let mut stream = open(
        &client,
        &budget,
        &chat_request("claude-sonnet-4-5"),
        pieces(&body, 1000),
    );
    let (received, error) = drain(&mut stream);
    assert_eq!(received.len(), 9);
    let Some(ClientError::StreamEndedEarly { detail, billed, .. }) = error else {
        panic!("{error:?}");
    };
    assert!(detail.contains("before `message_stop`"), "{detail}");
    let receipt = stream.receipt().unwrap();
    assert_eq!(billed, receipt.cost);
    assert!(matches!(receipt.source, CostSource::Estimated { .. }));
    // message_start's input counts, and the text and JSON counted with
    // Claude's 25% margin, each block apart.
    let counted = count_text("gpt-4o", "Hello!").tokens
        + count_text("gpt-4o", "{\"location\": \"San Francisco, CA\"}").tokens;
    assert_eq!(receipt.usage.input_tokens, 25);
    assert_eq!(receipt.usage.cache_read_tokens, 100);
    assert_eq!(receipt.usage.output_tokens, (counted * 125).div_ceil(100));
    assert_eq!(budget.snapshot().spent, receipt.cost);
}

#[test]
fn openai_responses_is_settled_from_response_completed() {
    let budget = budget();
    let client = client(Provider::OpenAiResponses);
    let response = |status: &str, usage: Value| {
        json!({"id": "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654", "object": "response",
            "created_at": 1741290958, "status": status, "model": "gpt-4o-2024-08-06",
            "output": [], "usage": usage})
    };
    let body = named_sse(&[
        json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress", Value::Null)}),
        json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
            "item": {"id": "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654", "type": "message",
                "status": "in_progress", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "sequence_number": 2,
            "item_id": "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654",
            "output_index": 0, "content_index": 0, "delta": "Hi"}),
        json!({"type": "response.output_text.delta", "sequence_number": 3,
            "item_id": "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654",
            "output_index": 0, "content_index": 0, "delta": " there"}),
        json!({"type": "response.completed", "sequence_number": 4, "response": response("completed",
            json!({"input_tokens": 37, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 11, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 48}))}),
    ]);
    let request = json!({"model": "gpt-4o", "input": "Say hi."});
    let mut stream = open(&client, &budget, &request, pieces(&body, 100));
    let (events, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events.len(), 5);
    assert_eq!(events[4].event.as_deref(), Some("response.completed"));
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.source, CostSource::Reported);
    assert_eq!(receipt.usage, Usage::new(37, 11));
}

#[test]
fn gemini_is_settled_from_its_last_cumulative_usage() {
    let budget = budget();
    let client = client(Provider::Gemini);
    let chunk = |text: &str, usage: Value, finish: bool| {
        let mut candidate =
            json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
        if finish {
            candidate["finishReason"] = json!("STOP");
        }
        json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash"})
    };
    // Gemini ends its lines with \r\n.
    let body = sse(&[
        chunk(
            "The",
            json!({"promptTokenCount": 8, "totalTokenCount": 8}),
            false,
        ),
        chunk(
            " quick brown",
            json!({"promptTokenCount": 8, "candidatesTokenCount": 3, "totalTokenCount": 11}),
            false,
        ),
        chunk(
            " fox",
            json!({"promptTokenCount": 8, "candidatesTokenCount": 4,
            "thoughtsTokenCount": 20, "totalTokenCount": 32}),
            true,
        ),
    ])
    .replace('\n', "\r\n");
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gemini-2.5-flash"),
        pieces(&body, 9),
    );
    let (events, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events.len(), 3);
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.source, CostSource::Reported);
    assert_eq!(
        receipt.usage,
        Usage {
            input_tokens: 8,
            output_tokens: 4,
            reasoning_tokens: 20,
            ..Usage::default()
        }
    );
}

#[test]
fn vertex_chunks_with_only_a_traffic_type_are_not_usage_reports() {
    let budget = budget();
    let client = client(Provider::Gemini);
    let body = sse(&[
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello!"}]}}],
            "usageMetadata": {"trafficType": "ON_DEMAND"}, "modelVersion": "gemini-2.5-flash"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "", "thoughtSignature": "AY89a18i"}]},
            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 9, "totalTokenCount": 10,
                "trafficType": "ON_DEMAND"}, "modelVersion": "gemini-2.5-flash"}),
    ]);
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gemini-2.5-flash"),
        pieces(&body, 50),
    );
    let (_, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.source, CostSource::Reported);
    assert_eq!(receipt.usage, Usage::new(1, 9));
}

#[test]
fn a_body_that_ends_before_the_usage_chunk_is_billed_from_the_count() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let body = chat_body(&WORDS, Some(chat_usage()));
    // Cut after the fourth word: no usage, no [DONE].
    let cut = body.find(" can").unwrap();
    let cut = cut + body[cut..].find("\n\n").unwrap() + 2;
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body[..cut], 64),
    );
    let (events, error) = drain(&mut stream);
    assert_eq!(events.len(), 5);
    let Some(ClientError::StreamEndedEarly {
        detail,
        billed,
        provider,
    }) = error
    else {
        panic!("{error:?}");
    };
    assert_eq!(provider, Provider::OpenAiChat);
    assert!(
        detail.contains("the body ended before `data: [DONE]`"),
        "{detail}"
    );

    let receipt = stream.receipt().unwrap();
    let prompt = crate::tokens::count_request("gpt-4o", &chat_request("gpt-4o")).unwrap();
    let output = count_text("gpt-4o", "Hello! How can").tokens;
    assert_eq!(receipt.usage, Usage::new(prompt.tokens, output));
    assert_eq!(billed, cost(Usage::new(prompt.tokens, output)));
    assert!(billed > Usd::ZERO);
    let CostSource::Estimated { reason } = &receipt.source else {
        panic!("{:?}", receipt.source);
    };
    assert!(reason.contains("ended early"), "{reason}");
    assert_eq!(budget.snapshot().spent, billed);
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[test]
fn a_body_cut_mid_event_says_so() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let body = chat_body(&WORDS, Some(chat_usage()));
    let cut = body.find("usage\":{").unwrap();
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body[..cut], 64),
    );
    let (_, error) = drain(&mut stream);
    let Some(ClientError::StreamEndedEarly { detail, .. }) = error else {
        panic!("{error:?}");
    };
    assert!(detail.contains("in the middle of an event"), "{detail}");
}

#[test]
fn a_malformed_chunk_stops_the_reading_there() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let good = chat_chunk(json!({"content": "Hello"}));
    let body =
        format!("data: {good}\n\ndata: {{\"choices\": [tru\n\ndata: {good}\n\ndata: [DONE]\n\n");
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body, 4096),
    );
    let (events, error) = drain(&mut stream);
    assert_eq!(events.len(), 1);
    let Some(ClientError::StreamEndedEarly { detail, .. }) = error else {
        panic!("{error:?}");
    };
    assert!(detail.contains("is not JSON"), "{detail}");
    // The provider may still be generating: the output limit is billed.
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.usage.billed_output_tokens(), 1_000);
    assert!(
        matches!(&receipt.source, CostSource::Estimated { reason } if reason.contains("full output limit"))
    );
    let message = ClientError::StreamEndedEarly {
        provider: Provider::OpenAiChat,
        detail,
        billed: stream.receipt().unwrap().cost,
    }
    .to_string();
    assert!(
        message.starts_with(
            "the stream from OpenAI Chat Completions ended early (a `data:` line is not JSON"
        ),
        "{message}"
    );
    assert!(message.contains("estimated by the guard"), "{message}");
}

#[test]
fn a_broken_connection_is_billed_from_the_count() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let body = chat_body(&WORDS, Some(chat_usage()));
    let cut = body.find(" I\"").unwrap();
    let mut parts = pieces(&body[..cut], 50);
    parts.push(Err(
        "error decoding response body: connection reset by peer".into(),
    ));
    parts.extend(pieces(&body[cut..], 50));
    let mut stream = open(&client, &budget, &chat_request("gpt-4o"), parts);
    let (_, error) = drain(&mut stream);
    let Some(ClientError::StreamEndedEarly { detail, billed, .. }) = error else {
        panic!("{error:?}");
    };
    assert!(detail.contains("connection reset by peer"), "{detail}");
    assert!(billed > Usd::ZERO);
}

#[test]
fn an_error_event_from_the_provider_is_named_when_the_stream_ends() {
    let budget = budget();
    let client = client(Provider::Anthropic);
    let mut events = anthropic_events(10)[..4].to_vec();
    events.push(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    let body = named_sse(&events);
    let mut stream = open(
        &client,
        &budget,
        &chat_request("claude-sonnet-4-5"),
        pieces(&body, 4096),
    );
    let (received, error) = drain(&mut stream);
    assert_eq!(received.len(), 5);
    let Some(ClientError::StreamEndedEarly { detail, .. }) = error else {
        panic!("{error:?}");
    };
    assert_eq!(detail, "Anthropic Messages sent an error: Overloaded");
}

#[test]
fn a_body_that_is_not_an_event_stream_says_so() {
    let budget = budget();
    let client = client(Provider::OpenAiCompatible);
    let body = "<html><body>502 Bad Gateway</body></html>";
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(body, 4096),
    );
    let (events, error) = drain(&mut stream);
    assert!(events.is_empty());
    let Some(ClientError::StreamEndedEarly { detail, .. }) = error else {
        panic!("{error:?}");
    };
    assert_eq!(detail, "the response is not an event stream");
}

#[test]
fn a_stream_without_usage_because_it_was_turned_off_ends_cleanly_at_an_estimate() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let mut request = chat_request("gpt-4o");
    request["stream_options"] = json!({"include_usage": false});
    let call = client.prepare(&budget, &request, true).unwrap();
    assert_eq!(call.wire_body["stream_options"]["include_usage"], false);
    let mut stream = client.guard_stream(call, body_of(pieces(&chat_body(&WORDS, None), 4096)));
    let (_, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    let receipt = stream.receipt().unwrap();
    let CostSource::Estimated { reason } = &receipt.source else {
        panic!("{:?}", receipt.source);
    };
    assert!(
        reason.contains("turned off `stream_options.include_usage`"),
        "{reason}"
    );
    assert_eq!(
        receipt.usage.output_tokens,
        count_text("gpt-4o", "Hello! How can I help?").tokens
    );
}

#[test]
fn a_usage_report_of_zero_input_tokens_is_not_believed() {
    let budget = budget();
    let client = client(Provider::OpenAiCompatible);
    let zeros = json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0});
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&chat_body(&WORDS, Some(zeros)), 4096),
    );
    let (_, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    let receipt = stream.receipt().unwrap();
    assert!(!receipt.is_reported());
    assert!(receipt.usage.input_tokens > 0);
    assert!(receipt.usage.output_tokens > 0);
}

/// A body of `chunks` OpenAI chunks of one token each, counting how many
/// the guard pulled from the network.
fn endless_chat(chunks: usize, pulled: &Arc<AtomicUsize>) -> Body {
    let pulled = Arc::clone(pulled);
    Box::pin(stream::iter((0..chunks).map(move |_| {
        pulled.fetch_add(1, Ordering::Relaxed);
        Ok(Bytes::from(format!(
            "data: {}\n\n",
            chat_chunk(json!({"content": " word"}))
        )))
    })))
}

#[test]
fn a_provider_that_ignores_max_tokens_is_cut_off() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let mut request = chat_request("gpt-4o");
    request["max_tokens"] = json!(200);
    let call = client.prepare(&budget, &request, true).unwrap();
    let reserved = call.reservation.reserved_cost();
    let pulled = Arc::new(AtomicUsize::new(0));
    let mut stream = client.guard_stream(call, endless_chat(100_000, &pulled));

    let (events, error) = drain(&mut stream);
    let Some(ClientError::StreamCutOff { reason, billed, .. }) = error else {
        panic!("{error:?}");
    };
    // 200 granted plus a quarter: cut at the 251st token, and that chunk is
    // still yielded.
    assert_eq!(
        reason,
        CutOffReason::OutputLimitIgnored {
            granted: 200,
            counted: 251
        }
    );
    assert_eq!(events.len(), 251);
    assert_eq!(
        pulled.load(Ordering::Relaxed),
        251,
        "reading stopped at the cut-off"
    );
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.usage.output_tokens, 251);
    assert_eq!(billed, receipt.cost);
    assert!(
        billed > reserved,
        "the output beyond the limit is billed too"
    );
    assert!(reason
        .to_string()
        .contains("(251 tokens of output against a limit of 200)"));
    assert!(ClientError::StreamCutOff {
        provider: Provider::OpenAiChat,
        reason,
        billed
    }
    .to_string()
    .starts_with("the stream from OpenAI Chat Completions was cut off because the provider kept writing past the output limit it was sent"));
}

#[test]
fn a_stream_is_cut_off_when_the_budget_can_no_longer_cover_it() {
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let budget = TaskBudget::builder("t")
        .max_cost(Usd::from_cents(1))
        .output_ceiling(OutputCeiling::clamping(1_000))
        .build()
        .unwrap();
    let client = client(Provider::OpenAiChat);
    let pulled = Arc::new(AtomicUsize::new(0));
    let call = client
        .prepare(&budget, &chat_request("gpt-4o"), true)
        .unwrap();
    let mut stream = client.guard_stream(call, endless_chat(900, &pulled));
    for _ in 0..10 {
        assert!(next(&mut stream).unwrap().is_ok());
    }
    // Another call in the same task is billed far beyond what it reserved.
    let price = Arc::new(ModelPrice::new("other", Rates::new(per_m(1.0), per_m(4.0))));
    let other = budget
        .reserve(crate::CallPlan::new(&price, 100).with_max_output_tokens(100))
        .unwrap();
    other.settle(&Usage::new(6_000, 500)); // $0.008: $0.002 is left

    let (events, error) = drain(&mut stream);
    let Some(ClientError::StreamCutOff {
        reason: CutOffReason::Budget(exceeded),
        billed,
        ..
    }) = error
    else {
        panic!("{error:?}");
    };
    assert_eq!(exceeded.limit, crate::budget::LimitKind::Cost);
    // What was left pays for about 497 tokens of output; the budget is
    // checked at least every 256 tokens, here every 51 (5 bytes each).
    let receipt = stream.receipt().unwrap();
    let output = receipt.usage.output_tokens;
    assert!((498..=550).contains(&output), "{:?}", receipt.usage);
    // The event that did not fit was billed but not yielded.
    assert_eq!(10 + events.len() as u64 + 1, output);
    assert_eq!(pulled.load(Ordering::Relaxed) as u64, output);
    assert_eq!(billed, receipt.cost);
    let over = budget.snapshot().spent.saturating_sub(Usd::from_cents(1));
    assert!(over <= Usd::from_nanos(53 * 4_000), "{over}");
}

#[test]
fn dropping_a_stream_bills_what_was_counted_not_the_worst_case() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let body = chat_body(&WORDS, Some(chat_usage()));
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body, 4096),
    );
    for _ in 0..4 {
        assert!(next(&mut stream).unwrap().is_ok());
    }
    drop(stream);
    let prompt = crate::tokens::count_request("gpt-4o", &chat_request("gpt-4o")).unwrap();
    let output = count_text("gpt-4o", "Hello! How").tokens;
    let snapshot = budget.snapshot();
    assert_eq!(snapshot.spent, cost(Usage::new(prompt.tokens, output)));
    assert_eq!((snapshot.in_flight, snapshot.abandoned), (Usd::ZERO, 0));
}

#[test]
fn cancel_settles_from_the_count_and_returns_the_receipt() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let body = chat_body(&WORDS, Some(chat_usage()));
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body, 4096),
    );
    for _ in 0..3 {
        assert!(next(&mut stream).unwrap().is_ok());
    }
    let so_far = stream.cost_so_far();
    let receipt = stream.cancel();
    assert_eq!(receipt.cost, so_far);
    let CostSource::Estimated { reason } = &receipt.source else {
        panic!("{:?}", receipt.source);
    };
    assert!(reason.starts_with("the caller stopped reading"), "{reason}");
    assert_eq!(budget.snapshot().spent, receipt.cost);

    // Cancelling a finished stream changes nothing.
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body, 4096),
    );
    drain(&mut stream);
    let finished = stream.receipt().unwrap().clone();
    assert_eq!(stream.cancel(), finished);
    assert_eq!(budget.snapshot().calls, 2);
}

#[test]
fn tool_call_arguments_and_reasoning_are_counted() {
    let budget = budget();
    let client = client(Provider::OpenAiCompatible);
    let body = sse(&[
        chat_chunk(json!({"reasoning_content": "The user wants the weather."})),
        chat_chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_abc", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}]}),
        ),
        chat_chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]})),
        chat_chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"Paris\"}"}}]})),
    ]);
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body, 4096),
    );
    drain(&mut stream);
    let expected = count_text("gpt-4o", "The user wants the weather.").tokens
        + count_text("gpt-4o", "get_weather{\"city\": \"Paris\"}").tokens;
    assert_eq!(stream.receipt().unwrap().usage.output_tokens, expected);
}

#[test]
fn guarded_streams_can_move_between_threads() {
    fn send<T: Send + 'static>() {}
    send::<GuardedStream>();
}

#[test]
fn a_whole_json_answer_is_settled_like_send_and_is_the_one_event() {
    let budget = budget();
    let client = client(Provider::OpenAiCompatible);
    let call = client
        .prepare(&budget, &chat_request("gpt-4o"), true)
        .unwrap();
    let answer = json!({"object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}});
    let mut stream = client
        .whole_answer(call, answer.to_string().as_bytes())
        .unwrap();
    assert_eq!(stream.receipt().unwrap().usage, Usage::new(11, 2));
    let (events, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, answer);
    assert_eq!(budget.snapshot().spent, cost(Usage::new(11, 2)));

    let call = client
        .prepare(&budget, &chat_request("gpt-4o"), true)
        .unwrap();
    let worst = call.reservation.reserved_cost();
    let Err(ClientError::Interrupted { billed, .. }) = client.whole_answer(call, b"{\"choi") else {
        panic!("a broken JSON body is an interrupted call");
    };
    assert_eq!(billed, worst);
}

#[test]
fn json_content_types_are_recognised() {
    let header = |value| Some(HeaderValue::from_static(value));
    assert!(is_json(header("application/json").as_ref()));
    assert!(is_json(header("Application/JSON; charset=utf-8").as_ref()));
    assert!(!is_json(header("text/event-stream").as_ref()));
    assert!(!is_json(
        header("text/event-stream; charset=utf-8").as_ref()
    ));
    assert!(!is_json(None));
}

/// xAI's final chunk counts reasoning beside the completion and says what
/// the call cost: the stream settles at the provider's higher figure and
/// marks the drift.
#[test]
fn an_xai_final_chunk_settles_at_its_reported_cost() {
    let budget = budget();
    let client = client(Provider::OpenAiCompatible);
    // 11 in, 6 visible + 10 reasoning out: $0.000011 + $0.000064 by the
    // table; xAI says 1,000,000 ticks, $0.0001.
    let usage = json!({"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 27,
        "completion_tokens_details": {"reasoning_tokens": 10},
        "cost_in_usd_ticks": 1_000_000});
    let body = chat_body(&WORDS, Some(usage));
    let mut stream = open(&client, &budget, &chat_request("gpt-4o"), pieces(&body, 64));
    let (_, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    let receipt = stream.receipt().unwrap().clone();
    assert_eq!(receipt.source, CostSource::Reported);
    assert_eq!(
        (receipt.usage.output_tokens, receipt.usage.reasoning_tokens),
        (6, 10)
    );
    assert_eq!(receipt.table_cost, Usd::from_nanos(75_000));
    assert_eq!(receipt.provider_cost, Some(Usd::from_nanos(100_000)));
    assert_eq!(receipt.cost, Usd::from_nanos(100_000));
    assert_eq!(
        receipt
            .price_drift
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("price drift for gpt-4o: table $0.000075, provider $0.0001")
    );
    assert_eq!(budget.snapshot().spent, Usd::from_nanos(100_000));
}

/// A final chunk at a tier the table cannot price is billed at the dearest
/// price the model has (here priority's fallback, twice the standard).
#[test]
fn a_stream_at_an_unpriced_tier_bills_the_dearest_price() {
    let budget = budget();
    let client = client(Provider::OpenAiChat);
    let mut body = chat_body(&WORDS, None);
    body = body.replace(
        "data: [DONE]",
        &format!(
            "data: {}\n\ndata: [DONE]",
            json!({"object": "chat.completion.chunk", "choices": [], "service_tier": "scale",
                "usage": chat_usage()})
        ),
    );
    let mut stream = open(
        &client,
        &budget,
        &chat_request("gpt-4o"),
        pieces(&body, 4096),
    );
    let (_, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    let receipt = stream.receipt().unwrap().clone();
    assert_eq!(receipt.source, CostSource::Reported);
    assert_eq!(receipt.unpriced_tier.as_deref(), Some("scale"));
    assert_eq!(
        receipt.cost,
        cost(Usage::new(11, 6)).saturating_add(cost(Usage::new(11, 6)))
    );
    assert!(receipt
        .to_string()
        .contains("tier \"scale\" billed at the dearest price"));
}
