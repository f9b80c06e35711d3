//! Sending an answer's body: its frames, the scripted ways sending goes
//! wrong, and the meter that bills what was sent.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};

use super::ledger::Meter;
use super::Behaviour;

/// Bytes a garbled JSON answer gets: control characters are invalid
/// anywhere in JSON, inside strings too.
const JSON_GARBAGE: &str = "\u{1}garbled\u{1}";

/// Where a frame stands in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// Before any reply text: always sent.
    Opening,
    /// A chunk, in the sense of [`Behaviour`]: carries reply text.
    Chunk,
    /// After the reply text: the end, the usage, the final event.
    Closing,
    /// Scripted garbage, carrying nothing.
    Garbage,
}

/// One piece of a body, sent as one HTTP chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Frame {
    text: String,
    part: Part,
    /// Visible output tokens the frame delivers.
    output_tokens: u64,
}

impl Frame {
    /// A frame sent before the reply text.
    pub(super) fn opening(text: String) -> Self {
        Frame {
            text,
            part: Part::Opening,
            output_tokens: 0,
        }
    }

    /// A frame carrying `output_tokens` tokens of reply text.
    pub(super) fn chunk(text: String, output_tokens: u64) -> Self {
        Frame {
            text,
            part: Part::Chunk,
            output_tokens,
        }
    }

    /// A frame sent after the reply text.
    pub(super) fn closing(text: String) -> Self {
        Frame {
            text,
            part: Part::Closing,
            output_tokens: 0,
        }
    }

    /// Scripted garbage.
    fn garbage(text: String) -> Self {
        Frame {
            text,
            part: Part::Garbage,
            output_tokens: 0,
        }
    }

    /// A JSON answer in `pieces` frames, each a chunk with no tokens of its
    /// own (a JSON answer is billed in full up front).
    pub(super) fn json_pieces(text: &str, pieces: usize) -> Vec<Frame> {
        let pieces = pieces.clamp(1, text.len().max(1));
        let mut frames = Vec::with_capacity(pieces);
        let mut start = 0;
        for index in 1..=pieces {
            let mut end = (text.len() * index / pieces).max(start);
            while !text.is_char_boundary(end) {
                end += 1;
            }
            frames.push(Frame::chunk(text[start..end].to_owned(), 0));
            start = end;
        }
        frames
    }

    /// The frame with the JSON of its `data:` line cut in half: an SSE event
    /// whose data no JSON parser accepts.
    fn garbled_event(&self) -> Frame {
        let data_start = self.text.find("data: ").map_or(0, |at| at + "data: ".len());
        let data_end = self.text[data_start..]
            .find(['\r', '\n'])
            .map_or(self.text.len(), |at| data_start + at);
        let mut cut = data_start + (data_end - data_start) / 2;
        while !self.text.is_char_boundary(cut) {
            cut += 1;
        }
        Frame::garbage(format!("{}{}", &self.text[..cut], &self.text[data_end..]))
    }
}

/// How a body is framed, which decides what garbage looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Json,
    Sse,
}

/// How a body ends once its frames are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The HTTP body ends properly.
    Clean,
    /// The connection is aborted, without the body's end.
    Abort,
    /// Nothing more is sent, and the body never ends.
    Stall,
}

/// A body being sent, billed as it goes.
#[derive(Debug)]
pub(super) struct Transmission {
    frames: VecDeque<Frame>,
    ending: Ending,
    pause: Option<Duration>,
    sent: usize,
    meter: Meter,
}

impl Transmission {
    /// Sends `frames` as `behaviour` scripts it, adding each chunk's tokens
    /// to `meter` as it is handed to the connection.
    pub(super) fn new(
        mut frames: Vec<Frame>,
        framing: Framing,
        behaviour: &Behaviour,
        meter: Meter,
    ) -> Self {
        let mut ending = Ending::Clean;
        let mut pause = None;
        match *behaviour {
            Behaviour::TruncateStream { after_chunks } => {
                frames.truncate(cut_after(&frames, after_chunks));
            }
            Behaviour::Disconnect { after_chunks } => {
                frames.truncate(cut_after(&frames, after_chunks));
                ending = Ending::Abort;
            }
            Behaviour::Stall { after_chunks } => {
                frames.truncate(cut_after(&frames, after_chunks));
                ending = Ending::Stall;
            }
            Behaviour::MalformedChunk { after_chunks } => {
                let at = cut_after(&frames, after_chunks);
                let garbage = match (framing, frames.get(at).or(frames.last())) {
                    (Framing::Sse, Some(next)) => next.garbled_event(),
                    (Framing::Json, _) | (Framing::Sse, None) => {
                        Frame::garbage(JSON_GARBAGE.to_owned())
                    }
                };
                frames.insert(at, garbage);
            }
            Behaviour::SlowStream { chunk_delay } | Behaviour::IgnoreMaxTokens { chunk_delay } => {
                pause = Some(chunk_delay)
            }
            Behaviour::Answer
            | Behaviour::Status { .. }
            | Behaviour::ZeroUsage
            | Behaviour::Delay(_)
            | Behaviour::NoUsage
            | Behaviour::InflateInput { .. }
            | Behaviour::ToolCall { .. } => {}
        }
        Transmission {
            frames: frames.into(),
            ending,
            pause,
            sent: 0,
            meter,
        }
    }

    /// The HTTP body. Dropping it (the client went away) records the bill
    /// of what was sent.
    pub(super) fn into_body(self) -> Body {
        Body::from_stream(futures_util::stream::unfold(self, Transmission::next))
    }

    /// Hands the next frame to the connection, or ends the body.
    async fn next(mut self) -> Option<(io::Result<Bytes>, Self)> {
        if self.sent > 0 {
            if let Some(pause) = self.pause {
                tokio::time::sleep(pause).await;
            }
        }
        match self.frames.pop_front() {
            Some(frame) => {
                self.sent += 1;
                self.meter.add_output(frame.output_tokens);
                Some((Ok(Bytes::from(frame.text)), self))
            }
            None => match std::mem::replace(&mut self.ending, Ending::Clean) {
                Ending::Clean => None,
                // Dropped when the client goes away, which bills what was sent.
                Ending::Stall => std::future::pending().await,
                Ending::Abort => {
                    // Waiting once lets the server flush the frames it has
                    // buffered; an error at once would drop them unsent.
                    tokio::task::yield_now().await;
                    // An error from the body makes the server drop the
                    // connection without the end of the chunked body.
                    let abort = io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the mock provider's script disconnects here",
                    );
                    Some((Err(abort), self))
                }
            },
        }
    }
}

/// The index just after the `chunks`-th chunk frame, or of the first closing
/// frame if there are fewer chunks.
fn cut_after(frames: &[Frame], chunks: usize) -> usize {
    let mut seen = 0;
    frames
        .iter()
        .position(|frame| match frame.part {
            Part::Opening | Part::Garbage => false,
            Part::Closing => true,
            Part::Chunk if seen == chunks => true,
            Part::Chunk => {
                seen += 1;
                false
            }
        })
        .unwrap_or(frames.len())
}
