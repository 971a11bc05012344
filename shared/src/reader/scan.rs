//! A fast, allocation-free scanner for one CloudTrail record: it reads the top-level keys,
//! notes where the few fields trailsight needs are, and skips every other value with `memchr`
//! (skipped values are delimited, not validated: they are never used). The record's text is
//! then checked as UTF-8 once, and the fields are borrowed from it.

use std::borrow::Cow;

/// The fields of one record as found (not yet checked for presence).
#[derive(Debug, Default)]
pub struct Fields<'a> {
    pub event_time: Option<Cow<'a, str>>,
    pub event_source: Option<Cow<'a, str>>,
    pub event_name: Option<Cow<'a, str>>,
    pub aws_region: Option<Cow<'a, str>>,
    pub recipient_account_id: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub event_id: Option<Cow<'a, str>>,
    pub read_only: Option<bool>,
    pub event_type: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub source_ip: Option<Cow<'a, str>>,
    pub identity_type: Option<Cow<'a, str>>,
    pub arn: Option<Cow<'a, str>>,
    pub identity_account: Option<Cow<'a, str>>,
    pub invoked_by: Option<Cow<'a, str>>,
    pub principal_id: Option<Cow<'a, str>>,
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

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) -> Scan<u8> {
        while let Some(&b) = self.s.get(self.i) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Ok(b);
            }
            self.i += 1;
        }
        Err(ScanError::Incomplete)
    }

    fn expect(&mut self, want: u8, what: &str) -> Scan<()> {
        let b = self.ws()?;
        if b != want {
            return Err(ScanError::Invalid(format!(
                "expected {what} at record byte {}, found {:?}",
                self.i,
                char::from(b)
            )));
        }
        self.i += 1;
        Ok(())
    }

    /// The string starting at the cursor (which is at its opening quote), as a span.
    #[inline(always)]
    fn span(&mut self) -> Scan<Span> {
        let start = self.i + 1;
        let (end, escaped) = super::string_end_escaped(self.s, start).ok_or(ScanError::Incomplete)?;
        self.i = end;
        Ok(Span {
            start,
            end: end - 1,
            escaped,
        })
    }

    /// The raw content of the string starting at the cursor (which is at its opening quote).
    fn raw_string(&mut self) -> Scan<&'a [u8]> {
        let span = self.span()?;
        Ok(&self.s[span.start..span.end])
    }

    /// A string value as a span, or `None` for `null`; other types are an error naming field `f`.
    fn string(&mut self, f: usize) -> Scan<Option<Span>> {
        match self.ws()? {
            b'"' => self.span().map(Some),
            b'n' => self.literal(b"null").map(|_| None),
            _ => {
                self.skip()?;
                Err(ScanError::Invalid(format!("{} is not a string", FIELD_NAMES[f])))
            }
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Scan<()> {
        let end = self.i + lit.len();
        let got = self.s.get(self.i..end).ok_or(ScanError::Incomplete)?;
        if got != lit {
            return Err(ScanError::Invalid(format!("invalid literal at record byte {}", self.i)));
        }
        self.i = end;
        Ok(())
    }

    fn skip(&mut self) -> Scan<()> {
        self.ws()?;
        match super::scan_value(&self.s[self.i..]) {
            super::Scan::End(n) => {
                self.i += n;
                Ok(())
            }
            super::Scan::Incomplete => Err(ScanError::Incomplete),
        }
    }

    fn read_only(&mut self) -> Scan<Option<bool>> {
        match self.ws()? {
            b't' => self.literal(b"true").map(|_| Some(true)),
            b'f' => self.literal(b"false").map(|_| Some(false)),
            b'"' => Ok(decode(self.raw_string()?).and_then(|s| s.parse().ok())),
            _ => self.skip().map(|_| None),
        }
    }

    /// Calls `on_key(cursor, key)` for each key of the object at the cursor; `on_key` must
    /// consume the value.
    fn object(&mut self, mut on_key: impl FnMut(&mut Self, &[u8]) -> Scan<()>) -> Scan<()> {
        self.expect(b'{', "'{'")?;
        if self.ws()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.ws()? != b'"' {
                return Err(ScanError::Invalid(format!("expected a key at record byte {}", self.i)));
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
                b => {
                    return Err(ScanError::Invalid(format!(
                        "expected ',' or '}}' at record byte {}, found {:?}",
                        self.i,
                        char::from(b)
                    )))
                }
            }
        }
    }
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
    decoded
        .map(Some)
        .ok_or_else(|| ScanError::Invalid(format!("{} is not a valid JSON string", FIELD_NAMES[f])))
}

/// Scans the record object at the start of `s`; returns its fields and length in bytes.
pub fn record(s: &[u8]) -> Scan<(Fields<'_>, usize)> {
    let mut spans: Spans = [None; FIELDS];
    let mut read_only = None;
    let mut c = Cursor { s, i: 0 };
    c.object(|c, key| {
        let field = match key {
            b"eventTime" => 0,
            b"eventSource" => 1,
            b"eventName" => 2,
            b"awsRegion" => 3,
            b"recipientAccountId" => 4,
            b"errorCode" => 5,
            b"eventID" => 6,
            b"eventType" => 7,
            b"userAgent" => 8,
            b"sourceIPAddress" => 9,
            b"readOnly" => {
                read_only = c.read_only()?;
                return Ok(());
            }
            b"userIdentity" if c.ws()? == b'{' => {
                return c.object(|c, key| {
                    let field = match key {
                        b"type" => 10,
                        b"arn" => 11,
                        b"accountId" => 12,
                        b"invokedBy" => 13,
                        b"principalId" => 14,
                        _ => return c.skip(),
                    };
                    spans[field] = c.string(field)?;
                    Ok(())
                });
            }
            _ => return c.skip(),
        };
        spans[field] = c.string(field)?;
        Ok(())
    })?;
    let len = c.i;
    let valid = simdutf8::basic::from_utf8(&s[..len]).ok();
    let t = |f: usize| text(s, valid, spans[f], f);
    let fields = Fields {
        event_time: t(0)?,
        event_source: t(1)?,
        event_name: t(2)?,
        aws_region: t(3)?,
        recipient_account_id: t(4)?,
        error_code: t(5)?,
        event_id: t(6)?,
        read_only,
        event_type: t(7)?,
        user_agent: t(8)?,
        source_ip: t(9)?,
        identity_type: t(10)?,
        arn: t(11)?,
        identity_account: t(12)?,
        invoked_by: t(13)?,
        principal_id: t(14)?,
    };
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
        assert_eq!(f.event_name.as_deref(), Some("X\"y"));
        assert_eq!(f.arn.as_deref(), Some("arn:1"));
        assert_eq!(f.read_only, Some(true));
        assert!(f.event_source.is_none());
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
}
