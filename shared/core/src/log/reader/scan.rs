//! A fast, allocation-free scanner for one CloudTrail record: it reads the top-level keys,
//! notes where the few fields trailsight needs are, and skips every other value with `memchr`
//! (skipped values are delimited, not validated: they are never used). The record's text is
//! then checked as UTF-8 once, and the fields are borrowed from it.

use super::block::Blocks;
use std::borrow::Cow;

/// A wanted string field of a record, in [`FIELD_NAMES`] order.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    EventTime,
    EventSource,
    EventName,
    AwsRegion,
    RecipientAccountId,
    ErrorCode,
    EventId,
    EventType,
    UserAgent,
    SourceIp,
    IdentityType,
    Arn,
    IdentityAccount,
    InvokedBy,
    PrincipalId,
}

/// The fields of one record as found (not yet checked for presence).
#[derive(Debug, Default)]
pub struct Fields<'a> {
    /// The string fields, by [`Field`] (`None`: absent or `null`).
    strings: [Option<Cow<'a, str>>; FIELDS],
    /// `readOnly`, when present.
    pub read_only: Option<bool>,
}

impl<'a> Fields<'a> {
    /// Takes the string field `f` out.
    pub fn take(&mut self, f: Field) -> Option<Cow<'a, str>> {
        self.strings[f as usize].take()
    }

    /// The string field `f`.
    #[cfg(test)]
    pub fn get(&self, f: Field) -> Option<&str> {
        self.strings[f as usize].as_deref()
    }
}

/// Why a record could not be scanned.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanError {
    /// The data ends inside the record: read more.
    Incomplete,
    /// The record is malformed; the text says how.
    Invalid(String),
}

type Scan<T> = Result<T, ScanError>;

/// Where a string value's content lies in the record, and whether it holds an escape.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

/// The wanted string fields, as spans (`None`: absent or `null`), in [`FIELD_NAMES`] order.
type Spans = [Option<Span>; FIELDS];

const FIELDS: usize = 15;
const FIELD_NAMES: [&str; FIELDS] = [
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "recipientAccountId",
    "errorCode",
    "eventID",
    "eventType",
    "userAgent",
    "sourceIPAddress",
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.accountId",
    "userIdentity.invokedBy",
    "userIdentity.principalId",
];

/// A scan stopped; why is kept in the cursor ([`Cursor::why`]), so that the hot functions
/// return small results (a span in registers, not beside a `String`).
#[derive(Debug)]
struct Stop;

type Step<T> = Result<T, Stop>;

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
    /// Where the quotes and backslashes are, 64 bytes at a time.
    blocks: Blocks<'a>,
    /// Why the scan stopped: the data ended ([`ScanError::Incomplete`]) unless set otherwise.
    why: ScanError,
}

impl<'a> Cursor<'a> {
    /// Notes that the record is malformed, for the caller to return.
    #[cold]
    #[inline(never)]
    fn invalid(&mut self, why: String) -> Stop {
        self.why = ScanError::Invalid(why);
        Stop
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&mut self, what: &str, found: u8) -> Stop {
        let at = self.i;
        self.invalid(format!("expected {what} at record byte {at}, found {:?}", char::from(found)))
    }

    /// The byte at the cursor after any whitespace.
    #[inline(always)]
    fn ws(&mut self) -> Step<u8> {
        // Compact JSON has none: every byte above the space is not whitespace.
        match self.s.get(self.i) {
            Some(&b) if b > b' ' => Ok(b),
            _ => self.ws_slow(),
        }
    }

    fn ws_slow(&mut self) -> Step<u8> {
        while let Some(&b) = self.s.get(self.i) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Ok(b);
            }
            self.i += 1;
        }
        Err(Stop)
    }

    #[inline(always)]
    fn expect(&mut self, want: u8, what: &str) -> Step<()> {
        let b = self.ws()?;
        if b != want {
            return Err(self.unexpected(what, b));
        }
        self.i += 1;
        Ok(())
    }

    /// The string starting at the cursor (which is at its opening quote), as a span.
    #[inline(always)]
    fn span(&mut self) -> Step<Span> {
        let start = self.i + 1;
        let (end, escaped) = self.blocks.string_end(start).ok_or(Stop)?;
        self.i = end + 1;
        Ok(Span { start, end, escaped })
    }

    /// The raw content of the string starting at the cursor (which is at its opening quote).
    #[inline(always)]
    fn raw_string(&mut self) -> Step<&'a [u8]> {
        let span = self.span()?;
        self.s.get(span.start..span.end).ok_or(Stop)
    }

    /// A string value as a span, or `None` for `null`; other types are an error naming field `f`.
    #[inline(always)]
    fn string(&mut self, f: usize) -> Step<Option<Span>> {
        match self.ws()? {
            b'"' => self.span().map(Some),
            b'n' => self.literal(b"null").map(|_| None),
            _ => {
                self.skip()?;
                Err(self.invalid(format!("{} is not a string", FIELD_NAMES[f])))
            }
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Step<()> {
        let end = self.i + lit.len();
        let got = self.s.get(self.i..end).ok_or(Stop)?;
        if got != lit {
            let at = self.i;
            return Err(self.invalid(format!("invalid literal at record byte {at}")));
        }
        self.i = end;
        Ok(())
    }

    /// Skips the value at the cursor, delimiting it as the reader's whole-value scan does.
    #[inline(always)]
    fn skip(&mut self) -> Step<()> {
        let end = match self.ws()? {
            b'"' => return self.span().map(|_| ()),
            b'{' => self.blocks.nested_end(self.i, b'{', b'}'),
            b'[' => self.blocks.nested_end(self.i, b'[', b']'),
            _ => self.scalar_end(),
        };
        self.i = end.ok_or(Stop)?;
        Ok(())
    }

    /// Index just past the number or literal at the cursor (a malformed one still ends at
    /// the next delimiter).
    #[inline(always)]
    fn scalar_end(&self) -> Option<usize> {
        // `null`, `true` and `false` followed by a delimiter (most skipped scalars) in one
        // comparison each.
        for lit in [&b"null"[..], b"true", b"false"] {
            let end = self.i + lit.len();
            if self.s.get(self.i..end) == Some(lit) && self.s.get(end).is_some_and(|&b| is_delimiter(b)) {
                return Some(end);
            }
        }
        self.delimited_end()
    }

    /// Index of the first delimiter after the byte at the cursor; `None` when the text ends first.
    fn delimited_end(&self) -> Option<usize> {
        self.s.get(self.i..)?.iter().position(|&b| is_delimiter(b)).map(|e| self.i + e.max(1))
    }

    fn read_only(&mut self) -> Step<Option<bool>> {
        match self.ws()? {
            b't' => self.literal(b"true").map(|_| Some(true)),
            b'f' => self.literal(b"false").map(|_| Some(false)),
            b'"' => Ok(decode(self.raw_string()?).and_then(|s| s.parse().ok())),
            _ => self.skip().map(|_| None),
        }
    }

    /// Calls `on_key(cursor, key)` for each key of the object at the cursor; `on_key` must
    /// consume the value.
    #[inline(always)]
    fn object(&mut self, mut on_key: impl FnMut(&mut Self, &[u8]) -> Step<()>) -> Step<()> {
        self.expect(b'{', "'{'")?;
        if self.ws()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.ws()? != b'"' {
                let at = self.i;
                return Err(self.invalid(format!("expected a key at record byte {at}")));
            }
            let key = self.raw_string()?;
            self.expect(b':', "':'")?;
            on_key(self, key)?;
            match self.ws()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                b => return Err(self.unexpected("',' or '}'", b)),
            }
        }
    }
}

/// Whether `b` ends a number or literal.
#[inline(always)]
fn is_delimiter(b: u8) -> bool {
    matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
}

/// The text of a JSON string's raw content (unescaped when it holds escapes).
fn decode(raw: &[u8]) -> Option<Cow<'_, str>> {
    if memchr::memchr(b'\\', raw).is_none() {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    unescape(raw).map(Cow::Owned)
}

fn unescape(raw: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).ok()
}

/// The text of one field: borrowed from the record's text when it was valid UTF-8 as a whole
/// (one check per record instead of one per field), else checked on its own.
#[inline(always)]
fn text<'a>(s: &'a [u8], valid: Option<&'a str>, span: Option<Span>, f: usize) -> Scan<Option<Cow<'a, str>>> {
    let Some(span) = span else {
        return Ok(None);
    };
    let decoded = if span.escaped {
        unescape(&s[span.start..span.end]).map(Cow::Owned)
    } else {
        // Span ends sit next to an ASCII quote, so they are always character boundaries.
        match valid {
            Some(t) => t.get(span.start..span.end),
            None => std::str::from_utf8(&s[span.start..span.end]).ok(),
        }
        .map(Cow::Borrowed)
    };
    decoded.map(Some).ok_or_else(|| ScanError::Invalid(format!("{} is not a valid JSON string", FIELD_NAMES[f])))
}

/// What a top-level key of a record is to the scanner.
enum TopKey {
    /// A wanted string field, by its index in [`FIELD_NAMES`].
    Field(usize),
    ReadOnly,
    UserIdentity,
    Other,
}

/// The top-level key `key`: a switch on its length, then whole-key comparisons (a word or
/// two each; a `match` on byte-string patterns would compare byte by byte).
#[inline(always)]
fn top_key(key: &[u8]) -> TopKey {
    let field = match key.len() {
        7 if key == b"eventID" => Field::EventId as usize,
        8 if key == b"readOnly" => return TopKey::ReadOnly,
        9 => {
            if key == b"eventTime" {
                Field::EventTime as usize
            } else if key == b"eventName" {
                Field::EventName as usize
            } else if key == b"awsRegion" {
                Field::AwsRegion as usize
            } else if key == b"errorCode" {
                Field::ErrorCode as usize
            } else if key == b"eventType" {
                Field::EventType as usize
            } else if key == b"userAgent" {
                Field::UserAgent as usize
            } else {
                return TopKey::Other;
            }
        }
        11 if key == b"eventSource" => Field::EventSource as usize,
        12 if key == b"userIdentity" => return TopKey::UserIdentity,
        15 if key == b"sourceIPAddress" => Field::SourceIp as usize,
        18 if key == b"recipientAccountId" => Field::RecipientAccountId as usize,
        _ => return TopKey::Other,
    };
    TopKey::Field(field)
}

/// The wanted field named by a key of `userIdentity`, as [`top_key`] does.
#[inline(always)]
fn identity_key(key: &[u8]) -> Option<usize> {
    match key.len() {
        3 if key == b"arn" => Some(Field::Arn as usize),
        4 if key == b"type" => Some(Field::IdentityType as usize),
        9 if key == b"accountId" => Some(Field::IdentityAccount as usize),
        9 if key == b"invokedBy" => Some(Field::InvokedBy as usize),
        11 if key == b"principalId" => Some(Field::PrincipalId as usize),
        _ => None,
    }
}

/// Scans the record object at the start of `s`; returns its fields and length in bytes.
pub fn record(s: &[u8]) -> Scan<(Fields<'_>, usize)> {
    let mut spans: Spans = [None; FIELDS];
    let mut read_only = None;
    let mut c = Cursor { s, i: 0, blocks: Blocks::new(s), why: ScanError::Incomplete };
    let scanned = c.object(|c, key| {
        let field = match top_key(key) {
            TopKey::Field(f) => f,
            TopKey::ReadOnly => {
                read_only = c.read_only()?;
                return Ok(());
            }
            TopKey::UserIdentity if c.ws()? == b'{' => {
                return c.object(|c, key| {
                    let Some(field) = identity_key(key) else {
                        return c.skip();
                    };
                    spans[field] = c.string(field)?;
                    Ok(())
                });
            }
            TopKey::UserIdentity | TopKey::Other => return c.skip(),
        };
        spans[field] = c.string(field)?;
        Ok(())
    });
    if scanned.is_err() {
        return Err(c.why);
    }
    let len = c.i;
    let valid = simdutf8::basic::from_utf8(&s[..len]).ok();
    let mut fields = Fields { read_only, ..Fields::default() };
    for (f, slot) in fields.strings.iter_mut().enumerate() {
        *slot = text(s, valid, spans[f], f)?;
    }
    Ok((fields, len))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wanted_fields_are_decoded_and_others_skipped() {
        let text = br#"{"a":{"b":[1,"}"]},"eventName":"X\"y","userIdentity":{"arn":"arn:1","sessionContext":{"x":1}},"readOnly":"true","eventSource":null} tail"#;
        let (f, n) = record(text).unwrap();
        assert_eq!(f.get(Field::EventName), Some("X\"y"));
        assert_eq!(f.get(Field::Arn), Some("arn:1"));
        assert_eq!(f.read_only, Some(true));
        assert!(f.get(Field::EventSource).is_none());
        assert_eq!(&text[n..], b" tail");
    }

    #[test]
    fn cut_records_are_incomplete_and_bad_ones_invalid() {
        let text = br#"{"eventName":"X","b":[1,2]}"#;
        for cut in 0..text.len() {
            assert_eq!(record(&text[..cut]).err(), Some(ScanError::Incomplete), "cut {cut}");
        }
        assert!(matches!(record(br#"{"eventName":5}"#), Err(ScanError::Invalid(_))));
        assert!(matches!(record(br#"{"a" 1}"#), Err(ScanError::Invalid(_))));
        assert!(matches!(record(br#"{"a":1 "b":2}"#), Err(ScanError::Invalid(_))));
    }

    #[test]
    fn every_wanted_key_is_classified_and_near_misses_are_skipped() {
        // Given the names of the wanted fields
        for (f, name) in FIELD_NAMES.iter().enumerate() {
            // When each is classified where it occurs
            let got = match name.strip_prefix("userIdentity.") {
                Some(inner) => identity_key(inner.as_bytes()),
                None => match top_key(name.as_bytes()) {
                    TopKey::Field(g) => Some(g),
                    _ => None,
                },
            };
            // Then it names its own field
            assert_eq!(got, Some(f), "{name}");
            // And the same name with its last byte changed is skipped
            let mut near = name.rsplit('.').next().unwrap().as_bytes().to_vec();
            *near.last_mut().unwrap() ^= 0x20;
            assert!(matches!(top_key(&near), TopKey::Other), "{name}");
            assert_eq!(identity_key(&near), None, "{name}");
        }
        assert!(matches!(top_key(b"readOnly"), TopKey::ReadOnly));
        assert!(matches!(top_key(b"userIdentity"), TopKey::UserIdentity));
        assert!(matches!(top_key(b"requestID"), TopKey::Other));
    }

    #[test]
    fn skipped_literals_and_numbers_end_at_the_next_delimiter() {
        // Given records whose skipped values are literals, numbers and malformed scalars,
        // followed by a comma, a space or a newline
        for value in ["null", "true", "false", "12.5e3", "nullx", "truefalse", "-"] {
            for after in [",", " ,", "\n,"] {
                let text = format!(r#"{{"a":{value}{after}"eventName":"X"}}"#);
                // When the record is scanned
                let (f, n) = record(text.as_bytes()).unwrap();
                // Then the value was skipped up to its delimiter, and what follows is read
                assert_eq!((f.get(Field::EventName), n), (Some("X"), text.len()), "{text}");
            }
        }
        let (f, _) = record(br#"{"a":nullx,"b":true ,"c":1}"#).unwrap();
        assert!(f.get(Field::EventName).is_none());
        let (f, n) = record(br#"{"a":null,"eventName":"X"} tail"#).unwrap();
        assert_eq!((f.get(Field::EventName), n), (Some("X"), 26));
        // And a literal cut before its delimiter is incomplete
        for text in [&br#"{"a":null"#[..], br#"{"a":nul"#, br#"{"a":false"#] {
            assert_eq!(record(text).err(), Some(ScanError::Incomplete), "{text:?}");
        }
    }

    #[test]
    fn whitespace_anywhere_between_tokens_reads_like_compact_json() {
        // Given a record compact and the same record with whitespace between all its tokens
        let compact = br#"{"eventName":"X","userIdentity":{"arn":"a","x":[1,{"y":null}]},"readOnly":false,"n":1}"#;
        let spaced = b" {\n\t\"eventName\" :\r\n \"X\" ,\"userIdentity\":{ \"arn\" : \"a\" , \"x\" : [ 1 , { \"y\" : null } ] } ,\n\"readOnly\":\tfalse , \"n\" : 1 \n}";
        // When both are scanned (the spaced one from its first non-space byte)
        let (a, n) = record(compact).unwrap();
        let (b, m) = record(&spaced[1..]).unwrap();
        // Then they give the same fields, each up to its closing brace
        let fields = |f: &Fields<'_>| {
            (f.get(Field::EventName).map(str::to_owned), f.get(Field::Arn).map(str::to_owned), f.read_only)
        };
        assert_eq!(fields(&a), fields(&b));
        assert_eq!((n, m), (compact.len(), spaced.len() - 1));
    }
}
