# Reference values for the non-parametric survival estimators of the `models` crate
# (Kaplan-Meier, Nelson-Aalen, quantiles, log-rank / G-rho, Aalen-Johansen, RMST, MCF),
# computed with R's `survival` package on its public datasets.
#
# Run from the repository root:   Rscript models/tests/r/nonparametric.R
# Writes models/tests/fixtures/nonparametric/*.json. Every fixture carries the input columns
# it was computed from, so the Rust tests need no R. Non-finite numbers (NA, NaN, Inf) are
# written as null.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_dir <- file.path("models", "tests", "fixtures", "nonparametric")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

provenance <- list(
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "models/tests/r/nonparametric.R",
  session_info = paste(capture.output(sessionInfo()), collapse = "\n")
)

# Numbers are written with 17 significant digits (jsonlite stops at 15), non-finite ones
# (NA, NaN, Inf) as null; vectors always as arrays.
clean <- function(x) {
  if (is.list(x)) return(lapply(x, clean))
  if (is.numeric(x)) {
    x <- as.numeric(x)
    txt <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
    return(structure(paste0("[", paste(txt, collapse = ","), "]"), class = "json"))
  }
  x
}

write_fixture <- function(name, cases) {
  path <- file.path(out_dir, paste0(name, ".json"))
  writeLines(toJSON(clean(list(provenance = provenance, cases = cases)),
                    na = "null", null = "null", auto_unbox = FALSE, json_verbatim = TRUE),
             path)
  cat("wrote", path, "\n")
}

# ------------------------------------------------------------------------------------------
# Kaplan-Meier / Nelson-Aalen
# ------------------------------------------------------------------------------------------

probs <- c(0.1, 0.25, 0.5, 0.75, 0.9)

# One stratum of a survfit object, as columns.
km_curve <- function(f, times, tau) {
  se_surv <- if (isTRUE(f$logse)) f$std.err * f$surv else f$std.err
  q <- quantile(f, probs)
  s <- summary(f, times = times, extend = TRUE)
  tab <- summary(f, rmean = tau)$table
  list(
    time = f$time, n_risk = f$n.risk, n_event = f$n.event, n_censor = f$n.censor,
    n_enter = if (is.null(f$n.enter)) NULL else f$n.enter,
    surv = f$surv, std_err = se_surv, lower = f$lower, upper = f$upper,
    cumhaz = f$cumhaz, std_chaz = f$std.chaz,
    quantile = list(probs = probs, time = unname(q$quantile), lower = unname(q$lower),
                    upper = unname(q$upper)),
    printed = list(median = unname(tab["median"]), lcl = unname(tab[8]), ucl = unname(tab[9])),
    rmean = list(tau = tau, rmean = unname(tab["rmean"]), se = unname(tab["se(rmean)"])),
    at_times = list(time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                    n_censor = s$n.censor,
                    n_enter = if (is.null(s$n.enter)) NULL else s$n.enter,
                    surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper,
                    cumhaz = s$cumhaz, std_chaz = s$std.chaz)
  )
}

# A KM case: input columns, options, and one curve per group (a single curve if no group).
km_case <- function(name, time, event, entry = NULL, weight = NULL, subject = NULL,
                    group = NULL, conf_type = "log", conf_int = 0.95, times, tau,
                    robust = NULL) {
  y <- if (is.null(entry)) Surv(time, event) else Surv(entry, time, event)
  g <- if (is.null(group)) rep(1L, length(time)) else group
  args <- list(formula = if (is.null(group)) y ~ 1 else y ~ g,
               conf.type = conf_type, conf.int = conf_int)
  if (!is.null(weight)) args$weights <- weight
  if (!is.null(subject)) args$id <- subject
  if (!is.null(robust)) args$robust <- robust
  fit <- do.call(survfit, args)
  curves <- if (is.null(fit$strata)) {
    list(c(list(group = NA), km_curve(fit, times, tau)))
  } else {
    labels <- sort(unique(g))
    lapply(seq_along(fit$strata), function(i) c(list(group = labels[i]),
                                                 km_curve(fit[i], times, tau)))
  }
  rmst_diff <- NULL
  if (length(curves) == 2) {
    a <- curves[[1]]$rmean; b <- curves[[2]]$rmean
    d <- a$rmean - b$rmean; se <- sqrt(a$se^2 + b$se^2); z <- qnorm(1 - (1 - conf_int) / 2)
    rmst_diff <- list(difference = d, std_err = se, lower = d - z * se, upper = d + z * se,
                      p_value = 2 * pnorm(-abs(d / se)))
  }
  list(name = name,
       input = list(time = time, event = as.integer(event), entry = entry, weight = weight,
                    subject = subject, group = group),
       options = list(conf_type = conf_type, conf_level = conf_int,
                      std_err = if (is.null(robust)) "auto" else if (robust) "robust" else "greenwood",
                      times = times, tau = tau),
       robust_used = !isTRUE(fit$logse) || (!is.null(weight) && any(weight != floor(weight))),
       curves = curves, rmst_difference = rmst_diff)
}

set.seed(20261129)
lung_event <- lung$status == 2
lung_entry <- floor(lung$time * runif(nrow(lung), 0, 0.6))
lung_entry[lung_entry >= lung$time] <- 0

pbc1 <- pbc[!is.na(pbc$trt), ]
pbc_w <- round(pbc1$age / 50, 3)                         # fractional weights -> robust variance

ovarian_w <- 1 + (seq_len(nrow(ovarian)) %% 3)             # integer weights -> Greenwood

# Age as the time scale, survival from age 65 on: everyone alive at 65 (or entering later)
# is at risk from max(age at diagnosis, 65) -- left truncation.
mgus2_w <- round(runif(nrow(mgus2), 0.5, 2), 3)
mg_exit_all <- round(mgus2$age + mgus2$futime / 12, 4)
mg_keep <- mg_exit_all > 65
mg <- mgus2[mg_keep, ]
mg_exit <- mg_exit_all[mg_keep]
mg_entry <- pmax(mg$age, 65)
mg_w <- mgus2_w[mg_keep]

# Small hand-made curves for R's rules at the edges: a median on a flat stretch, a curve
# ending exactly at 1/2, heavy ties, a curve that reaches 0, all censored.
flat_time  <- c(1, 2, 3, 4, 5, 6)
flat_event <- c(1, 1, 1, 0, 1, 0)
end_half_time  <- c(1, 2, 3, 4)
end_half_event <- c(1, 1, 0, 0)
ties_time  <- c(2, 2, 2, 3, 3, 5, 5, 5, 5, 8, 8, 9)
ties_event <- c(1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1)

km_cases <- list(
  km_case("lung", lung$time, lung_event, times = c(0, 90, 180, 365, 730, 1000, 1100), tau = 730),
  km_case("lung-sex-loglog-90", lung$time, lung_event, group = lung$sex, conf_type = "log-log",
          conf_int = 0.9, times = c(-1, 0, 30, 180.5, 365, 2000), tau = 500),
  km_case("lung-sex-plain", lung$time, lung_event, group = lung$sex, conf_type = "plain",
          times = c(100, 200, 300, 400), tau = 1000),
  km_case("veteran-trt-log", veteran$time, veteran$status == 1, group = veteran$trt,
          times = c(0, 10, 100, 500, 999), tau = 400),
  km_case("veteran-plain", veteran$time, veteran$status == 1, conf_type = "plain",
          times = c(0, 10, 100, 500, 999), tau = 999),
  km_case("veteran-loglog", veteran$time, veteran$status == 1, conf_type = "log-log",
          times = c(0, 10, 100, 500, 999), tau = 200),
  km_case("ovarian-rx-integer-weights", ovarian$futime, ovarian$fustat == 1, weight = ovarian_w,
          group = ovarian$rx, times = c(0, 365, 730), tau = 1000),
  km_case("pbc-trt-fractional-weights", pbc1$time, pbc1$status == 2, weight = pbc_w,
          group = pbc1$trt, times = c(0, 1000, 2000, 3000, 4000), tau = 3650),
  km_case("pbc-fractional-weights-plain", pbc1$time, pbc1$status == 2, weight = pbc_w,
          conf_type = "plain", times = c(0, 1000, 2000, 3000, 4000), tau = 3650),
  km_case("pbc-robust-loglog", pbc1$time, pbc1$status == 2, robust = TRUE, conf_type = "log-log",
          times = c(0, 1000, 2000), tau = 2000),
  km_case("lung-delayed-entry", lung$time, lung_event, entry = lung_entry,
          times = c(0, 100, 365, 730), tau = 730),
  km_case("mgus2-age-scale-sex", mg_exit, mg$death == 1, entry = mg_entry, group = as.integer(mg$sex == "M"),
          times = c(60, 70, 80, 90, 100), tau = 95),
  km_case("mgus2-age-scale-weighted", mg_exit, mg$death == 1, entry = mg_entry, weight = mg_w,
          conf_type = "log-log", times = c(60, 70, 80, 90, 100), tau = 95),
  km_case("cgd-subject-robust", cgd$tstop, cgd$status == 1, entry = cgd$tstart, subject = cgd$id,
          times = c(0, 100, 200, 300, 400), tau = 400),
  km_case("flat-median", flat_time, flat_event == 1, times = c(0, 2, 4.5, 8), tau = 8),
  km_case("ends-at-half", end_half_time, end_half_event == 1, times = c(0, 4, 6), tau = 6),
  km_case("ties", ties_time, ties_event == 1, conf_type = "plain", times = c(2, 5, 9), tau = 9),
  km_case("ties-loglog", ties_time, ties_event == 1, conf_type = "log-log", times = c(2, 5, 9),
          tau = 7),
  km_case("all-censored", c(1, 2, 3), c(FALSE, FALSE, FALSE), times = c(0, 2, 5), tau = 2)
)
write_fixture("km", km_cases)

# ------------------------------------------------------------------------------------------
# Log-rank and G(rho, gamma)
# ------------------------------------------------------------------------------------------

# G(rho, gamma) by hand (survdiff has no gamma), single stratum, checked against survdiff
# below for gamma = 0.
fh_test <- function(time, status, group, rho, gamma) {
  groups <- sort(unique(group)); k <- length(groups)
  ut <- sort(unique(time[status == 1]))
  km <- 1; o <- e <- numeric(k); v <- matrix(0, k, k)
  for (t in ut) {
    atrisk <- time >= t
    n <- sum(atrisk); d <- sum(time == t & status == 1)
    r <- sapply(groups, function(g) sum(atrisk & group == g))
    dg <- sapply(groups, function(g) sum(time == t & status == 1 & group == g))
    w <- km^rho * (1 - km)^gamma
    o <- o + w * dg
    e <- e + w * d * r / n
    if (n > 1) v <- v + w^2 * d * (n - d) / (n * (n - 1)) * (diag(r) - outer(r, r) / n)
    km <- km * (n - d) / n
  }
  keep <- which(e > 0)[-1]
  chi <- sum(solve(v[keep, keep, drop = FALSE], (o - e)[keep]) * (o - e)[keep])
  df <- sum(e > 0) - 1
  list(observed = o, expected = e, variance = v, chisq = chi, df = df,
       p_value = pchisq(chi, df, lower.tail = FALSE))
}

lr_case <- function(name, time, status, group, strata = NULL, rho = 0, gamma = 0,
                    weight = NULL) {
  # Integer weights: R's answer is survdiff on the data with each row repeated `weight` times.
  idx <- if (is.null(weight)) seq_along(time) else rep(seq_along(time), weight)
  tt <- time[idx]; ss <- status[idx]; gg <- group[idx]
  if (gamma != 0) {
    stopifnot(is.null(strata))
    r <- fh_test(tt, ss, gg, rho, gamma)
    res <- list(observed = r$observed, expected = r$expected, variance = c(r$variance),
                chisq = r$chisq, df = r$df, p_value = r$p_value, reference = "hand-coded G(rho,gamma)")
    check <- fh_test(tt, ss, gg, rho, 0)
    sd0 <- survdiff(Surv(tt, ss) ~ gg, rho = rho)
    stopifnot(abs(check$chisq - sd0$chisq) < 1e-8 * sd0$chisq)
  } else {
    sd <- if (is.null(strata)) survdiff(Surv(tt, ss) ~ gg, rho = rho)
          else { st <- strata[idx]; survdiff(Surv(tt, ss) ~ gg + strata(st), rho = rho) }
    obs <- sd$obs; ex <- sd$exp
    res <- list(observed = if (is.matrix(obs)) rowSums(obs) else obs,
                expected = if (is.matrix(ex)) rowSums(ex) else ex,
                variance = c(sd$var), chisq = sd$chisq,
                df = sum((if (is.matrix(ex)) rowSums(ex) else ex) > 0) - 1,
                p_value = sd$pvalue, reference = "survdiff",
                observed_by_stratum = if (is.matrix(obs)) c(obs) else NULL,
                expected_by_stratum = if (is.matrix(ex)) c(ex) else NULL)
  }
  list(name = name,
       input = list(time = time, event = as.integer(status), group = group, strata = strata,
                    weight = weight),
       options = list(rho = rho, gamma = gamma), result = res)
}

vet_cell <- as.integer(veteran$celltype)
pbc_edema <- as.integer(factor(pbc1$edema))
lung_w <- 1 + (seq_len(nrow(lung)) %% 2) + (seq_len(nrow(lung)) %% 5 == 0)

lr_cases <- list(
  lr_case("lung-sex", lung$time, as.integer(lung_event), lung$sex),
  lr_case("lung-sex-rho1", lung$time, as.integer(lung_event), lung$sex, rho = 1),
  lr_case("lung-sex-rho0.5", lung$time, as.integer(lung_event), lung$sex, rho = 0.5),
  lr_case("lung-sex-gamma1", lung$time, as.integer(lung_event), lung$sex, rho = 0, gamma = 1),
  lr_case("lung-sex-rho1-gamma1", lung$time, as.integer(lung_event), lung$sex, rho = 1, gamma = 1),
  lr_case("veteran-celltype", veteran$time, veteran$status, vet_cell),
  lr_case("veteran-celltype-strata-trt", veteran$time, veteran$status, vet_cell,
          strata = veteran$trt),
  lr_case("veteran-celltype-strata-trt-rho1", veteran$time, veteran$status, vet_cell,
          strata = veteran$trt, rho = 1),
  lr_case("pbc-trt-strata-edema", pbc1$time, as.integer(pbc1$status == 2), pbc1$trt,
          strata = pbc_edema),
  lr_case("ovarian-rx", ovarian$futime, ovarian$fustat, ovarian$rx),
  lr_case("lung-sex-integer-weights", lung$time, as.integer(lung_event), lung$sex, weight = lung_w),
  lr_case("lung-ecog-integer-weights-rho1", lung$time[!is.na(lung$ph.ecog)],
          as.integer(lung_event)[!is.na(lung$ph.ecog)], lung$ph.ecog[!is.na(lung$ph.ecog)],
          rho = 1, weight = lung_w[!is.na(lung$ph.ecog)])
)
write_fixture("logrank", lr_cases)

# ------------------------------------------------------------------------------------------
# Aalen-Johansen
# ------------------------------------------------------------------------------------------

etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
ecause <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))   # 1 = progression (pcm), 2 = death
aj_entry <- ifelse(runif(nrow(mgus2)) < 0.3, floor(etime * runif(nrow(mgus2))), 0)

aj_state <- function(f, times) {
  s <- summary(f, times = times, extend = TRUE)
  list(time = f$time, n_risk = f$n.risk[, 1], n_event = c(f$n.event[, -1]),
       n_censor = f$n.censor, pstate = c(f$pstate), std_err = c(f$std.err),
       lower = c(f$lower), upper = c(f$upper),
       at_times = list(time = s$time, n_risk = s$n.risk[, 1], n_event = c(s$n.event[, -1]),
                       n_censor = s$n.censor, pstate = c(s$pstate), std_err = c(s$std.err),
                       lower = c(s$lower), upper = c(s$upper)))
}

aj_case <- function(name, time, cause, entry = NULL, weight = NULL, group = NULL,
                    conf_type = "log", conf_int = 0.95, times) {
  fc <- factor(cause, 0:max(cause))
  y <- if (is.null(entry)) Surv(time, fc) else Surv(entry, time, fc)
  g <- if (is.null(group)) rep(1L, length(time)) else group
  args <- list(formula = if (is.null(group)) y ~ 1 else y ~ g, conf.type = conf_type,
               conf.int = conf_int)
  if (!is.null(weight)) args$weights <- weight
  if (!is.null(entry)) args$id <- seq_along(time)
  fit <- do.call(survfit, args)
  curves <- if (is.null(fit$strata)) list(c(list(group = NA), aj_state(fit, times)))
  else {
    labels <- sort(unique(g))
    lapply(seq_along(fit$strata), function(i) c(list(group = labels[i]), aj_state(fit[i, ], times)))
  }
  list(name = name,
       input = list(time = time, cause = cause, entry = entry, weight = weight, group = group),
       options = list(conf_type = conf_type, conf_level = conf_int, times = times),
       states = fit$states, curves = curves)
}

aj_cases <- list(
  aj_case("mgus2", etime, ecause, times = c(0, 12, 60, 120, 240, 400)),
  aj_case("mgus2-sex", etime, ecause, group = as.integer(mgus2$sex), conf_type = "plain",
          times = c(12, 120, 240)),
  aj_case("mgus2-weighted", etime, ecause, weight = mgus2_w, conf_type = "log-log",
          conf_int = 0.9, times = c(0, 60, 120, 240)),
  aj_case("mgus2-delayed-entry", etime, ecause, entry = aj_entry, times = c(0, 60, 120, 240)),
  aj_case("pbc-transplant-death", pbc$time, pbc$status, group = ifelse(is.na(pbc$trt), 0L, pbc$trt),
          times = c(0, 1000, 2000, 4000))
)
write_fixture("aalen_johansen", aj_cases)

# ------------------------------------------------------------------------------------------
# Mean cumulative function of recurrent events (cgd)
# ------------------------------------------------------------------------------------------

mcf_curve <- function(f, z, times) {
  m <- f$cumhaz; se <- f$std.chaz
  lower <- ifelse(m > 0, m * exp(-z * se / m), 0); upper <- ifelse(m > 0, m * exp(z * se / m), 0)
  idx <- findInterval(times, f$time)
  pick <- function(x, zero) ifelse(idx == 0, zero, x[pmax(idx, 1)])
  list(time = f$time, n_risk = f$n.risk, n_event = f$n.event, mean = m, std_err = se,
       lower = lower, upper = upper,
       at_times = list(time = times, mean = pick(m, 0), std_err = pick(se, 0),
                       lower = pick(lower, 0), upper = pick(upper, 0)))
}

mcf_case <- function(name, group = NULL, weight = NULL, times) {
  y <- Surv(cgd$tstart, cgd$tstop, cgd$status)
  g <- if (is.null(group)) rep(1L, nrow(cgd)) else group
  args <- list(formula = if (is.null(group)) y ~ 1 else y ~ g, id = cgd$id)
  if (!is.null(weight)) args$weights <- weight
  fit <- do.call(survfit, args)
  z <- qnorm(0.975)
  curves <- if (is.null(fit$strata)) list(c(list(group = NA), mcf_curve(fit, z, times)))
  else {
    labels <- sort(unique(g))
    lapply(seq_along(fit$strata), function(i) c(list(group = labels[i]), mcf_curve(fit[i], z, times)))
  }
  list(name = name,
       input = list(entry = cgd$tstart, time = cgd$tstop, event = cgd$status, subject = cgd$id,
                    weight = weight, group = group),
       options = list(conf_type = "log", conf_level = 0.95, times = times),
       curves = curves)
}

cgd_w <- 1 + (cgd$id %% 3) / 2
mcf_cases <- list(
  mcf_case("cgd", times = c(0, 50, 100, 200, 300, 400)),
  mcf_case("cgd-treat", group = as.integer(cgd$treat), times = c(100, 200, 300)),
  mcf_case("cgd-weighted", weight = cgd_w, times = c(100, 200, 300))
)
write_fixture("mcf", mcf_cases)
