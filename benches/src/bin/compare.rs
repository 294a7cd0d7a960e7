//! The Rust side of the side-by-side comparison with R survival and lifelines
//! (`benches/compare/run.sh`): reads the shared `cox.csv` and `km.csv`, times the fits only (not
//! the loading), and prints the same tab-separated (`\t`) lines as `run_r.R` and
//! `run_lifelines.py`:
//!
//! ```text
//! rust \t cox_efron_1M_p10 \t <seconds>
//! rust \t cox_efron_1M_p10_no_concordance \t <seconds>
//! rust \t km_10M \t <seconds>
//! rust \t logrank_10M \t <seconds>
//! rust \t coef \t <c0>,<c1>,...
//! rust \t logrank_chisq \t <chi-square>
//! ```
//!
//! Usage: `compare DIR [--repeat N]` (with `--repeat`, each time is the fastest of N fits).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use models::cox::{self, CoxData, CoxOptions};
use models::km::{FollowUp, KaplanMeierOptions, kaplan_meier};
use models::logrank::{LogRankOptions, log_rank_test};
use ndarray::Array2;

/// Columns of a numeric CSV file with a header line.
struct Table {
    names: Vec<String>,
    /// Column-major values.
    columns: Vec<Vec<f64>>,
}

impl Table {
    fn column(&self, name: &str) -> Result<&[f64], String> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|j| self.columns[j].as_slice())
            .ok_or_else(|| format!("no column `{name}`"))
    }
}

/// A plain numeric CSV reader (no quoting): the files are written by `make_data.py`.
fn read_csv(path: &Path) -> Result<Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| format!("{}: empty file", path.display()))?;
    let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(',');
        for (j, column) in columns.iter_mut().enumerate() {
            let field = fields.next().ok_or_else(|| {
                format!(
                    "{}, line {}: missing column `{}`",
                    path.display(),
                    i + 2,
                    names[j]
                )
            })?;
            let value = field.trim().parse::<f64>().map_err(|_| {
                format!(
                    "{}, line {}, column `{}`: not a number",
                    path.display(),
                    i + 2,
                    names[j]
                )
            })?;
            column.push(value);
        }
    }
    Ok(Table { names, columns })
}

/// Runs `f` `repeat` times and returns the fastest time and the last result.
fn timed<T>(repeat: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        let r = f();
        best = best.min(t0.elapsed().as_secs_f64());
        out = Some(r);
    }
    match out {
        Some(r) => (best, r),
        None => (best, f()),
    }
}

fn run(dir: &Path, repeat: usize) -> Result<(), String> {
    let cox_table = read_csv(&dir.join("cox.csv"))?;
    let time = cox_table.column("time")?.to_vec();
    let event: Vec<bool> = cox_table
        .column("event")?
        .iter()
        .map(|&e| e != 0.0)
        .collect();
    let names: Vec<String> = (0..10).map(|j| format!("x{j}")).collect();
    let n = time.len();
    let mut x = Array2::<f64>::zeros((n, names.len()));
    for (j, name) in names.iter().enumerate() {
        for (i, &v) in cox_table.column(name)?.iter().enumerate() {
            x[[i, j]] = v;
        }
    }
    drop(cox_table);
    let data = CoxData::new(&time, &event, x.view(), &names);
    // R's coxph computes the concordance with every fit; so does the default here.
    let options = CoxOptions::default();
    let (t_cox, fit) = timed(repeat, || cox::fit(&data, &options));
    let fit = fit.map_err(|e| format!("cox: {e}"))?;
    // lifelines computes the concordance only when it is asked for, after the fit.
    let without = CoxOptions {
        concordance: false,
        ..CoxOptions::default()
    };
    let (t_cox_nc, fit_nc) = timed(repeat, || cox::fit(&data, &without));
    fit_nc.map_err(|e| format!("cox: {e}"))?;
    drop(x);

    let km_table = read_csv(&dir.join("km.csv"))?;
    let time = km_table.column("time")?.to_vec();
    let event: Vec<bool> = km_table
        .column("event")?
        .iter()
        .map(|&e| e != 0.0)
        .collect();
    let group: Vec<u32> = km_table
        .column("group")?
        .iter()
        .map(|&g| g as u32)
        .collect();
    drop(km_table);
    let follow_up = FollowUp::new(&time, &event);
    let (t_km, curve) = timed(repeat, || {
        kaplan_meier(&follow_up, &KaplanMeierOptions::default())
    });
    let curve = curve.map_err(|e| format!("km: {e}"))?;
    let (t_lr, test) = timed(repeat, || {
        log_rank_test(&follow_up, &group, None, &LogRankOptions::default())
    });
    let test = test.map_err(|e| format!("log-rank: {e}"))?;

    println!("rust\tcox_efron_1M_p10\t{t_cox:.3}");
    println!("rust\tcox_efron_1M_p10_no_concordance\t{t_cox_nc:.3}");
    println!("rust\tkm_10M\t{t_km:.3}");
    println!("rust\tlogrank_10M\t{t_lr:.3}");
    let coef: Vec<String> = fit
        .coefficients
        .iter()
        .map(|c| format!("{:.12e}", c.coef))
        .collect();
    println!("rust\tcoef\t{}", coef.join(","));
    println!("rust\tlogrank_chisq\t{:.12e}", test.chi_square);
    eprintln!(
        "rust: cox {} iterations, {} events; km {} distinct times",
        fit.iterations,
        fit.n_events,
        curve.time.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut dir = None;
    let mut repeat = 1;
    let mut k = 0;
    while k < args.len() {
        if args[k] == "--repeat" {
            match args.get(k + 1).and_then(|v| v.parse::<usize>().ok()) {
                Some(r) => repeat = r,
                None => {
                    eprintln!("--repeat needs a whole number");
                    return ExitCode::FAILURE;
                }
            }
            k += 2;
        } else {
            dir = Some(args[k].clone());
            k += 1;
        }
    }
    let dir = dir.unwrap_or_else(|| ".".to_string());
    match run(Path::new(&dir), repeat) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}
