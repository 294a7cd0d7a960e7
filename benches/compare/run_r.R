# Side-by-side timing, R survival: fit only, data already in memory. Usage: Rscript run_r.R DIR
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "."
cox <- read.csv(file.path(dir, "cox.csv"))
km <- read.csv(file.path(dir, "km.csv"))
f <- as.formula(paste("Surv(time, event) ~", paste(paste0("x", 0:9), collapse = " + ")))
t_cox <- system.time(fit <- coxph(f, data = cox, ties = "efron"))[["elapsed"]]
t_km <- system.time(s <- survfit(Surv(time, event) ~ 1, data = km))[["elapsed"]]
t_lr <- system.time(d <- survdiff(Surv(time, event) ~ group, data = km))[["elapsed"]]
cat(sprintf("R\tcox_efron_1M_p10\t%.3f\n", t_cox))
cat(sprintf("R\tkm_10M\t%.3f\n", t_km))
cat(sprintf("R\tlogrank_10M\t%.3f\n", t_lr))
cat(sprintf("R\tcoef\t%s\n", paste(sprintf("%.12g", coef(fit)), collapse = ",")))
cat(sprintf("R\tlogrank_chisq\t%.12g\n", d$chisq))
