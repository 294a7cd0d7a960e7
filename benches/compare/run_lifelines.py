"""Side-by-side timing, lifelines: fit only, data already in memory. Usage: python run_lifelines.py DIR"""
import sys
import time
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

d = sys.argv[1] if len(sys.argv) > 1 else "."
cox = pd.read_csv(f"{d}/cox.csv")
km = pd.read_csv(f"{d}/km.csv")

t0 = time.perf_counter()
cph = CoxPHFitter().fit(cox, duration_col="time", event_col="event")
t_cox = time.perf_counter() - t0

t0 = time.perf_counter()
KaplanMeierFitter().fit(km["time"], km["event"])
t_km = time.perf_counter() - t0

g = km["group"] == 1
t0 = time.perf_counter()
lr = logrank_test(km["time"][~g], km["time"][g], km["event"][~g], km["event"][g])
t_lr = time.perf_counter() - t0

print(f"lifelines\tcox_efron_1M_p10\t{t_cox:.3f}")
print(f"lifelines\tkm_10M\t{t_km:.3f}")
print(f"lifelines\tlogrank_10M\t{t_lr:.3f}")
print("lifelines\tcoef\t" + ",".join(f"{v:.12g}" for v in cph.params_.values))
print(f"lifelines\tlogrank_chisq\t{lr.test_statistic:.12g}")
