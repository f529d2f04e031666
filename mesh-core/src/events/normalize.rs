//! The normalizer: a registry of sources and the single, batch and streaming
//! entry points.

use std::io::{BufRead, Read, Write};

use super::format::{Format, Limits, NdjsonLines};
use super::ocsf::Event;
use super::source::{map_and_finish, Confidence, MapContext, Source};
use super::{EventError, RawRecord, Record};
use crate::Timestamp;

/// Options of a [`Normalizer`].
#[derive(Clone, Copy, Debug)]
pub struct NormalizeOptions {
    /// Copy the original record into `raw_data` (default false).
    pub keep_raw_data: bool,
    /// Size bounds for parsing.
    pub limits: Limits,
    /// Lowest detection confidence accepted without a hint (default 50).
    pub min_confidence: Confidence,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            keep_raw_data: false,
            limits: Limits::default(),
            min_confidence: 50,
        }
    }
}

/// The source and format picked for a record, and how sure the pick is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The source id.
    pub source: String,
    /// The record's format.
    pub format: Format,
    /// The winning source's confidence.
    pub confidence: Confidence,
}

/// Counts of a streaming run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Non-blank lines read.
    pub lines: u64,
    /// Events written.
    pub events: u64,
    /// Records that failed (handed to the error callback).
    pub errors: u64,
}

/// Normalizes raw records to OCSF events with the registered sources.
///
/// Immutable once built, so it can be shared across threads.
#[derive(Default)]
pub struct Normalizer {
    sources: Vec<Box<dyn Source>>,
    options: NormalizeOptions,
}

impl std::fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizer")
            .field("sources", &self.source_ids().collect::<Vec<_>>())
            .field("options", &self.options)
            .finish()
    }
}

impl Normalizer {
    /// An empty normalizer with these options.
    pub fn new(options: NormalizeOptions) -> Normalizer {
        Normalizer {
            sources: Vec::new(),
            options,
        }
    }

    /// Registers a source; its id must be new.
    pub fn register(&mut self, source: Box<dyn Source>) -> Result<(), EventError> {
        let id = source.id();
        if id.is_empty() {
            return Err(EventError::Registry {
                id: String::new(),
                reason: "source id is empty".into(),
            });
        }
        if self.source(id).is_some() {
            return Err(EventError::Registry {
                id: id.to_owned(),
                reason: "a source with this id is already registered".into(),
            });
        }
        self.sources.push(source);
        Ok(())
    }

    /// The registered source ids, in registration order.
    pub fn source_ids(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|s| s.id())
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&dyn Source> {
        self.sources.iter().find(|s| s.id() == id).map(|s| &**s)
    }

    /// The options.
    pub fn options(&self) -> &NormalizeOptions {
        &self.options
    }

    fn ctx(&self, now: Timestamp) -> MapContext {
        MapContext {
            now,
            limits: self.options.limits,
        }
    }

    /// Picks the source of a record with no hint: the record is parsed in
    /// each plausible format and every source of that format scores it. The
    /// best score wins if it reaches `min_confidence` and no other source
    /// ties it; otherwise `None` (mesh does not guess).
    pub fn detect(&self, raw: &[u8], now: Timestamp) -> Option<Detection> {
        self.detect_parsed(raw, now).map(|(d, _, _)| d)
    }

    fn detect_parsed(&self, raw: &[u8], now: Timestamp) -> Option<(Detection, usize, Record)> {
        let ctx = self.ctx(now);
        let mut best: Option<(Confidence, usize, Record)> = None;
        let mut tie = false;
        for format in Format::sniff(raw) {
            let Ok(record) = format.parse(raw, now, &ctx.limits) else {
                continue;
            };
            for (i, s) in self.sources.iter().enumerate() {
                if s.format() != format {
                    continue;
                }
                let score = s.detect(&record);
                match &best {
                    Some((b, _, _)) if score < *b => {}
                    Some((b, _, _)) if score == *b => tie = true,
                    _ if score == 0 => {}
                    _ => {
                        best = Some((score, i, record.clone()));
                        tie = false;
                    }
                }
            }
        }
        let (confidence, i, record) = best?;
        if tie || confidence < self.options.min_confidence {
            return None;
        }
        let s = self.sources.get(i)?;
        Some((
            Detection {
                source: s.id().to_owned(),
                format: s.format(),
                confidence,
            },
            i,
            record,
        ))
    }

    /// Normalizes one raw record with the named source, or with the detected
    /// one when `source` is `None`.
    pub fn normalize(
        &self,
        raw: &[u8],
        source: Option<&str>,
        now: Timestamp,
    ) -> Result<Event, EventError> {
        if raw.len() > self.options.limits.max_record_bytes {
            return Err(EventError::TooLarge {
                len: raw.len(),
                limit: self.options.limits.max_record_bytes,
                raw: RawRecord::from(raw),
            });
        }
        let ctx = self.ctx(now);
        let (src, record) =
            match source {
                Some(id) => {
                    let src = self.source(id).ok_or_else(|| EventError::UnknownSource {
                        name: id.to_owned(),
                        raw: RawRecord::from(raw),
                    })?;
                    if let Some(out) = src.normalize_raw(raw, &ctx) {
                        return out
                            .map_err(|e| e.with_raw(raw))
                            .map(|e| self.with_raw_data(e, raw));
                    }
                    (src, src.parse(raw, &ctx)?)
                }
                None => {
                    let (_, i, record) =
                        self.detect_parsed(raw, now)
                            .ok_or_else(|| EventError::Unrecognized {
                                raw: RawRecord::from(raw),
                            })?;
                    let src = self.sources.get(i).map(|s| &**s).ok_or_else(|| {
                        EventError::Unrecognized {
                            raw: RawRecord::from(raw),
                        }
                    })?;
                    (src, record)
                }
            };
        let event = map_and_finish(src, record, &ctx).map_err(|e| e.with_raw(raw))?;
        Ok(self.with_raw_data(event, raw))
    }

    /// [`Normalizer::normalize`], the event appended to `out` as compact
    /// JSON: the same bytes as `serde_json::to_vec` of the event, written
    /// without building the event's `unmapped` map when the source maps
    /// straight from the bytes ([`Source::normalize_raw_json`]). On error
    /// `out` is left as it was.
    pub fn normalize_json(
        &self,
        raw: &[u8],
        source: Option<&str>,
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<(), EventError> {
        if let Some(src) = source.and_then(|id| self.source(id)) {
            if raw.len() <= self.options.limits.max_record_bytes {
                let start = out.len();
                match src.normalize_raw_json(raw, &self.ctx(now), self.options.keep_raw_data, out) {
                    Some(Ok(())) => return Ok(()),
                    Some(Err(e)) => {
                        out.truncate(start);
                        return Err(e.with_raw(raw));
                    }
                    None => out.truncate(start),
                }
            }
        }
        let event = self.normalize(raw, source, now)?;
        event
            .write_json(out)
            .map_err(|e| super::write::unwritable(e).with_raw(raw))
    }

    fn with_raw_data(&self, mut event: Event, raw: &[u8]) -> Event {
        if self.options.keep_raw_data {
            event.raw_data = Some(String::from_utf8_lossy(raw).into_owned());
        }
        event
    }

    /// Normalizes an already parsed record with the named source.
    pub fn normalize_record(
        &self,
        record: Record,
        source: &str,
        now: Timestamp,
    ) -> Result<Event, EventError> {
        let src = self
            .source(source)
            .ok_or_else(|| EventError::UnknownSource {
                name: source.to_owned(),
                raw: RawRecord::default(),
            })?;
        map_and_finish(src, record, &self.ctx(now))
    }

    /// Normalizes a batch: one result per record, in order. A failing record
    /// gives an error carrying its bytes and never stops the batch.
    pub fn normalize_batch<'a, I>(
        &self,
        records: I,
        source: Option<&str>,
        now: Timestamp,
    ) -> Vec<Result<Event, EventError>>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        records
            .into_iter()
            .map(|raw| self.normalize(raw, source, now))
            .collect()
    }

    /// Normalizes each non-blank line of an NDJSON (or line-oriented CEF,
    /// LEEF, syslog, key=value) buffer, lazily, with its line number.
    pub fn normalize_lines<'a>(
        &'a self,
        input: &'a [u8],
        source: Option<&'a str>,
        now: Timestamp,
    ) -> impl Iterator<Item = (usize, Result<Event, EventError>)> + 'a {
        NdjsonLines::new(input).map(move |(n, line)| (n, self.normalize(line, source, now)))
    }

    /// Normalizes each non-blank line of `input` (as [`Self::normalize_lines`])
    /// straight to OCSF NDJSON appended to `out` (one event per line, the
    /// bytes of [`Self::normalize_json`]); each failed record goes to
    /// `on_error` with its line number and the batch goes on. Returns the
    /// number of events written.
    pub fn normalize_lines_json<F>(
        &self,
        input: &[u8],
        source: Option<&str>,
        now: Timestamp,
        out: &mut Vec<u8>,
        mut on_error: F,
    ) -> usize
    where
        F: FnMut(usize, EventError),
    {
        let mut written = 0;
        for (n, line) in NdjsonLines::new(input) {
            match self.normalize_json(line, source, now, out) {
                Ok(()) => {
                    out.push(b'\n');
                    written += 1;
                }
                Err(e) => on_error(n, e),
            }
        }
        written
    }

    /// Streams lines from `input` to NDJSON events on `output`; each failed
    /// record goes to `on_error` (with its line number) and the stream goes on.
    /// Generic over the host's reader and writer; returns only their I/O errors.
    pub fn normalize_stream<R, W, F>(
        &self,
        mut input: R,
        mut output: W,
        source: Option<&str>,
        now: Timestamp,
        mut on_error: F,
    ) -> std::io::Result<StreamStats>
    where
        R: BufRead,
        W: Write,
        F: FnMut(u64, EventError),
    {
        let mut stats = StreamStats::default();
        let mut line = Vec::with_capacity(4096);
        let mut json = Vec::with_capacity(4096);
        let mut line_no = 0u64;
        let cap = self.options.limits.max_record_bytes.saturating_add(2);
        loop {
            line.clear();
            let n = input
                .by_ref()
                .take(cap as u64)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if line.last() != Some(&b'\n') && n == cap {
                // Oversized line: report it and skip to the end of the line.
                stats.errors += 1;
                on_error(
                    line_no,
                    EventError::TooLarge {
                        len: n,
                        limit: self.options.limits.max_record_bytes,
                        raw: RawRecord::from(line.get(..1024).unwrap_or(&line)),
                    },
                );
                skip_line(&mut input)?;
                continue;
            }
            let rec = trim_eol(&line);
            if rec.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            stats.lines += 1;
            json.clear();
            match self.normalize_json(rec, source, now, &mut json) {
                Ok(()) => {
                    json.push(b'\n');
                    output.write_all(&json)?;
                    stats.events += 1;
                }
                Err(e) => {
                    stats.errors += 1;
                    on_error(line_no, e);
                }
            }
        }
        output.flush()?;
        Ok(stats)
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn skip_line<R: BufRead>(input: &mut R) -> std::io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                input.consume(len);
            }
        }
    }
}
