"""Generate the shared data sets of the side-by-side comparison (seeded, written once as CSV).

cox.csv      n = 1,000,000, p = 10: integer-day times 1-3650 with heavy ties, ~66% events.
km.csv       n = 10,000,000: time, event, group (two groups), integer-day times, ~66% events.
"""
import sys
import numpy as np

def weibull_ph_times(rng, lp, lam, nu):
    u = rng.random(lp.shape[0])
    return (-np.log(u) / (lam * np.exp(lp))) ** (1.0 / nu)

def main(out_dir, n_cox=1_000_000, n_km=10_000_000):
    rng = np.random.default_rng(20261129)
    p = 10
    x = rng.standard_normal((n_cox, p))
    x[:, 5:] = (x[:, 5:] > 0.3).astype(float)  # five binary covariates
    beta = np.array([0.5, -0.3, 0.2, 0.0, 0.1, 0.4, -0.2, 0.3, 0.0, -0.1])
    t = weibull_ph_times(rng, x @ beta, lam=1 / 900.0, nu=1.0)
    c = rng.uniform(0, 2600, n_cox)
    time = np.minimum(np.minimum(t, c), 3650)
    event = ((t <= c) & (t <= 3650)).astype(int)
    time = np.clip(np.ceil(time), 1, 3650).astype(int)
    cols = np.column_stack([time, event, x])
    header = "time,event," + ",".join(f"x{i}" for i in range(p))
    fmt = ["%d", "%d"] + ["%.17g"] * p
    np.savetxt(f"{out_dir}/cox.csv", cols, delimiter=",", header=header, comments="", fmt=fmt)
    print(f"cox.csv: n={n_cox}, events={event.mean():.3f}, distinct times={len(np.unique(time))}")

    g = rng.integers(0, 2, n_km)
    t = weibull_ph_times(rng, 0.25 * g, lam=1 / 900.0, nu=1.0)
    c = rng.uniform(0, 2600, n_km)
    time = np.minimum(np.minimum(t, c), 3650)
    event = ((t <= c) & (t <= 3650)).astype(int)
    time = np.clip(np.ceil(time), 1, 3650).astype(int)
    np.savetxt(f"{out_dir}/km.csv", np.column_stack([time, event, g]), delimiter=",",
               header="time,event,group", comments="", fmt="%d")
    print(f"km.csv: n={n_km}, events={event.mean():.3f}")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
