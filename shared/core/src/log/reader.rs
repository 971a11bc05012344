//! The streaming CloudTrail reader: a gzipped (or plain) `{"Records":[...]}` document, record by record.
//!
//! The decompressed file is never held in memory: a window of it sits in a buffer that
//! grows only to the size of the largest single record. Each record is parsed once, straight
//! from the buffer, keeping only the fields detection and the risky-change rules need,
//! borrowed where the JSON has no escapes. The raw text of each record is handed along too,
//! so the rules can look at `requestParameters` of the few calls they concern.
//!
//! Bad input never panics. A bad record (missing `eventTime`, `eventSource` or `eventName`,
//! an unparseable time, invalid JSON inside one element) is rejected on its own and the rest
//! of the file is read; a bad file (corrupt gzip, truncated or invalid JSON, no `Records`
//! array) is a [`ReadError`] with the byte offset and what to do.

use scan::Field;
use std::borrow::Cow;
use std::io::{self, Read};

mod block;
mod scan;
mod time;
pub use time::parse_event_minute;

thread_local! {
    /// Each reading thread's window buffer, reused from file to file.
    static WINDOW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Initial size of the decompression window.
const INITIAL_BUFFER: usize = 1 << 20;
/// The largest single record accepted (CloudTrail records are far smaller).
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// What went wrong with a whole file. The file contributes nothing to the counts.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The gzip stream is corrupt or truncated.
    #[error("corrupt or truncated gzip data after {decompressed} decompressed bytes ({source}); the object is damaged or not a gzip CloudTrail log: re-download or re-deliver it")]
    Gzip {
        /// Decompressed bytes read before the failure.
        decompressed: u64,
        /// The decoder's error.
        source: io::Error,
    },
    /// Reading the underlying source failed.
    #[error("read failed after {decompressed} decompressed bytes: {source}; check the source is reachable and retry")]
    Io {
        /// Decompressed bytes read before the failure.
        decompressed: u64,
        /// The I/O error.
        source: io::Error,
    },
    /// The document ended before its JSON was complete.
    #[error("JSON is truncated: the document ends at byte {offset} inside {inside}; the file was cut short (incomplete upload or download): re-deliver it")]
    Truncated {
        /// Decompressed byte offset of the end of the data.
        offset: u64,
        /// What was open when the data ended.
        inside: &'static str,
    },
    /// The JSON is malformed outside any single record.
    #[error(
        "invalid JSON at byte {offset}: expected {expected}, found {found:?}; the object is not a CloudTrail log file"
    )]
    Syntax {
        /// Decompressed byte offset.
        offset: u64,
        /// What the reader expected there.
        expected: &'static str,
        /// The character found instead.
        found: char,
    },
    /// The document has no `Records` array.
    #[error("not a CloudTrail log: the JSON document has no \"Records\" array; only CloudTrail log files (AWSLogs/.../CloudTrail/...) can be read")]
    NoRecords,
    /// The document is empty.
    #[error("the file is empty; CloudTrail never writes empty log files: check what wrote it")]
    Empty,
    /// One element of `Records` is larger than the reader accepts.
    #[error("record at byte {offset} is larger than {limit} bytes; the file is not a normal CloudTrail log")]
    RecordTooLarge {
        /// Decompressed byte offset of the record.
        offset: u64,
        /// The limit in bytes.
        limit: usize,
    },
}

/// One record the reader rejected; the rest of the file is still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRejection {
    /// Index of the record in `Records`.
    pub index: u64,
    /// Decompressed byte offset of the record.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
}

/// One CloudTrail record: the fields trailsight uses, borrowed from the read buffer.
#[derive(Debug)]
pub struct Record<'a> {
    /// `eventTime` as written.
    pub event_time: Cow<'a, str>,
    /// `eventTime` as whole minutes since the Unix epoch.
    pub minute: i64,
    /// `eventSource`, e.g. `ec2.amazonaws.com`.
    pub event_source: Cow<'a, str>,
    /// `eventName`, e.g. `RunInstances`.
    pub event_name: Cow<'a, str>,
    /// `awsRegion`.
    pub aws_region: Option<Cow<'a, str>>,
    /// `recipientAccountId`, falling back to `userIdentity.accountId`.
    pub account: Option<Cow<'a, str>>,
    /// `errorCode`; `None` for a successful call.
    pub error_code: Option<Cow<'a, str>>,
    /// `eventID`.
    pub event_id: Option<Cow<'a, str>>,
    /// `readOnly`, when present.
    pub read_only: Option<bool>,
    /// `eventType`, e.g. `AwsApiCall` or `AwsServiceEvent`.
    pub event_type: Option<Cow<'a, str>>,
    /// `userIdentity.type`.
    pub identity_type: Option<Cow<'a, str>>,
    /// The caller: `userIdentity.arn`, else `invokedBy` (service events), else `principalId`.
    pub caller: Option<Cow<'a, str>>,
    /// `userIdentity.invokedBy`.
    pub invoked_by: Option<Cow<'a, str>>,
    /// `userAgent`.
    pub user_agent: Option<Cow<'a, str>>,
    /// `sourceIPAddress`.
    pub source_ip: Option<Cow<'a, str>>,
    /// The record's JSON text, exactly as in the file.
    pub raw: &'a [u8],
}

impl<'a> Record<'a> {
    fn from_fields(mut raw: scan::Fields<'a>, text: &'a [u8]) -> Result<Self, String> {
        let event_time = raw.take(Field::EventTime).ok_or("missing eventTime")?;
        let event_source = raw.take(Field::EventSource).ok_or("missing eventSource")?;
        let event_name = raw.take(Field::EventName).ok_or("missing eventName")?;
        if event_source.is_empty() || event_name.is_empty() {
            return Err("empty eventSource or eventName".to_owned());
        }
        let minute = parse_event_minute(&event_time)
            .ok_or_else(|| format!("unparseable eventTime {:?}", truncate(&event_time, 40)))?;
        let account = raw.take(Field::RecipientAccountId).or(raw.take(Field::IdentityAccount));
        let invoked_by = raw.take(Field::InvokedBy);
        let caller = raw.take(Field::Arn).or_else(|| invoked_by.clone()).or(raw.take(Field::PrincipalId));
        Ok(Record {
            event_time,
            minute,
            event_source,
            event_name,
            aws_region: raw.take(Field::AwsRegion),
            account,
            error_code: raw.take(Field::ErrorCode).filter(|c| !c.is_empty()),
            event_id: raw.take(Field::EventId),
            read_only: raw.read_only,
            event_type: raw.take(Field::EventType),
            identity_type: raw.take(Field::IdentityType),
            caller,
            invoked_by,
            user_agent: raw.take(Field::UserAgent),
            source_ip: raw.take(Field::SourceIp),
            raw: text,
        })
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What a successfully read file contained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Records read and accepted.
    pub records: u64,
    /// Records rejected (see the callback's errors).
    pub rejected: u64,
    /// Decompressed bytes.
    pub bytes: u64,
}

/// Opens a log object for reading: gzip when it starts with the gzip magic, plain JSON otherwise.
pub fn open<R: Read>(mut input: R) -> io::Result<Decoded<R>> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match input.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let head = io::Cursor::new(magic[..got].to_vec()).chain(input);
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok(Decoded::Gzip(Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(256 << 10, head)))))
    } else {
        Ok(Decoded::Plain(head))
    }
}

/// The input with its first bytes (read to sniff the format) put back in front.
pub type Sniffed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// A log object's decompressed byte stream.
#[derive(Debug)]
pub enum Decoded<R: Read> {
    /// A gzip stream being inflated.
    Gzip(Box<flate2::read::MultiGzDecoder<io::BufReader<Sniffed<R>>>>),
    /// Plain JSON.
    Plain(Sniffed<R>),
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Gzip(d) => d.read(buf),
            Decoded::Plain(p) => p.read(buf),
        }
    }
}

impl<R: Read> Decoded<R> {
    fn is_gzip(&self) -> bool {
        matches!(self, Decoded::Gzip(_))
    }
}

/// Reads a log object (gzip or plain), calling `on_record` for every element of `Records`
/// in order: `Ok(record)` for a good one, `Err(rejection)` for one rejected on its own.
///
/// Returns the file-level error if the file as a whole is bad; the caller must then discard
/// whatever the callback accumulated for this file ("whole or not at all").
pub fn read_log<R, F>(input: R, mut on_record: F) -> Result<ReadSummary, ReadError>
where
    R: Read,
    F: FnMut(Result<Record<'_>, RecordRejection>),
{
    let decoded = open(input).map_err(|source| ReadError::Io { decompressed: 0, source })?;
    let gzip = decoded.is_gzip();
    // Reuse this thread's window buffer: zeroing a fresh megabyte per file costs more than
    // parsing a small file.
    let buf = WINDOW.with(|w| std::mem::take(&mut *w.borrow_mut()));
    let mut framer = Framer::new(decoded, gzip, buf);
    let result = framer.run(&mut on_record);
    let mut buf = std::mem::take(&mut framer.buf);
    if buf.len() > 4 * INITIAL_BUFFER {
        // Don't keep a window grown for one huge record.
        buf = Vec::new();
    }
    WINDOW.with(|w| *w.borrow_mut() = buf);
    result
}

/// The two containers the framer walks: the document's top-level object and its `Records`
/// array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Top,
    Records,
}

impl Container {
    /// Its opening and closing bytes.
    fn brackets(self) -> (u8, u8) {
        match self {
            Container::Top => (b'{', b'}'),
            Container::Records => (b'[', b']'),
        }
    }

    /// What was expected when its opening byte is not there.
    fn opening(self) -> &'static str {
        match self {
            Container::Top => "'{' opening a CloudTrail log document",
            Container::Records => "'[' opening the Records array",
        }
    }

    /// What was expected when neither a comma nor its closing byte follows an item.
    fn separator(self) -> &'static str {
        match self {
            Container::Top => "',' or '}' in the top-level object",
            Container::Records => "',' or ']' in the Records array",
        }
    }

    /// The state after its closing byte.
    fn closed(self) -> State {
        match self {
            Container::Top => State::Done,
            Container::Records => State::CommaOrClose(Container::Top),
        }
    }
}

/// Where the framer stands: before a container's opening byte, before its next item (or its
/// closing byte), after an item, or after the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open(Container),
    ItemOrClose(Container),
    CommaOrClose(Container),
    Done,
}

struct Framer<R: Read> {
    input: R,
    gzip: bool,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Decompressed offset of `buf[0]`.
    base: u64,
    eof: bool,
}

enum Scan {
    /// The value ends before this index.
    End(usize),
    /// More data is needed.
    Incomplete,
}

impl<R: Read> Framer<R> {
    fn new(input: R, gzip: bool, mut buf: Vec<u8>) -> Self {
        if buf.len() < INITIAL_BUFFER {
            buf = vec![0; INITIAL_BUFFER];
        }
        Framer { input, gzip, buf, pos: 0, end: 0, base: 0, eof: false }
    }

    fn offset(&self, at: usize) -> u64 {
        self.base + at as u64
    }

    /// Moves unread data to the front and reads more; grows the buffer when it is full.
    fn refill(&mut self) -> Result<(), ReadError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_RECORD_BYTES {
                return Err(ReadError::RecordTooLarge { offset: self.base, limit: MAX_RECORD_BYTES });
            }
            let grown = (self.buf.len() * 2).min(MAX_RECORD_BYTES);
            self.buf.resize(grown, 0);
        }
        while self.end < self.buf.len() {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    let decompressed = self.offset(self.end);
                    return Err(if self.gzip && is_decoder_error(&source) {
                        ReadError::Gzip { decompressed, source }
                    } else {
                        ReadError::Io { decompressed, source }
                    });
                }
            }
        }
        Ok(())
    }

    /// Skips whitespace; returns the next byte, reading more as needed (`None` at the end).
    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            while self.pos < self.end {
                let b = self.buf[self.pos];
                if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    self.pos += 1;
                } else {
                    return Ok(Some(b));
                }
            }
            if self.eof {
                return Ok(None);
            }
            self.refill()?;
        }
    }

    fn syntax(&self, expected: &'static str, found: u8) -> ReadError {
        ReadError::Syntax { offset: self.offset(self.pos), expected, found: char::from(found) }
    }

    fn truncated(&self, inside: &'static str) -> ReadError {
        ReadError::Truncated { offset: self.offset(self.end), inside }
    }

    /// Scans one whole JSON value starting at `self.pos`, reading more data as needed.
    fn whole_value(&mut self, inside: &'static str) -> Result<usize, ReadError> {
        loop {
            match scan_value(&self.buf[self.pos..self.end]) {
                Scan::End(n) => return Ok(self.pos + n),
                Scan::Incomplete if self.eof => return Err(self.truncated(inside)),
                Scan::Incomplete => self.refill()?,
            }
        }
    }

    fn run<F>(&mut self, mut on_record: F) -> Result<ReadSummary, ReadError>
    where
        F: FnMut(Result<Record<'_>, RecordRejection>),
    {
        let mut summary = ReadSummary::default();
        let mut state = State::Open(Container::Top);
        let mut saw_records = false;
        let mut index: u64 = 0;
        loop {
            let Some(b) = self.peek()? else {
                return match state {
                    State::Open(Container::Top) => Err(ReadError::Empty),
                    State::Done if saw_records => {
                        summary.bytes = self.offset(self.end);
                        Ok(summary)
                    }
                    State::Done => Err(ReadError::NoRecords),
                    State::ItemOrClose(Container::Records) | State::CommaOrClose(Container::Records) => {
                        Err(self.truncated("the Records array"))
                    }
                    _ => Err(self.truncated("the top-level object")),
                };
            };
            match state {
                State::Open(c) => {
                    if b != c.brackets().0 {
                        return Err(self.syntax(c.opening(), b));
                    }
                    self.pos += 1;
                    state = State::ItemOrClose(c);
                }
                State::ItemOrClose(c) | State::CommaOrClose(c) => {
                    if b == c.brackets().1 {
                        self.pos += 1;
                        state = c.closed();
                        continue;
                    }
                    if state == State::CommaOrClose(c) {
                        if b != b',' {
                            return Err(self.syntax(c.separator(), b));
                        }
                        self.pos += 1;
                        state = State::ItemOrClose(c);
                        continue;
                    }
                    state = match c {
                        Container::Top => self.member(b, &mut saw_records)?,
                        Container::Records => {
                            self.element(index, &mut summary, &mut on_record)?;
                            index += 1;
                            State::CommaOrClose(Container::Records)
                        }
                    };
                }
                State::Done => {
                    return Err(self.syntax("the end of the document after its closing '}'", b));
                }
            }
        }
    }

    /// Parses one member of the top-level object at `self.pos` (`b`, the byte there, should open its key): the first
    /// `Records` member opens the array, any other member is skipped whole.
    fn member(&mut self, b: u8, saw_records: &mut bool) -> Result<State, ReadError> {
        if b != b'"' {
            return Err(self.syntax("a key in the top-level object", b));
        }
        let key_end = self.whole_value("a top-level key")?;
        let is_records = &self.buf[self.pos..key_end] == b"\"Records\"";
        self.pos = key_end;
        match self.peek()? {
            Some(b':') => self.pos += 1,
            Some(other) => return Err(self.syntax("':' after a key", other)),
            None => return Err(self.truncated("the top-level object")),
        }
        if is_records && !*saw_records {
            *saw_records = true;
            return Ok(State::Open(Container::Records));
        }
        if self.peek()?.is_none() {
            return Err(self.truncated("the top-level object"));
        }
        self.pos = self.whole_value("a top-level value")?;
        Ok(State::CommaOrClose(Container::Top))
    }

    /// Parses one element of `Records` at `self.pos` and hands it to the callback.
    fn element<F>(&mut self, index: u64, summary: &mut ReadSummary, on_record: &mut F) -> Result<(), ReadError>
    where
        F: FnMut(Result<Record<'_>, RecordRejection>),
    {
        loop {
            let start = self.pos;
            let offset = self.offset(start);
            let slice = &self.buf[start..self.end];
            let parsed = if slice.first() == Some(&b'{') {
                scan::record(slice)
            } else {
                Err(scan::ScanError::Invalid("element of Records is not a JSON object".to_owned()))
            };
            match parsed {
                Ok((fields, len)) => {
                    let text = &slice[..len];
                    match Record::from_fields(fields, text) {
                        Ok(rec) => {
                            summary.records += 1;
                            on_record(Ok(rec));
                        }
                        Err(reason) => {
                            summary.rejected += 1;
                            on_record(Err(RecordRejection { index, offset, reason }));
                        }
                    }
                    self.pos = start + len;
                    return Ok(());
                }
                Err(scan::ScanError::Invalid(why)) => {
                    // This one element is bad: find where it ends, reject it, read on.
                    match scan_value(slice) {
                        Scan::End(len) => {
                            let reason =
                                if slice.first() == Some(&b'{') { format!("invalid record JSON: {why}") } else { why };
                            summary.rejected += 1;
                            on_record(Err(RecordRejection { index, offset, reason }));
                            self.pos = start + len;
                            return Ok(());
                        }
                        Scan::Incomplete if self.eof => return Err(self.truncated("a record")),
                        Scan::Incomplete => self.refill()?,
                    }
                }
                Err(scan::ScanError::Incomplete) if self.eof => return Err(self.truncated("a record")),
                Err(scan::ScanError::Incomplete) => self.refill()?,
            }
        }
    }
}

fn is_decoder_error(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof)
}

/// Finds the end of the JSON value at the start of `s` (which starts at a non-space byte).
/// Objects and arrays are matched by counting their own brackets outside strings; a
/// malformed value is still delimited, and then rejected by the parser.
fn scan_value(s: &[u8]) -> Scan {
    let Some(&first) = s.first() else {
        return Scan::Incomplete;
    };
    match first {
        b'"' => match string_end(s, 1) {
            Some(e) => Scan::End(e),
            None => Scan::Incomplete,
        },
        b'{' | b'[' => {
            let (open, close) = if first == b'{' { (b'{', b'}') } else { (b'[', b']') };
            let mut depth = 0usize;
            let mut i = 0;
            while let Some(j) = memchr::memchr3(b'"', open, close, &s[i..]) {
                let at = i + j;
                match s[at] {
                    b'"' => match string_end(s, at + 1) {
                        Some(e) => {
                            i = e;
                            continue;
                        }
                        None => return Scan::Incomplete,
                    },
                    c if c == open => depth += 1,
                    _ => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Scan::End(at + 1);
                        }
                    }
                }
                i = at + 1;
            }
            Scan::Incomplete
        }
        _ => match s.iter().position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')) {
            Some(e) => Scan::End(e.max(1)),
            None => Scan::Incomplete,
        },
    }
}

/// Index just past the closing quote of a string whose content starts at `from`.
#[inline(always)]
fn string_end(s: &[u8], from: usize) -> Option<usize> {
    string_end_escaped(s, from).map(|(end, _)| end)
}

/// Bytes of a string looked at eight at a time before handing a long one to `memchr`: most
/// strings of a record are short, and below this length a word loop beats a SIMD call.
const SHORT_STRING: usize = 64;

/// Index just past the closing quote of a string whose content starts at `from`, and whether
/// the string holds a backslash escape.
#[inline(always)]
fn string_end_escaped(s: &[u8], mut from: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        let at = match next_quote_or_backslash(s.get(from..)?) {
            Some(j) => from + j,
            None => return None,
        };
        if s[at] == b'"' {
            return Some((at + 1, escaped));
        }
        escaped = true;
        from = at + 2;
    }
}

/// The first quote or backslash of `s`: sixteen bytes at a time (one SIMD compare through
/// `wide`, SSE2 or NEON) over the first [`SHORT_STRING`] bytes, then `memchr`.
#[inline(always)]
fn next_quote_or_backslash(s: &[u8]) -> Option<usize> {
    let (quote, backslash) = (wide::u8x16::splat(b'"'), wide::u8x16::splat(b'\\'));
    let head = &s[..s.len().min(SHORT_STRING)];
    let mut chunks = head.chunks_exact(16);
    for (k, chunk) in chunks.by_ref().enumerate() {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(chunk);
        let v = wide::u8x16::new(bytes);
        let hits = (v.cmp_eq(quote) | v.cmp_eq(backslash)).move_mask();
        if hits != 0 {
            return Some(k * 16 + hits.trailing_zeros() as usize);
        }
    }
    let done = head.len() - chunks.remainder().len();
    memchr::memchr2(b'"', b'\\', &s[done..]).map(|j| done + j)
}

#[cfg(test)]
mod tests;
