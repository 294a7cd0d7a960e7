//! Survival and cumulative-incidence curves coarsened so that no step reveals fewer than k
//! children.
//!
//! The input is the step curve of one group (and one cause): one row per distinct time, with the
//! number at risk just before it, the events of interest at it, the children leaving without that
//! event at it (censored, or — for a cumulative incidence — a competing event), and the estimate
//! with its band. The published curve is a life table of consecutive intervals
//! (T_{j-1}, T_j], each step j publishing:
//! - `time` T_j: the last event time pooled into the step, with the estimate and band at T_j;
//! - `n_risk` N_j: the children at risk when the interval starts (N_1 = the group's size);
//! - `n_event` E_j: the events in the interval;
//! - `n_censor` C_j: the children leaving without the event in the interval, so that
//!   N_{j+1} = N_j − E_j − C_j exactly.
//!
//! Rules enforced (k from the [`Gate`]):
//! 1. Every step pools at least k events: consecutive event times are merged until E_j >= k; the
//!    intermediate times, estimates and counts are not published.
//! 2. Every published N_j is at least k: the curve ends before the first time at which fewer
//!    than k children are at risk (so a last step of one child is never shown).
//! 3. Every published C_j is 0 or at least k: a step is extended over further times until it is.
//!    With rules 1–2 every difference of published at-risk counts is a sum of published counts
//!    each 0 or >= k, so no interval reveals fewer than k children leaving.
//! 4. The children still at risk after the last step (N_m − E_m − C_m) are never recomputable when
//!    they are in (0, k): then the last step's C_m is published as hidden (`x`), and N_m − E_m
//!    (censored plus still at risk) must be at least k, else the last two steps merge (and so on;
//!    if even one step cannot satisfy it, nothing is published).
//!
//! Counts are published exact when they pass (no rounding), as [`GatedCount::Shown`]; the only
//! other value is [`GatedCount::Hidden`] for rule 4. The curve reports how many event times were
//! pooled, where it ends and why, so an output can say "coarsened so that no step reveals fewer
//! than k children".
//!
//! Limits: the estimate and band at a published time are those of the full-resolution estimator;
//! across a pooled step they are a product over the merged times, so they do not reveal the
//! merged times' counts on their own, but they are not rounded. Merging is greedy from the start
//! of the curve. Curves with delayed entry (a risk set that grows) are refused.

use super::{Gate, GatedCount};

/// One time of the full-resolution curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurveRow {
    pub time: f64,
    /// Children at risk just before `time`.
    pub n_risk: u64,
    /// Events of interest at `time`.
    pub n_event: u64,
    /// Children leaving at `time` without the event of interest (censored or a competing event).
    pub n_censor: u64,
    /// Survival (Kaplan–Meier) or cumulative incidence (Aalen–Johansen) just after `time`.
    pub estimate: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// One published step: the interval (previous step's time, `time`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PublishedStep {
    pub time: f64,
    pub estimate: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Children at risk when the interval starts.
    pub n_risk: GatedCount,
    /// Events in the interval (at least k).
    pub n_event: GatedCount,
    /// Children leaving without the event in the interval (0 or at least k, or hidden).
    pub n_censor: GatedCount,
}

/// Why the published curve ends where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveEnd {
    /// Every event is in a published step.
    AllEventsPublished,
    /// Later events happen when fewer than k children are at risk.
    FewerThanKAtRisk,
    /// Fewer than k events remain after the last step (or they could not be pooled under rule 3).
    FewerThanKEventsLeft,
}

/// A curve after the gate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PublishedCurve {
    pub k: u64,
    pub steps: Vec<PublishedStep>,
    /// The last published time, if any step is published.
    pub ends_at: Option<f64>,
    pub end: CurveEnd,
    /// Distinct event times of the input that the published steps pool.
    pub event_times_pooled: usize,
}

impl PublishedCurve {
    /// Event times merged away (pooled event times minus published steps).
    pub fn event_times_merged(&self) -> usize {
        self.event_times_pooled.saturating_sub(self.steps.len())
    }

    /// One sentence for the output.
    pub fn note(&self) -> String {
        let k = self.k;
        let mut s = format!(
            "Coarsened so that no step reveals fewer than {k} children: {} event times in {} steps",
            self.event_times_pooled,
            self.steps.len()
        );
        match (self.end, self.ends_at) {
            (CurveEnd::AllEventsPublished, _) => s.push('.'),
            (CurveEnd::FewerThanKAtRisk, Some(t)) => s.push_str(&format!(
                "; the curve ends at {t} because later events happen with fewer than {k} children at risk."
            )),
            (CurveEnd::FewerThanKEventsLeft, Some(t)) => s.push_str(&format!(
                "; the curve ends at {t} because fewer than {k} events follow."
            )),
            (_, None) => s.push_str(&format!(
                "; nothing is shown because no step pools {k} events with {k} children at risk."
            )),
        }
        s
    }
}

/// An input curve that is not a step curve of one group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurveError {
    #[error("row {row}: times must be finite and strictly increasing")]
    NotInTimeOrder { row: usize },
    #[error("row {row}: more children leave than are at risk")]
    MoreLeavingThanAtRisk { row: usize },
    #[error("row {row}: the risk set grows (delayed entry is not supported by the gate)")]
    RiskSetGrows { row: usize },
    #[error("the group's size is smaller than the first risk set")]
    StartBelowFirstRisk,
}

impl Gate {
    /// Coarsens one step curve; `n_start` is the group's size at the time origin.
    pub fn curve(&self, n_start: u64, rows: &[CurveRow]) -> Result<PublishedCurve, CurveError> {
        check(n_start, rows)?;
        let k = self.k.max(1);
        // N at the start of a step beginning at row a.
        let risk_at = |a: usize| if a == 0 { n_start } else { rows[a].n_risk };
        // Children at risk after row b (and after everything before it).
        let risk_after = |b: usize| match rows.get(b + 1) {
            Some(r) => r.n_risk,
            None => rows[b].n_risk - rows[b].n_event - rows[b].n_censor,
        };
        let usable = if n_start < k {
            0
        } else {
            rows.iter().position(|r| r.n_risk < k).unwrap_or(rows.len())
        };
        // Rules 1–3, greedy.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut a = 0;
        while a < usable {
            let n = risk_at(a);
            let mut e = 0;
            let close = (a..usable).find(|&b| {
                e += rows[b].n_event;
                let c = n.saturating_sub(e).saturating_sub(risk_after(b));
                e >= k && (c == 0 || c >= k)
            });
            match close {
                Some(b) => {
                    groups.push((a, b));
                    a = b + 1;
                }
                None => break,
            }
        }
        // Rule 4.
        let mut last_hidden = false;
        while let Some(&(a, b)) = groups.last() {
            let tail = risk_after(b);
            if tail == 0 || tail >= k {
                break;
            }
            let n = risk_at(a);
            let e: u64 = rows[a..=b].iter().map(|r| r.n_event).sum();
            if n.saturating_sub(e) >= k {
                last_hidden = true;
                break;
            }
            groups.pop();
            if let Some(prev) = groups.last_mut() {
                prev.1 = b;
            }
        }
        let steps: Vec<PublishedStep> = groups
            .iter()
            .enumerate()
            .map(|(j, &(a, b))| {
                let n = risk_at(a);
                let e: u64 = rows[a..=b].iter().map(|r| r.n_event).sum();
                let c = n.saturating_sub(e).saturating_sub(risk_after(b));
                // The step sits at its last event time (rows after it in the group only censor).
                let at = (a..=b).rev().find(|&i| rows[i].n_event > 0).unwrap_or(b);
                let r = rows[at];
                PublishedStep {
                    time: r.time,
                    estimate: r.estimate,
                    lower: r.lower,
                    upper: r.upper,
                    n_risk: GatedCount::Shown(n),
                    n_event: GatedCount::Shown(e),
                    n_censor: if last_hidden && j + 1 == groups.len() {
                        GatedCount::Hidden
                    } else {
                        GatedCount::Shown(c)
                    },
                }
            })
            .collect();
        let covered = groups.last().map_or(0, |&(_, b)| b + 1);
        let event_times_pooled = rows[..covered].iter().filter(|r| r.n_event > 0).count();
        let events_left: u64 = rows[covered..].iter().map(|r| r.n_event).sum();
        let end = if events_left == 0 {
            CurveEnd::AllEventsPublished
        } else if usable < rows.len() {
            CurveEnd::FewerThanKAtRisk
        } else {
            CurveEnd::FewerThanKEventsLeft
        };
        Ok(PublishedCurve {
            k: self.k,
            ends_at: steps.last().map(|s| s.time),
            steps,
            end,
            event_times_pooled,
        })
    }
}

fn check(n_start: u64, rows: &[CurveRow]) -> Result<(), CurveError> {
    if rows.first().is_some_and(|r| r.n_risk > n_start) {
        return Err(CurveError::StartBelowFirstRisk);
    }
    for (i, r) in rows.iter().enumerate() {
        if !r.time.is_finite() || (i > 0 && r.time <= rows[i - 1].time) {
            return Err(CurveError::NotInTimeOrder { row: i });
        }
        let leaving = r.n_event.checked_add(r.n_censor);
        if leaving.is_none_or(|l| l > r.n_risk) {
            return Err(CurveError::MoreLeavingThanAtRisk { row: i });
        }
        if let Some(next) = rows.get(i + 1)
            && next.n_risk > r.n_risk - r.n_event - r.n_censor
        {
            return Err(CurveError::RiskSetGrows { row: i + 1 });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The Kaplan–Meier rows of children given as (exit time, had the event).
    fn km(children: &[(u32, bool)]) -> Vec<CurveRow> {
        let mut times: Vec<u32> = children.iter().map(|c| c.0).collect();
        times.sort_unstable();
        times.dedup();
        let mut s = 1.0;
        times
            .iter()
            .map(|&t| {
                let n_risk = children.iter().filter(|c| c.0 >= t).count() as u64;
                let n_event = children.iter().filter(|c| c.0 == t && c.1).count() as u64;
                let n_censor = children.iter().filter(|c| c.0 == t && !c.1).count() as u64;
                s *= 1.0 - n_event as f64 / n_risk as f64;
                CurveRow {
                    time: f64::from(t),
                    n_risk,
                    n_event,
                    n_censor,
                    estimate: s,
                    lower: Some(s * 0.9),
                    upper: None,
                }
            })
            .collect()
    }

    fn shown(c: GatedCount) -> u64 {
        c.value().expect("shown count")
    }

    /// Checks a published curve against the children it came from, independently of how it was
    /// built: every count and every difference of counts the curve publishes is 0 or >= k.
    fn assert_protected(children: &[(u32, bool)], p: &PublishedCurve) {
        let k = p.k;
        let ok = |x: u64| x == 0 || x >= k;
        let at_risk_after = |t: f64| children.iter().filter(|c| f64::from(c.0) > t).count() as u64;
        let mut previous = f64::NEG_INFINITY;
        for (j, s) in p.steps.iter().enumerate() {
            let n = shown(s.n_risk);
            let e = shown(s.n_event);
            let events = children
                .iter()
                .filter(|c| c.1 && f64::from(c.0) > previous && f64::from(c.0) <= s.time)
                .count() as u64;
            assert_eq!(e, events, "step {j}: events in the interval");
            assert!(e >= k, "step {j} pools {e} < {k} events");
            assert!(n >= k, "step {j} at risk {n} < {k}");
            assert!(
                children.iter().any(|c| c.1 && f64::from(c.0) == s.time),
                "step {j} is not at an event time"
            );
            if j == 0 {
                assert_eq!(n, children.len() as u64);
            } else {
                assert!(n <= at_risk_after(previous));
            }
            match (s.n_censor, p.steps.get(j + 1)) {
                (GatedCount::Shown(c), Some(next)) => {
                    assert!(ok(c), "step {j} censored {c}");
                    assert_eq!(n - e - c, shown(next.n_risk), "step {j}: chain");
                }
                (GatedCount::Shown(c), None) => {
                    assert!(ok(c), "last step censored {c}");
                    assert!(
                        ok(n - e - c),
                        "children left after the curve: {}",
                        n - e - c
                    );
                }
                (GatedCount::Hidden, None) => assert!(n - e >= k, "last step: {n} - {e} < k"),
                (other, _) => panic!("step {j}: unexpected censor count {other:?}"),
            }
            // Every difference of two published at-risk counts is 0 or >= k.
            for later in &p.steps[j + 1..] {
                assert!(ok(n - shown(later.n_risk)));
            }
            previous = s.time;
        }
        if let Some(last) = p.steps.last() {
            assert_eq!(p.ends_at, Some(last.time));
        }
    }

    #[test]
    fn a_last_step_of_one_child_is_not_shown() {
        // 12 children, k = 5: events at 1..=10 one each, the last one alone at risk at 11.
        let mut children: Vec<(u32, bool)> = (1..=10).map(|t| (t, true)).collect();
        children.push((11, false));
        children.push((12, true));
        let rows = km(&children);
        let p = Gate { k: 5 }.curve(12, &rows).unwrap();
        assert_protected(&children, &p);
        assert!(p.steps.iter().all(|s| s.time < 8.0), "{p:?}");
        assert_eq!(p.end, CurveEnd::FewerThanKAtRisk);
        // One step at 5 (events 1..=5, 7 still at risk after it); the events at 6, 7, 8 are three
        // and from 9 on fewer than 5 are at risk: the curve ends at 5.
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].time, 5.0);
        assert_eq!(p.steps[0].n_event, GatedCount::Shown(5));
        assert_eq!(p.steps[0].n_censor, GatedCount::Shown(0));
        assert!(p.note().contains("fewer than 5"), "{}", p.note());
    }

    #[test]
    fn censorings_between_published_steps_are_pooled() {
        // 5 events at 1, 2 censored at 2, 5 events at 3, 10 censored at 4, 5 events at 5, ...
        let mut children = Vec::new();
        children.extend((0..5).map(|_| (1, true)));
        children.extend((0..2).map(|_| (2, false)));
        children.extend((0..5).map(|_| (3, true)));
        children.extend((0..10).map(|_| (4, false)));
        children.extend((0..5).map(|_| (5, true)));
        children.extend((0..20).map(|_| (9, false)));
        let rows = km(&children);
        let p = Gate { k: 5 }.curve(children.len() as u64, &rows).unwrap();
        assert_protected(&children, &p);
        // Steps at 1, 3 and 5. Ending the second interval just after 3 would publish 42 and then
        // 35 at risk: 5 events and 2 censorings. The 2 are pooled with the 10 censored at 4.
        let times: Vec<f64> = p.steps.iter().map(|s| s.time).collect();
        assert_eq!(times, [1.0, 3.0, 5.0], "{p:?}");
        let at_risk: Vec<GatedCount> = p.steps.iter().map(|s| s.n_risk).collect();
        assert_eq!(at_risk, [47, 42, 25].map(GatedCount::Shown), "{p:?}");
        assert_eq!(p.steps[1].n_censor, GatedCount::Shown(12));
        assert_eq!(p.end, CurveEnd::AllEventsPublished);
    }

    #[test]
    fn small_groups_and_bad_input() {
        let children: Vec<(u32, bool)> = (1..=4).map(|t| (t, true)).collect();
        let p = Gate { k: 5 }.curve(4, &km(&children)).unwrap();
        assert!(p.steps.is_empty() && p.ends_at.is_none());
        assert!(p.note().contains("nothing is shown"));
        let mut rows = km(&[(1, true), (2, true)]);
        assert_eq!(
            Gate { k: 5 }.curve(1, &rows),
            Err(CurveError::StartBelowFirstRisk)
        );
        rows[1].time = 0.5;
        assert_eq!(
            Gate { k: 5 }.curve(2, &rows),
            Err(CurveError::NotInTimeOrder { row: 1 })
        );
        rows[1].time = 2.0;
        rows[1].n_risk = 2;
        assert_eq!(
            Gate { k: 5 }.curve(2, &rows),
            Err(CurveError::RiskSetGrows { row: 1 })
        );
    }

    #[test]
    fn published_curve_round_trips_through_json() {
        let children: Vec<(u32, bool)> = (1..=30).map(|t| (t, t % 3 != 0)).collect();
        let p = Gate { k: 5 }.curve(30, &km(&children)).unwrap();
        let back: PublishedCurve =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn random_curves_are_always_protected() {
        let mut rng = ChaCha8Rng::seed_from_u64(7_2026);
        for case in 0..400 {
            let n = rng.random_range(1..80);
            let horizon = rng.random_range(2..30);
            let p_event = rng.random_range(0.1..0.9);
            let children: Vec<(u32, bool)> = (0..n)
                .map(|_| (rng.random_range(1..=horizon), rng.random_bool(p_event)))
                .collect();
            let k = rng.random_range(2..=10);
            let rows = km(&children);
            let p = Gate { k }.curve(n as u64, &rows).unwrap();
            assert_protected(&children, &p);
            // The estimate is the full-resolution one at each published time.
            for s in &p.steps {
                let r = rows.iter().find(|r| r.time == s.time).unwrap();
                assert_eq!(s.estimate, r.estimate, "case {case}");
            }
            let events: usize = rows.iter().filter(|r| r.n_event > 0).count();
            assert!(p.event_times_pooled <= events);
        }
    }
}
