//! The disclosure gate of `workbench fit` on a store: a fit whose report would show a count of
//! children below k (a group, an at-risk or event count between two reported times, rows left
//! out) is refused with what to change. Files given as CSV or Parquet are the user's own rows
//! and are not gated; a store holds case records, which leave it only as gated aggregates.
//!
//! The check walks the report's documented JSON document, so every count it publishes, in text
//! or JSON, is covered by one rule: every count is 0 or at least k.

use serde_json::Value;

/// Keys of the report that hold counts of children, rows or events.
const COUNT_KEYS: &[&str] = &[
    "read",
    "used",
    "left_out_missing",
    "rows",
    "n",
    "events",
    "n_risk",
    "n_event",
    "n_censor",
    "n_enter",
    "n_subjects",
    "n_rows",
    "events_of_interest",
    "expanded_rows",
    "n_treated",
    "n_control",
    "matched",
    "unmatched",
    "matched_controls",
    "clusters",
];

/// Where a count below k sits in the report (a JSON path; never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallCount {
    pub path: String,
}

/// Every count of `report` in (0, k), by path.
pub fn small_counts(report: &Value, k: u64) -> Vec<SmallCount> {
    let mut out = Vec::new();
    walk(report, String::new(), k, &mut out);
    out
}

fn walk(v: &Value, path: String, k: u64, out: &mut Vec<SmallCount>) {
    match v {
        Value::Object(map) => {
            for (key, child) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if COUNT_KEYS.contains(&key.as_str())
                    && let Some(x) = child.as_f64()
                    && x > 0.0
                    && x < k as f64
                {
                    out.push(SmallCount { path: p.clone() });
                }
                walk(child, p, k, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{path}[{i}]"), k, out);
            }
        }
        _ => {}
    }
}

/// The refusal message for a fit on a store that would show small counts.
pub fn refusal(small: &[SmallCount], k: u64) -> String {
    let shown: Vec<&str> = small.iter().take(5).map(|s| s.path.as_str()).collect();
    format!(
        "this fit reads a case store, and its output would show {} count{} of fewer than {k} \
         children ({}{}); the disclosure gate refuses it. Use coarser --times, fewer or larger \
         groups, or run it as a study (`workbench study run`), which coarsens curves and \
         suppresses small cells.",
        small.len(),
        if small.len() == 1 { "" } else { "s" },
        shown.join(", "),
        if small.len() > 5 { ", ..." } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_small_counts_by_path_and_ignores_estimates() {
        let v = serde_json::json!({
            "rows": {"read": 120, "used": 118, "left_out_missing": 2},
            "result": {"curves": [
                {"group": "a", "n": 60, "events": 12.0, "median": {"time": 3.0},
                 "at_times": [{"time": 1.0, "n_risk": 60.0, "n_event": 3.0, "survival": 0.95}]},
            ]}
        });
        let s = small_counts(&v, 5);
        let paths: Vec<&str> = s.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "result.curves[0].at_times[0].n_event",
                "rows.left_out_missing"
            ]
        );
        assert!(small_counts(&v, 2).is_empty());
        let msg = refusal(&s, 5);
        assert!(
            msg.contains("2 counts of fewer than 5") && !msg.contains(" 3 "),
            "{msg}"
        );
    }
}
