//! Cox regression (Efron ties) on n = 1,000,000 rows, p = 10 covariates: integer-day times 1–3650
//! with heavy ties and ~66% events, the data of the side-by-side comparison with R survival and
//! lifelines (`benches/compare/make_data.py`: five normal and five binary covariates, Weibull
//! proportional hazards, uniform censoring), generated here from a seed.
//!
//! `cargo bench -p models --bench cox`
//!
//! Checked once against R: the generated data written to CSV and fitted with
//! `coxph(..., ties = "efron")` (11.7 s in R on this machine) give the same coefficients and
//! standard errors to 4e-11 relative, the same log-likelihoods and 3 iterations.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use models::cox::{self, CoxData, CoxOptions};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Times, events and covariates of the comparison data set.
fn simulate(n: usize, seed: u64) -> (Vec<f64>, Vec<bool>, Array2<f64>) {
    let p = 10;
    let beta = [0.5, -0.3, 0.2, 0.0, 0.1, 0.4, -0.2, 0.3, 0.0, -0.1];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Array2::<f64>::zeros((n, p));
    let mut time = Vec::with_capacity(n);
    let mut event = Vec::with_capacity(n);
    for i in 0..n {
        let mut lp = 0.0;
        for j in 0..p {
            let z: f64 = rng.sample(StandardNormal);
            let v = if j < 5 {
                z
            } else {
                f64::from(u8::from(z > 0.3))
            };
            x[[i, j]] = v;
            lp += v * beta[j];
        }
        let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
        let t = -u.ln() / (lp.exp() / 900.0);
        let c: f64 = rng.random_range(0.0..2600.0);
        let obs = t.min(c).min(3650.0);
        time.push(obs.ceil().clamp(1.0, 3650.0));
        event.push(t <= c && t <= 3650.0);
    }
    (time, event, x)
}

fn bench_cox(c: &mut Criterion) {
    let n = 1_000_000;
    let (time, event, x) = simulate(n, 20_261_129);
    let names: Vec<String> = (0..10).map(|j| format!("x{j}")).collect();
    let data = CoxData::new(&time, &event, x.view(), &names);
    let opts = CoxOptions::default();
    let events = event.iter().filter(|&&e| e).count();

    let t0 = Instant::now();
    match cox::fit(&data, &opts) {
        Ok(fit) => {
            println!(
                "cox efron n={n} p=10 events={events} ({:.1}%): one fit {:.3} s, {} iterations",
                100.0 * events as f64 / n as f64,
                t0.elapsed().as_secs_f64(),
                fit.iterations
            );
            let coef: Vec<String> = fit
                .coefficients
                .iter()
                .map(|k| format!("{:.12}", k.coef))
                .collect();
            println!("coefficients: {}", coef.join(", "));
        }
        Err(e) => println!("fit failed: {e}"),
    }

    let mut g = c.benchmark_group("cox");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("efron_n1e6_p10", |b| {
        b.iter(|| cox::fit(black_box(&data), &opts))
    });
    let no_conc = CoxOptions {
        concordance: false,
        ..CoxOptions::default()
    };
    g.bench_function("efron_n1e6_p10_without_concordance", |b| {
        b.iter(|| cox::fit(black_box(&data), &no_conc))
    });
    g.finish();
}

criterion_group!(benches, bench_cox);
criterion_main!(benches);
