//! A fast, allocation-free scanner for one CloudTrail record: it reads the top-level keys,
//! decodes the few fields trailsight needs and skips every other value with `memchr`
//! (skipped values are delimited, not validated: they are never used).

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

    /// The raw content of the string starting at the cursor (which is at its opening quote).
    fn raw_string(&mut self) -> Scan<&'a [u8]> {
        let start = self.i + 1;
        let end = super::string_end(self.s, start).ok_or(ScanError::Incomplete)?;
        self.i = end;
        Ok(&self.s[start..end - 1])
    }

    /// A string value, or `None` for `null`; other types are an error naming `field`.
    fn string(&mut self, field: &str) -> Scan<Option<Cow<'a, str>>> {
        match self.ws()? {
            b'"' => {
                let raw = self.raw_string()?;
                decode(raw)
                    .map(Some)
                    .ok_or_else(|| ScanError::Invalid(format!("{field} is not a valid JSON string")))
            }
            b'n' => self.literal(b"null").map(|_| None),
            _ => {
                self.skip()?;
                Err(ScanError::Invalid(format!("{field} is not a string")))
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

fn decode(raw: &[u8]) -> Option<Cow<'_, str>> {
    if memchr::memchr(b'\\', raw).is_none() {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).ok().map(Cow::Owned)
}

/// Scans the record object at the start of `s`; returns its fields and length in bytes.
pub fn record(s: &[u8]) -> Scan<(Fields<'_>, usize)> {
    let mut f = Fields::default();
    let mut c = Cursor { s, i: 0 };
    c.object(|c, key| {
        match key {
            b"eventTime" => f.event_time = c.string("eventTime")?,
            b"eventSource" => f.event_source = c.string("eventSource")?,
            b"eventName" => f.event_name = c.string("eventName")?,
            b"awsRegion" => f.aws_region = c.string("awsRegion")?,
            b"recipientAccountId" => f.recipient_account_id = c.string("recipientAccountId")?,
            b"errorCode" => f.error_code = c.string("errorCode")?,
            b"eventID" => f.event_id = c.string("eventID")?,
            b"readOnly" => f.read_only = c.read_only()?,
            b"eventType" => f.event_type = c.string("eventType")?,
            b"userAgent" => f.user_agent = c.string("userAgent")?,
            b"sourceIPAddress" => f.source_ip = c.string("sourceIPAddress")?,
            b"userIdentity" if c.ws()? == b'{' => c.object(|c, key| {
                match key {
                    b"type" => f.identity_type = c.string("userIdentity.type")?,
                    b"arn" => f.arn = c.string("userIdentity.arn")?,
                    b"accountId" => f.identity_account = c.string("userIdentity.accountId")?,
                    b"invokedBy" => f.invoked_by = c.string("userIdentity.invokedBy")?,
                    b"principalId" => f.principal_id = c.string("userIdentity.principalId")?,
                    _ => c.skip()?,
                }
                Ok(())
            })?,
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok((f, c.i))
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
