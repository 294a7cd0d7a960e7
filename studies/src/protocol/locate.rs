//! Finds the line and column of a key path (`cohort.rule[2].centre`) in a protocol's TOML text.

use toml_edit::{Document, Item};

/// 1-based line and column of the byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |p| before.len() - p - 1)
        + 1;
    (line, col)
}

/// The position of the value at `path` (segments `key` or `key[i]`), or of the deepest part of
/// the path that exists.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let doc = Document::parse(text).ok()?;
    let mut item: &Item = doc.as_item();
    let mut best = None;
    for seg in path.split('.') {
        let (key, index) = match seg.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let table = item.as_table_like()?;
        let (k, v) = table.get_key_value(key)?;
        if let Some(span) = k.span().or_else(|| v.span()) {
            best = Some(span.start);
        }
        item = v;
        if let Some(i) = index {
            if let Some(arr) = item.as_array_of_tables() {
                let t = arr.get(i)?;
                if let Some(span) = t.span() {
                    best = Some(span.start);
                }
                // Re-enter as an item-less table: continue from the table.
                return descend_table(text, t, path, seg, best);
            }
            if let Some(arr) = item.as_array() {
                let v = arr.get(i)?;
                if let Some(span) = v.span() {
                    best = Some(span.start);
                }
                return best.map(|b| line_col(text, b));
            }
        }
    }
    best.map(|b| line_col(text, b))
}

/// Continues [`locate`] inside one table of an array of tables.
fn descend_table(
    text: &str,
    table: &toml_edit::Table,
    path: &str,
    seg: &str,
    mut best: Option<usize>,
) -> Option<(usize, usize)> {
    let rest = path.split_once(&format!("{seg}.")).map(|(_, r)| r);
    if let Some(rest) = rest {
        let key = rest.split(['.', '[']).next().unwrap_or(rest);
        if let Some((k, v)) = table.get_key_value(key) {
            if let Some(span) = k.span().or_else(|| v.span()) {
                best = Some(span.start);
            }
            if let (Some(i), Some(arr)) = (
                rest.split_once('[')
                    .and_then(|(_, r)| r.trim_end_matches(']').parse::<usize>().ok()),
                v.as_array(),
            ) && let Some(span) = arr.get(i).and_then(|x| x.span())
            {
                best = Some(span.start);
            }
        }
    }
    best.map(|b| line_col(text, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_arrays_of_tables() {
        let text = "title = \"x\"\n[cohort]\nentry_from = \"2015-01-01\"\n\n[[cohort.rule]]\nname = \"a\"\n\n[[cohort.rule]]\nname = \"b\"\ncentre = [\"VK_ANT\", \"VK_XXX\"]\n";
        assert_eq!(locate(text, "title"), Some((1, 1)));
        assert_eq!(locate(text, "cohort.entry_from"), Some((3, 1)));
        assert_eq!(locate(text, "cohort.rule[1].centre"), Some((10, 1)));
        assert_eq!(locate(text, "cohort.rule[1].centre[1]"), Some((10, 21)));
        assert_eq!(locate(text, "cohort.rule[0].name"), Some((6, 1)));
    }
}
