//! Faults of the `data-quality` scenario (domain.md §6.7 item 7), injected into a family's rows
//! after its event log is derived, for the importer and validation to catch: duplicated report
//! rows (same report_id), settled findings without a date, transfers to an episode that is not in
//! the release, and ends before starts.

use rand::Rng;

use super::config::DataQuality;
use super::ids;
use super::rows::Rows;

/// Counts of injected faults.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Faults {
    pub duplicate_report_rows: u64,
    pub missing_finding_dates: u64,
    pub dangling_transfers: u64,
    pub misordered_dates: u64,
}

impl Faults {
    pub fn add(&mut self, o: &Faults) {
        self.duplicate_report_rows += o.duplicate_report_rows;
        self.missing_finding_dates += o.missing_finding_dates;
        self.dangling_transfers += o.dangling_transfers;
        self.misordered_dates += o.misordered_dates;
    }
    pub fn total(&self) -> u64 {
        self.duplicate_report_rows
            + self.missing_finding_dates
            + self.dangling_transfers
            + self.misordered_dates
    }
}

/// Injects the configured faults into one family's rows (its own random stream).
pub fn inject(rows: &mut Rows, dq: &DataQuality, seed: u64, fam_index: u64) -> Faults {
    let mut rng = ids::stream(seed, "data-quality", fam_index);
    let mut f = Faults::default();
    let mut dups = Vec::new();
    for r in &rows.report {
        if rng.random::<f64>() < dq.duplicate_report_rows {
            dups.push(r.clone());
        }
    }
    f.duplicate_report_rows = dups.len() as u64;
    rows.report.extend(dups);
    for form in &mut rows.report_child_form {
        if form.finding != "PENDING"
            && form.finding_date.is_some()
            && rng.random::<f64>() < dq.missing_finding_dates
        {
            form.finding_date = None;
            f.missing_finding_dates += 1;
        }
    }
    for ep in &mut rows.episode {
        if ep.transferred_to_episode_id.is_none() && rng.random::<f64>() < dq.dangling_transfers {
            ep.closure_reason = Some("TRANSFER_OTHER_CENTRE");
            ep.closure_date = Some(ep.closure_date.unwrap_or(ep.entry_date + 30));
            ep.transferred_to_episode_id = Some(format!("{}-T", ep.episode_id));
            f.dangling_transfers += 1;
        }
        if let Some(c) = ep.closure_date
            && rng.random::<f64>() < dq.misordered_dates
        {
            ep.closure_date = Some(ep.entry_date - 1 - (c - ep.entry_date).abs() % 60);
            f.misordered_dates += 1;
        }
    }
    for iv in &mut rows.intervention {
        if let Some(e) = iv.end_date
            && rng.random::<f64>() < dq.misordered_dates
        {
            iv.end_date = Some(iv.start_date - 1 - (e - iv.start_date).abs() % 30);
            f.misordered_dates += 1;
        }
    }
    for p in &mut rows.placement {
        if let Some(e) = p.end_date
            && rng.random::<f64>() < dq.misordered_dates
        {
            p.end_date = Some(p.start_date - 1 - (e - p.start_date).abs() % 30);
            f.misordered_dates += 1;
        }
    }
    f
}
