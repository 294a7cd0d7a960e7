//! Direct-identifier detection (docs/domain.md §3.5), hand-written: Belgian national register and
//! BIS numbers, Belgian IBANs, e-mail addresses and Belgian phone numbers in values; deny-listed
//! and birth-date column names; the pseudonym format. Pure functions on text, no I/O.
//!
//! Column names are split into words on `_`, `-`, `.`, space, letter/digit changes and camelCase,
//! lower-cased and stripped of accents. A name is deny-listed when one of its words (or two
//! adjacent words joined, so `e_mail` reads `email`) is a deny-listed term; terms of four letters
//! or more also match at the start or end of a word, which catches Dutch and French compounds
//! (`familienaam`, `telefoonnummer`, `emailadres`, `adresse`) and English ones (`surname`,
//! `username`; so `surname_count` is refused too: a column about names has no place in a
//! pseudonymised extract).
//! Short terms (`nn`, `bis`, `nom`, `rue`, `gsm`, `rrn`) match whole words only, so `centre_id`,
//! `source_code`, `report_kind`, `nominal`, `bison` pass.

/// A kind of direct identifier found in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identifier {
    /// National register number (rijksregisternummer, INSZ/NISS), 11 digits, mod 97.
    Rrn,
    /// BIS number: as the national number, month + 20 or + 40.
    Bis,
    /// Belgian IBAN: BE + 14 digits, ISO 7064 mod 97-10.
    Iban,
    Email,
    /// Belgian mobile or landline number.
    Phone,
}

/// The identifiers found in one value (each kind at most once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits(u8);

impl Hits {
    fn set(&mut self, id: Identifier) {
        self.0 |= 1 << (id as u8);
    }

    pub fn contains(self, id: Identifier) -> bool {
        self.0 & (1 << (id as u8)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds found, in a fixed order.
    pub fn iter(self) -> impl Iterator<Item = Identifier> {
        [
            Identifier::Rrn,
            Identifier::Bis,
            Identifier::Iban,
            Identifier::Email,
            Identifier::Phone,
        ]
        .into_iter()
        .filter(move |id| self.contains(*id))
    }
}

/// Scans a text value for every kind of identifier.
pub fn scan_text(value: &str) -> Hits {
    let b = value.as_bytes();
    let mut hits = Hits::default();
    national_numbers(b, &mut hits);
    if iban(b) {
        hits.set(Identifier::Iban);
    }
    if email(b) {
        hits.set(Identifier::Email);
    }
    if phone(b) {
        hits.set(Identifier::Phone);
    }
    hits
}

/// Scans a value of a numeric column: only national register and BIS numbers can hide there
/// (a number stored as a number); phone and e-mail rules would misread decimals.
pub fn scan_number(value: &str) -> Hits {
    let mut hits = Hits::default();
    national_numbers(value.as_bytes(), &mut hits);
    hits
}

/// Minimum number of ASCII digits a text value needs to hold a national number, IBAN or phone
/// number (a landline `0X XXX XX XX` has 9). Values with fewer digits and no `@` cannot hold an
/// identifier, so the importer skips them in SQL before streaming the rest to the scanner.
pub const MIN_DIGITS_TEXT: usize = 9;
/// The same for numeric columns (a national number has 11 digits).
pub const MIN_DIGITS_NUMBER: usize = 11;

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

fn is_rrn_separator(b: u8) -> bool {
    matches!(b, b'.' | b'-' | b' ' | b'/')
}

/// The 11 digits of a national-number shape `\d{2}[sep]?\d{2}[sep]?\d{2}[sep]?\d{3}[sep]?\d{2}`
/// starting at `start`, and the index after it.
fn rrn_shape(b: &[u8], start: usize) -> Option<([u8; 11], usize)> {
    const GROUPS: [usize; 5] = [2, 2, 2, 3, 2];
    let mut digits = [0u8; 11];
    let mut k = 0;
    let mut pos = start;
    for (gi, g) in GROUPS.iter().enumerate() {
        if gi > 0 && pos < b.len() && is_rrn_separator(b[pos]) {
            pos += 1;
        }
        for _ in 0..*g {
            match b.get(pos) {
                Some(&c) if is_digit(c) => {
                    digits[k] = c - b'0';
                    k += 1;
                    pos += 1;
                }
                _ => return None,
            }
        }
    }
    Some((digits, pos))
}

fn number_of(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |n, d| n * 10 + u64::from(*d))
}

/// Whether 11 digits pass the national-number check (either century), with a possible month
/// (00-12, BIS 21-32 and 41-52) and day (00-31). Returns the kind.
pub fn national_number_kind(digits: &[u8; 11]) -> Option<Identifier> {
    let month = digits[2] * 10 + digits[3];
    let day = digits[4] * 10 + digits[5];
    let month_ok = month <= 12 || (21..=32).contains(&month) || (41..=52).contains(&month);
    if !month_ok || day > 31 {
        return None;
    }
    let base = number_of(&digits[..9]);
    let check = number_of(&digits[9..]);
    let before_2000 = 97 - base % 97 == check;
    let from_2000 = 97 - (2_000_000_000 + base) % 97 == check;
    if !(before_2000 || from_2000) {
        return None;
    }
    Some(if month >= 21 {
        Identifier::Bis
    } else {
        Identifier::Rrn
    })
}

/// National register and BIS numbers: a whole token (not inside a longer digit run), with or
/// without separators, that passes the check; or a value that is nothing but such a number,
/// which is refused on its shape alone (§3.5 step 4: pseudonyms and ids must not look like one).
fn national_numbers(b: &[u8], hits: &mut Hits) {
    let trimmed_start = b.iter().position(|c| !c.is_ascii_whitespace());
    let trimmed_end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map(|i| i + 1);
    for i in 0..b.len() {
        if !is_digit(b[i]) || (i > 0 && is_digit(b[i - 1])) {
            continue;
        }
        let Some((digits, end)) = rrn_shape(b, i) else {
            continue;
        };
        if end < b.len() && is_digit(b[end]) {
            continue;
        }
        if let Some(kind) = national_number_kind(&digits) {
            hits.set(kind);
        } else if Some(i) == trimmed_start && Some(end) == trimmed_end {
            hits.set(Identifier::Rrn);
        }
    }
}

/// ISO 7064 mod 97-10 check of a Belgian IBAN given its 14 digits (2 check digits + 12 BBAN).
pub fn iban_checks(digits: &[u8; 14]) -> bool {
    // Rearranged: BBAN, then "BE" as 11 14, then the check digits; the remainder must be 1.
    let mut r: u32 = 0;
    let bban = digits[2..].iter().copied();
    let country = [1u8, 1, 1, 4].into_iter();
    let check = digits[..2].iter().copied();
    for d in bban.chain(country).chain(check) {
        r = (r * 10 + u32::from(d)) % 97;
    }
    r == 1
}

/// A Belgian IBAN: `BE` (either case) and 14 digits, spaces allowed between digits, with a valid
/// checksum, not followed by another digit.
fn iban(b: &[u8]) -> bool {
    for i in 0..b.len().saturating_sub(1) {
        if !(b[i].eq_ignore_ascii_case(&b'B') && b[i + 1].eq_ignore_ascii_case(&b'E')) {
            continue;
        }
        let mut digits = [0u8; 14];
        let mut k = 0;
        let mut pos = i + 2;
        while k < 14 && pos < b.len() {
            let c = b[pos];
            if is_digit(c) {
                digits[k] = c - b'0';
                k += 1;
                pos += 1;
            } else if c == b' ' && k > 0 && b.get(pos + 1).is_some_and(|n| is_digit(*n)) {
                pos += 1;
            } else {
                break;
            }
        }
        if k == 14 && !b.get(pos).is_some_and(|c| is_digit(*c)) && iban_checks(&digits) {
            return true;
        }
    }
    false
}

fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_email_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

/// An e-mail address: a local part, `@`, a domain of at least two labels whose last is 2+ letters.
fn email(b: &[u8]) -> bool {
    for (at, _) in b.iter().enumerate().filter(|(_, c)| **c == b'@') {
        let local = b[..at]
            .iter()
            .rev()
            .take_while(|c| is_email_local(**c))
            .count();
        if local == 0 {
            continue;
        }
        let domain_len = b[at + 1..]
            .iter()
            .take_while(|c| is_email_domain(**c))
            .count();
        let mut domain = &b[at + 1..at + 1 + domain_len];
        while let Some((b'.', rest)) = domain.split_last() {
            domain = rest;
        }
        let labels: Vec<&[u8]> = domain.split(|c| *c == b'.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
            continue;
        }
        let tld = labels[labels.len() - 1];
        if tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
            return true;
        }
    }
    false
}

fn is_phone_separator(c: u8) -> bool {
    matches!(c, b' ' | b'.' | b'-' | b'/' | b'(' | b')')
}

/// A Belgian phone number: `+32`, `0032` or the trunk `0`, then a national number of 9 digits
/// starting with 4 (mobile) or 8 digits starting with 1-9 but not 4 (landline, service numbers);
/// separators (space . - / parentheses, at most two in a row) between digits; `+32 (0)` allowed.
/// Not preceded or followed by a digit. The trunk `0` must be followed directly by a digit, so a
/// decimal such as `0.12345678` is not a phone number.
fn phone(b: &[u8]) -> bool {
    let n = b.len();
    for i in 0..n {
        if i > 0 && is_digit(b[i - 1]) {
            continue;
        }
        let rest = &b[i..];
        let international = if rest.starts_with(b"+32") {
            Some(i + 3)
        } else if rest.starts_with(b"0032") {
            Some(i + 4)
        } else {
            None
        };
        let start = if let Some(mut p) = international {
            if p < n && is_phone_separator(b[p]) && b[p] != b'(' {
                p += 1;
            }
            if b[p.min(n)..].starts_with(b"(0)") {
                p += 3;
                if p < n && is_phone_separator(b[p]) {
                    p += 1;
                }
            }
            p
        } else if b[i] == b'0' && b.get(i + 1).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            i + 1
        } else {
            continue;
        };
        if !b.get(start).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            continue;
        }
        let first = b[start];
        let mut count = 0;
        let mut p = start;
        while p < n && count <= 10 {
            if is_digit(b[p]) {
                count += 1;
                p += 1;
                continue;
            }
            let seps = b[p..]
                .iter()
                .take(3)
                .take_while(|c| is_phone_separator(**c))
                .count();
            if (1..=2).contains(&seps) && b.get(p + seps).is_some_and(|c| is_digit(*c)) {
                p += seps;
            } else {
                break;
            }
        }
        let mobile = first == b'4' && count == 9;
        let landline = first != b'4' && count == 8;
        if (mobile || landline) && !b.get(p).is_some_and(|c| is_digit(*c)) {
            return true;
        }
    }
    false
}

/// Whether a value has the pseudonym format: 16-64 characters of `[0-9A-Za-z_-]`, not all digits.
pub fn is_pseudonym(value: &str) -> bool {
    let b = value.as_bytes();
    (16..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && !b.iter().all(u8::is_ascii_digit)
}

/// The pseudonym format as a DuckDB predicate that is true for a bad value of column `col`.
pub fn bad_pseudonym_sql(col: &str) -> String {
    format!(
        "({col} IS NOT NULL AND (NOT regexp_full_match({col}, '[0-9A-Za-z_-]{{16,64}}') OR regexp_full_match({col}, '[0-9]+')))"
    )
}

/// Column-name verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameVerdict {
    /// A deny-listed name (§3.5): the column would hold a direct identifier.
    DenyListed,
    /// A name that says birth date: only year-month may be held (as `birth_ym`).
    BirthDate,
}

/// Deny-listed terms (§3.5), accent-free and lower case. `*` terms are prefixes.
const DENY_TERMS: &[&str] = &[
    "rrn",
    "rijksregister*",
    "insz",
    "niss",
    "nn",
    "bis",
    "national*",
    "registre*",
    "naam",
    "name",
    "nom",
    "voornaam",
    "prenom",
    "adres",
    "address",
    "straat",
    "rue",
    "email",
    "telefoon",
    "gsm",
    "phone",
    "iban",
];

/// Words that say a column holds a birth date.
const BIRTH_TERMS: &[&str] = &[
    "birth*",
    "*birth",
    "dob",
    "geboorte*",
    "geboren",
    "naissance",
    "born",
];

/// Folds the accents of Latin letters used in Dutch, French and German, and lower-cases.
fn fold(c: char) -> char {
    match c.to_lowercase().next().unwrap_or(c) {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// The words of a column name, folded.
pub fn name_words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some(&prev) = i.checked_sub(1).and_then(|j| chars.get(j)) {
            let next = chars.get(i + 1).copied();
            let camel = c.is_uppercase()
                && (prev.is_lowercase()
                    || (prev.is_uppercase() && next.is_some_and(char::is_lowercase)));
            let digit_change = prev.is_alphanumeric() && (prev.is_numeric() != c.is_numeric());
            if (camel || digit_change) && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.push(fold(c));
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn term_matches(term: &str, word: &str) -> bool {
    if let Some(prefix) = term.strip_suffix('*') {
        word.starts_with(prefix)
    } else if let Some(suffix) = term.strip_prefix('*') {
        word.ends_with(suffix)
    } else {
        word == term || (term.len() >= 4 && (word.starts_with(term) || word.ends_with(term)))
    }
}

fn any_word_matches(terms: &[&str], words: &[String]) -> bool {
    let joined = words.windows(2).map(|w| format!("{}{}", w[0], w[1]));
    words
        .iter()
        .cloned()
        .chain(joined)
        .any(|w| terms.iter().any(|t| term_matches(t, &w)))
}

/// Whether a column name is deny-listed or names a birth date.
pub fn column_name_verdict(name: &str) -> Option<NameVerdict> {
    let words = name_words(name);
    if any_word_matches(DENY_TERMS, &words) {
        Some(NameVerdict::DenyListed)
    } else if any_word_matches(BIRTH_TERMS, &words) {
        Some(NameVerdict::BirthDate)
    } else {
        None
    }
}

/// Whether a column name says birth (used for date columns of the schema, which may then only
/// hold the first day of a month).
pub fn names_birth(name: &str) -> bool {
    any_word_matches(BIRTH_TERMS, &name_words(name))
        || name_words(name).iter().any(|w| w.contains("birth"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use studies::schema::TableKind;

    /// A valid national number (11 digits) for a birth date and serial, in the right century.
    pub(crate) fn make_national_number(year: u32, month: u32, day: u32, serial: u32) -> String {
        let base = u64::from(year % 100) * 10_000_000
            + u64::from(month) * 100_000
            + u64::from(day) * 1_000
            + u64::from(serial);
        let n = if year >= 2000 {
            2_000_000_000 + base
        } else {
            base
        };
        format!("{base:09}{:02}", 97 - n % 97)
    }

    /// Formats 11 digits as `YY.MM.DD-SSS.CC`.
    pub(crate) fn dotted(n: &str) -> String {
        format!(
            "{}.{}.{}-{}.{}",
            &n[0..2],
            &n[2..4],
            &n[4..6],
            &n[6..9],
            &n[9..11]
        )
    }

    /// A valid Belgian IBAN (compact) for a 12-digit BBAN.
    pub(crate) fn make_iban(bban: u64) -> String {
        let bban = format!("{:012}", bban % 1_000_000_000_000);
        for check in 0..100u32 {
            let s = format!("{check:02}{bban}");
            let mut d = [0u8; 14];
            for (i, c) in s.bytes().enumerate() {
                d[i] = c - b'0';
            }
            if iban_checks(&d) {
                return format!("BE{s}");
            }
        }
        unreachable!("some check digits always validate")
    }

    #[test]
    fn national_numbers_of_both_centuries_with_and_without_separators() {
        let cases = [
            (1985, 7, 30, 33),
            (2017, 7, 30, 33),
            (1964, 10, 16, 123),
            (2001, 2, 28, 998),
            (1999, 12, 31, 1),
        ];
        for (y, m, d, s) in cases {
            let n = make_national_number(y, m, d, s);
            assert_eq!(n.len(), 11);
            for form in [
                n.clone(),
                dotted(&n),
                format!("dossier {} gezien", dotted(&n)),
            ] {
                let h = scan_text(&form);
                assert!(h.contains(Identifier::Rrn), "{y}-{m}-{d}");
                assert!(!h.contains(Identifier::Bis));
            }
            let spaced = format!(
                "{} {} {} {} {}",
                &n[0..2],
                &n[2..4],
                &n[4..6],
                &n[6..9],
                &n[9..]
            );
            assert!(scan_text(&spaced).contains(Identifier::Rrn));
            assert!(scan_number(&n).contains(Identifier::Rrn));
            // Embedded in a longer digit run: not a token.
            assert!(!scan_text(&format!("1{n}x")).contains(Identifier::Rrn));
        }
    }

    #[test]
    fn bis_numbers_add_20_or_40_to_the_month() {
        for (y, m) in [(1998, 47), (2001, 49), (1990, 23), (2010, 32)] {
            let n = make_national_number(y, m, 7, 1);
            let h = scan_text(&format!("x {n} y"));
            assert!(h.contains(Identifier::Bis), "{n}");
            assert!(!h.contains(Identifier::Rrn), "{n}");
        }
    }

    #[test]
    fn checksum_failures_pass_unless_the_value_is_only_a_number() {
        let n = make_national_number(1985, 7, 30, 33);
        let mut bad = n.clone().into_bytes();
        bad[10] = if bad[10] == b'9' { b'0' } else { bad[10] + 1 };
        let bad = String::from_utf8(bad).unwrap();
        assert!(scan_text(&format!("ref {bad} ok")).is_empty());
        // A value that is nothing but an 11-digit number is refused on its shape (§3.5 step 4).
        assert!(scan_text(&bad).contains(Identifier::Rrn));
        assert!(scan_number(&bad).contains(Identifier::Rrn));
    }

    #[test]
    fn harmless_tokens_do_not_trip_the_scanner() {
        let hex64 = "0123456789abcdef".repeat(4);
        for v in [
            "EP-1234567-2",
            "2020-01-31",
            "2020-01-31 10:15:00",
            "12",
            "1234567",
            "0.12345678",
            "VK_ANT",
            "SAFETY_ACHIEVED",
            "score 12.5 on 2021-03-04",
            "rep-000123456",
            hex64.as_str(),
            "a@b",
            "BE12",
        ] {
            assert!(scan_text(v).is_empty(), "{v}");
        }
    }

    #[test]
    fn ibans_with_valid_checksums_are_found() {
        for bban in [539_007_547_034u64, 1, 123_456_789_012] {
            let iban = make_iban(bban);
            assert!(scan_text(&iban).contains(Identifier::Iban), "{iban}");
            let spaced = format!(
                "{} {} {} {}",
                &iban[0..4],
                &iban[4..8],
                &iban[8..12],
                &iban[12..16]
            );
            assert!(scan_text(&format!("rekening {spaced}.")).contains(Identifier::Iban));
            assert!(scan_text(&iban.to_lowercase()).contains(Identifier::Iban));
            let mut wrong = iban.clone().into_bytes();
            wrong[15] = if wrong[15] == b'9' {
                b'0'
            } else {
                wrong[15] + 1
            };
            let wrong = String::from_utf8(wrong).unwrap();
            assert!(!scan_text(&wrong).contains(Identifier::Iban), "{wrong}");
        }
    }

    #[test]
    fn emails_and_phones() {
        for v in ["jan.peeters@example.be", "mail: a_b+c@sub.example.org."] {
            assert!(scan_text(v).contains(Identifier::Email), "{v}");
        }
        for v in ["not@home", "@example.be", "x@y.1"] {
            assert!(!scan_text(v).contains(Identifier::Email), "{v}");
        }
        for v in [
            "0471 12 34 56",
            "0471/12.34.56",
            "+32 471 12 34 56",
            "+32(0)471123456",
            "0032 471 123 456",
            "tel 02 123 45 67",
            "(02) 123 45 67",
            "050-12.34.56",
            "+32 9 123 45 67",
        ] {
            assert!(scan_text(v).contains(Identifier::Phone), "{v}");
        }
        for v in ["0471 12 34 5", "04711234567", "1234567890", "0.12345678"] {
            assert!(!scan_text(v).contains(Identifier::Phone), "{v}");
        }
    }

    #[test]
    fn pseudonym_format() {
        assert!(is_pseudonym(&"ab12".repeat(16)));
        assert!(is_pseudonym("child_0000000001-x"));
        assert!(!is_pseudonym("short"));
        assert!(!is_pseudonym(&"1".repeat(20)));
        assert!(!is_pseudonym(&"a".repeat(65)));
        assert!(!is_pseudonym("has space in it ok"));
    }

    #[test]
    fn column_names() {
        for bad in [
            "name",
            "child_name",
            "childName",
            "Naam",
            "familienaam",
            "voornaam",
            "prénom",
            "PRENOM",
            "e-mail",
            "e_mail",
            "EmailAdres",
            "telefoonnummer",
            "gsm",
            "GSM_nr",
            "rrn",
            "RRN_number",
            "rijksregisternummer",
            "national_number",
            "registre_national",
            "nn",
            "bis_nr",
            "adres",
            "street_address",
            "rue",
            "straatnaam",
            "phone",
            "iban",
            "insz",
            "niss",
            "surname_count",
            "nom",
        ] {
            assert_eq!(
                column_name_verdict(bad),
                Some(NameVerdict::DenyListed),
                "{bad}"
            );
        }
        for birth in [
            "birth_date",
            "date_of_birth",
            "dateOfBirth",
            "dob",
            "geboortedatum",
        ] {
            assert_eq!(
                column_name_verdict(birth),
                Some(NameVerdict::BirthDate),
                "{birth}"
            );
        }
        for ok in [
            "centre_id",
            "source_code",
            "report_kind",
            "nominal",
            "bison",
            "episode_id",
            "label_nl",
            "n_children",
        ] {
            assert_eq!(column_name_verdict(ok), None, "{ok}");
        }
        // Every importable column of the schema passes the deny-list (code lists, shipped with
        // the workbench and never imported, have `score_name`).
        for t in studies::schema::TABLES
            .iter()
            .filter(|t| matches!(t.kind, TableKind::Case | TableKind::Release))
        {
            for c in t.columns {
                assert_ne!(
                    column_name_verdict(c.name),
                    Some(NameVerdict::DenyListed),
                    "{}.{}",
                    t.name,
                    c.name
                );
            }
        }
        assert!(names_birth("date_of_18th_birthday"));
        assert!(names_birth("birth_ym"));
        assert!(!names_birth("entry_date"));
    }
}
