//! A streaming pre-scan of a CSV file before DuckDB reads it: UTF-8 validity, the byte-order mark,
//! field length, quoting and row shape, and the header. Constant memory: it never holds a field,
//! only counts its bytes, so a 10 MB field is refused without being loaded.
//!
//! The dialect is RFC 4180: comma separator, double quotes, a quote inside a quoted field doubled,
//! CRLF or LF line ends. A UTF-8 byte-order mark is accepted and skipped (spreadsheet programs
//! write one); UTF-16 is refused. A trailing blank line is fine; a blank line between rows is not.

use std::io::Read;
use std::path::Path;

/// Longest header name accepted (bytes).
const MAX_HEADER_NAME: usize = 256;

/// What the pre-scan found wrong, by record: record 0 is the header, record 1 the first data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvProblem {
    /// Zero bytes, or nothing but a byte-order mark and blank lines.
    Empty,
    /// A UTF-16 byte-order mark.
    Utf16,
    /// Bytes that are not UTF-8, first seen in this record and field (0-based).
    Encoding { record: u64, field: usize },
    /// A field longer than the limit.
    FieldTooLong { record: u64, field: usize },
    /// A record with another number of fields than the header.
    Ragged {
        record: u64,
        found: usize,
        expected: usize,
    },
    /// A quote inside an unquoted field, or text after a closing quote.
    StrayQuote { record: u64, field: usize },
    /// A quoted field still open at the end of the file.
    UnterminatedQuote { record: u64, field: usize },
    /// A blank line between rows.
    BlankLine { record: u64 },
}

/// The shape of a CSV file that passed the pre-scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvShape {
    /// Header names, trimmed.
    pub header: Vec<String>,
    /// Number of data rows (records after the header).
    pub data_rows: u64,
    /// Whether the file starts with a UTF-8 byte-order mark.
    pub bom: bool,
}

/// Problems found (the first `limit` of them) and their total count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvProblems {
    pub listed: Vec<CsvProblem>,
    pub total: u64,
    /// The header names read (for naming columns in messages).
    pub header: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just saw a quote inside a quoted field: either a doubled quote or the closing one.
    QuoteInQuoted,
    /// After a closing quote: only a separator or a line end may follow.
    AfterQuote,
}

/// Incremental UTF-8 validation, one byte at a time.
#[derive(Debug, Default)]
struct Utf8 {
    need: u8,
    lo: u8,
    hi: u8,
}

impl Utf8 {
    /// Feeds one byte; false when the byte makes the text invalid.
    fn feed(&mut self, b: u8) -> bool {
        if self.need > 0 {
            if (self.lo..=self.hi).contains(&b) {
                self.need -= 1;
                self.lo = 0x80;
                self.hi = 0xBF;
                return true;
            }
            // The sequence broke off; the byte itself may start a new one.
            self.need = 0;
            let _ = self.start(b);
            return false;
        }
        self.start(b)
    }

    fn start(&mut self, b: u8) -> bool {
        let (need, lo, hi) = match b {
            0x00..=0x7F => return true,
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => return false,
        };
        self.need = need;
        self.lo = lo;
        self.hi = hi;
        true
    }

    fn complete(&self) -> bool {
        self.need == 0
    }
}

struct Scanner {
    max_field: usize,
    limit: usize,
    state: State,
    utf8: Utf8,
    record: u64,
    field: usize,
    field_len: usize,
    field_flagged: bool,
    record_has_bytes: bool,
    encoding_flagged_record: Option<u64>,
    skip_lf: bool,
    header: Vec<String>,
    header_field: Vec<u8>,
    blank_record: Option<u64>,
    records_done: u64,
    problems: CsvProblems,
}

impl Scanner {
    fn problem(&mut self, p: CsvProblem) {
        self.problems.total += 1;
        if self.problems.listed.len() < self.limit {
            self.problems.listed.push(p);
        }
    }

    fn push_content(&mut self, b: u8) {
        self.field_len += 1;
        if self.field_len > self.max_field && !self.field_flagged {
            self.field_flagged = true;
            self.problem(CsvProblem::FieldTooLong {
                record: self.record,
                field: self.field,
            });
        }
        if self.record == 0 && self.header_field.len() <= MAX_HEADER_NAME {
            self.header_field.push(b);
        }
    }

    fn end_field(&mut self) {
        if self.record == 0 {
            let name = String::from_utf8_lossy(&self.header_field)
                .trim()
                .to_string();
            self.header.push(name);
            self.header_field.clear();
        }
        self.field += 1;
        self.field_len = 0;
        self.field_flagged = false;
        self.state = State::FieldStart;
    }

    fn end_record(&mut self) {
        if !self.record_has_bytes && self.field == 0 {
            // A blank line: fine at the end of the file, not between rows.
            if self.blank_record.is_none() {
                self.blank_record = Some(self.record);
            }
            return;
        }
        if let Some(r) = self.blank_record.take() {
            self.problem(CsvProblem::BlankLine { record: r });
            // Records are counted as DuckDB reads them, which skips blank lines; keep counting
            // from where the blank line was.
        }
        self.end_field();
        if self.record > 0 && self.field != self.header.len() {
            let expected = self.header.len();
            let found = self.field;
            self.problem(CsvProblem::Ragged {
                record: self.record,
                found,
                expected,
            });
        }
        self.records_done = self.record + 1;
        self.record += 1;
        self.field = 0;
        self.record_has_bytes = false;
    }

    fn byte(&mut self, b: u8) {
        if !self.utf8.feed(b) && self.encoding_flagged_record != Some(self.record) {
            self.encoding_flagged_record = Some(self.record);
            self.problem(CsvProblem::Encoding {
                record: self.record,
                field: self.field,
            });
        }
        if self.skip_lf {
            self.skip_lf = false;
            if b == b'\n' {
                return;
            }
        }
        match self.state {
            State::Quoted => {
                if b == b'"' {
                    self.state = State::QuoteInQuoted;
                } else {
                    self.push_content(b);
                }
                return;
            }
            State::QuoteInQuoted => {
                if b == b'"' {
                    self.push_content(b);
                    self.state = State::Quoted;
                    return;
                }
                self.state = State::AfterQuote;
            }
            _ => {}
        }
        match b {
            b',' => {
                self.record_has_bytes = true;
                self.end_field();
            }
            b'\n' => self.end_record(),
            b'\r' => {
                self.end_record();
                self.skip_lf = true;
            }
            b'"' => {
                self.record_has_bytes = true;
                if self.state == State::FieldStart {
                    self.state = State::Quoted;
                } else {
                    let (record, field) = (self.record, self.field);
                    self.problem(CsvProblem::StrayQuote { record, field });
                    self.state = State::Unquoted;
                }
            }
            _ => {
                self.record_has_bytes = true;
                if self.state == State::AfterQuote {
                    let (record, field) = (self.record, self.field);
                    self.problem(CsvProblem::StrayQuote { record, field });
                }
                self.state = State::Unquoted;
                self.push_content(b);
            }
        }
    }

    fn finish(&mut self) {
        if !self.utf8.complete() && self.encoding_flagged_record != Some(self.record) {
            let (record, field) = (self.record, self.field);
            self.problem(CsvProblem::Encoding { record, field });
        }
        if self.state == State::Quoted {
            let (record, field) = (self.record, self.field);
            self.problem(CsvProblem::UnterminatedQuote { record, field });
            self.state = State::AfterQuote;
        }
        if self.record_has_bytes || self.field > 0 {
            self.end_record();
        }
    }
}

/// Pre-scans a CSV file. `Ok(Ok(shape))` when it can be handed to DuckDB, `Ok(Err(problems))`
/// when it cannot, `Err` when the file cannot be read at all.
pub fn prescan(
    path: &Path,
    max_field: usize,
    limit: usize,
) -> std::io::Result<Result<CsvShape, CsvProblems>> {
    let mut file = std::fs::File::open(path)?;
    prescan_reader(&mut file, max_field, limit)
}

/// `prescan` over any reader.
pub fn prescan_reader(
    reader: &mut dyn Read,
    max_field: usize,
    limit: usize,
) -> std::io::Result<Result<CsvShape, CsvProblems>> {
    let mut s = Scanner {
        max_field,
        limit,
        state: State::FieldStart,
        utf8: Utf8 {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
        },
        record: 0,
        field: 0,
        field_len: 0,
        field_flagged: false,
        record_has_bytes: false,
        encoding_flagged_record: None,
        skip_lf: false,
        header: Vec::new(),
        header_field: Vec::new(),
        blank_record: None,
        records_done: 0,
        problems: CsvProblems::default(),
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut first = true;
    let mut bom = false;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if first {
            first = false;
            // A read may return fewer than 3 bytes; a BOM split across reads is not worth handling
            // for files this small, it then shows as an encoding problem in the header.
            if chunk.starts_with(&[0xEF, 0xBB, 0xBF]) {
                bom = true;
                chunk = &chunk[3..];
            } else if chunk.starts_with(&[0xFF, 0xFE]) || chunk.starts_with(&[0xFE, 0xFF]) {
                s.problem(CsvProblem::Utf16);
                return Ok(Err(s.problems));
            }
        }
        for &b in chunk {
            s.byte(b);
        }
    }
    s.finish();
    if s.records_done == 0 {
        s.problem(CsvProblem::Empty);
    }
    if s.problems.total > 0 {
        s.problems.header = std::mem::take(&mut s.header);
        return Ok(Err(s.problems));
    }
    Ok(Ok(CsvShape {
        header: s.header,
        data_rows: s.records_done.saturating_sub(1),
        bom,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn scan(bytes: &[u8]) -> Result<CsvShape, CsvProblems> {
        prescan_reader(&mut &bytes[..], 16, 10).unwrap()
    }

    #[test]
    fn reads_header_and_counts_rows() {
        let s = scan(b"a, b ,c\r\n1,\"x,\"\"y\"\"\",3\r\n4,5,6\r\n\r\n").unwrap();
        assert_eq!(s.header, vec!["a", "b", "c"]);
        assert_eq!(s.data_rows, 2);
        assert!(!s.bom);
        let s = scan(b"\xEF\xBB\xBFa,b\n1,\"line\nbreak\"").unwrap();
        assert!(s.bom);
        assert_eq!(s.header, vec!["a", "b"]);
        assert_eq!(s.data_rows, 1);
        assert_eq!(scan(b"a,b\n").unwrap().data_rows, 0);
    }

    #[test]
    fn refuses_bad_bytes_long_fields_and_bad_shapes() {
        let p = scan(b"a,b\n1,2\n3,\xE9t\xE9\n").unwrap_err();
        assert_eq!(
            p.listed,
            vec![CsvProblem::Encoding {
                record: 2,
                field: 1
            }]
        );
        let p = scan(b"a,b\n1,2\n3,12345678901234567\n").unwrap_err();
        assert_eq!(
            p.listed,
            vec![CsvProblem::FieldTooLong {
                record: 2,
                field: 1
            }]
        );
        let p = scan(b"a,b\n1,2,3\n").unwrap_err();
        assert_eq!(
            p.listed,
            vec![CsvProblem::Ragged {
                record: 1,
                found: 3,
                expected: 2
            }]
        );
        let p = scan(b"a,b\n1,x\"y\n").unwrap_err();
        assert_eq!(
            p.listed,
            vec![CsvProblem::StrayQuote {
                record: 1,
                field: 1
            }]
        );
        let p = scan(b"a,b\n1,\"open\n").unwrap_err();
        assert_eq!(
            p.listed,
            vec![CsvProblem::UnterminatedQuote {
                record: 1,
                field: 1
            }]
        );
        let p = scan(b"a,b\n1,2\n\n3,4\n").unwrap_err();
        assert_eq!(p.listed, vec![CsvProblem::BlankLine { record: 2 }]);
        assert_eq!(scan(b"").unwrap_err().listed, vec![CsvProblem::Empty]);
        assert_eq!(
            scan(b"\xEF\xBB\xBF\n\n").unwrap_err().listed,
            vec![CsvProblem::Empty]
        );
        assert_eq!(
            scan(b"\xFF\xFEa\x00").unwrap_err().listed,
            vec![CsvProblem::Utf16]
        );
        // Truncated multi-byte sequence at the end of the file.
        let p = scan(b"a\n\xC3").unwrap_err();
        assert_eq!(
            p.listed,
            vec![CsvProblem::Encoding {
                record: 1,
                field: 0
            }]
        );
        // Overlong encodings and surrogates are not UTF-8.
        assert!(scan(b"a\n\xC0\xAF\n").is_err());
        assert!(scan(b"a\n\xED\xA0\x80\n").is_err());
        assert!(scan("a\né€😀\n".as_bytes()).is_ok());
    }
}
