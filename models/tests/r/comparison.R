# Fixtures for the comparison tests of the `models` crate (models/tests/comparison.rs):
# logistic regression (glm, binomial) with and without case weights; propensity-score weights
# (ATE, stabilised ATE, truncated ATE, ATT, overlap) computed from glm's fitted scores by the
# textbook formulas; weighted coxph with the robust variance and weighted survfit (Kaplan-Meier
# and Aalen-Johansen) under those weights; standardised mean differences by the formula the
# balance module documents; nearest-neighbour matching with MatchIt (if installed).
#
# Public data only: survival::lung, survival::rotterdam, datasets::mtcars. Run from the
# repository root:
#
#     Rscript models/tests/r/comparison.R
#
# Numbers are written with 17 significant digits (jsonlite stops at 15); NA becomes null. The
# versions used are recorded in every file (`meta`).

suppressPackageStartupMessages({
  library(survival)
})
has_matchit <- suppressWarnings(requireNamespace("MatchIt", quietly = TRUE))
invisible(Sys.setlocale("LC_COLLATE", "C"))

outdir <- file.path("models", "tests", "fixtures", "comparison")
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

meta <- list(
  survival_version = as.character(packageVersion("survival")),
  matchit_version = if (has_matchit) as.character(packageVersion("MatchIt")) else NULL,
  r_version = R.version.string,
  generated_by = "models/tests/r/comparison.R"
)

# The JSON writer of models/tests/r/cox.R: 17 significant digits, length-1 vectors as scalars,
# matrices as arrays of rows, NA / NaN / Inf as null. `I()` keeps a length-1 vector an array.
to_json <- function(x) {
  if (is.null(x)) return("null")
  if (is.factor(x)) x <- as.character(x)
  if (is.matrix(x)) {
    rows <- vapply(seq_len(nrow(x)), function(i) json_array(unname(x[i, ])), "")
    return(paste0("[", paste(rows, collapse = ","), "]"))
  }
  if (is.list(x)) {
    parts <- vapply(x, to_json, "")
    if (is.null(names(x))) return(paste0("[", paste(parts, collapse = ","), "]"))
    keys <- encodeString(names(x), quote = '"')
    return(paste0("{", paste0(keys, ":", parts, collapse = ","), "}"))
  }
  if (length(x) == 1 && !inherits(x, "AsIs")) json_scalars(x) else json_array(x)
}
json_scalars <- function(v) {
  if (is.character(v)) return(ifelse(is.na(v), "null", encodeString(v, quote = '"')))
  if (is.logical(v)) return(ifelse(is.na(v), "null", ifelse(v, "true", "false")))
  if (is.integer(v)) return(ifelse(is.na(v), "null", sprintf("%d", v)))
  ifelse(is.finite(v), sprintf("%.17g", v), "null")
}
json_array <- function(v) paste0("[", paste(json_scalars(unclass(v)), collapse = ","), "]")

write_fixture <- function(name, x) {
  x$meta <- meta
  x$name <- name
  path <- file.path(outdir, paste0(name, ".json"))
  writeLines(to_json(x), path)
  cat(sprintf("%-58s %8.1f kB\n", path, file.size(path) / 1024))
}

as_columns <- function(d) {
  lapply(as.list(d), function(v) if (is.factor(v)) as.character(v) else unname(v))
}

glm_summary <- function(fit) {
  cf <- summary(fit)$coefficients
  # summary.glm's standard errors come from the QR of the last iteration, whose weights were
  # computed before the final update; the inverse information at the final estimate as well.
  X <- model.matrix(fit)
  mu <- fitted(fit)
  info <- t(X) %*% (X * (fit$prior.weights * mu * (1 - mu)))
  list(
    se_at_estimate = I(unname(sqrt(diag(solve(info))))),
    names = rownames(cf),
    coef = I(unname(cf[, 1])),
    se = I(unname(cf[, 2])),
    z = I(unname(cf[, 3])),
    p = I(unname(cf[, 4])),
    deviance = fit$deviance,
    null_deviance = fit$null.deviance,
    fitted = unname(fitted(fit)),
    linear_predictor = unname(fit$linear.predictors),
    iter = fit$iter,
    converged = fit$converged
  )
}

# glm to the maximum (convergence far tighter than glm's default 1e-8, so the comparison is
# between two maximum-likelihood estimates, not between two stopping points).
tight <- glm.control(epsilon = 1e-15, maxit = 100)

# ---------------------------------------------------------------------------------------------
# Logistic regression.

run_glm <- function(name, data, spec, outcome, weights = NULL, description = "") {
  # spec: "a,b,c:cat" (models::design syntax); categorical terms become factors.
  parts <- trimws(strsplit(spec, ",")[[1]])
  d <- data
  rhs <- character(0)
  for (p in parts) {
    if (grepl(":cat$", p)) {
      v <- sub(":cat$", "", p)
      d[[v]] <- factor(as.character(d[[v]]))
      rhs <- c(rhs, v)
    } else rhs <- c(rhs, p)
  }
  f <- as.formula(paste(outcome, "~", paste(rhs, collapse = " + ")))
  fit <- if (is.null(weights)) glm(f, family = binomial, data = d, control = tight) else
    glm(f, family = binomial, data = d, weights = d[[weights]], control = tight)
  write_fixture(name, list(
    description = description,
    r_call = paste(deparse(f), "family = binomial", if (!is.null(weights)) paste("weights =", weights) else ""),
    model = list(spec = spec, outcome = outcome, weights = weights),
    data = as_columns(data),
    expected = glm_summary(fit)
  ))
  invisible(fit)
}

lung2 <- na.omit(lung[, c("time", "status", "sex", "age", "ph.ecog", "ph.karno", "wt.loss")])
lung2$female <- as.integer(lung2$sex == 2)
lung2$w <- 0.5 + (seq_len(nrow(lung2)) %% 7) / 4
run_glm("glm_lung", lung2, "age,ph.ecog,ph.karno,wt.loss", "female",
        description = "lung (complete rows): female ~ age + ph.ecog + ph.karno + wt.loss")
run_glm("glm_lung_weights", lung2, "age,ph.ecog,ph.karno,wt.loss", "female", weights = "w",
        description = "as glm_lung with fractional case weights 0.5 + (row %% 7) / 4")

mt <- mtcars
mt$w <- mt$carb / 2
run_glm("glm_mtcars", mt, "hp,wt", "am", description = "mtcars: am ~ hp + wt")
run_glm("glm_mtcars_weights", mt, "hp,wt", "am", weights = "w",
        description = "mtcars: am ~ hp + wt, weights carb / 2")

# ---------------------------------------------------------------------------------------------
# Rotterdam: the propensity of hormonal treatment, weights, balance, weighted outcome models.

rott <- rotterdam[, c("pid", "age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon",
                      "rtime", "recur", "dtime", "death")]
rott$size <- as.character(rott$size)
ps_spec <- "age,meno,size:cat,grade,nodes,pgr,er"
ps_fit <- run_glm("glm_rotterdam", rott, ps_spec, "hormon",
                  description = "rotterdam: hormon ~ age + meno + size + grade + nodes + pgr + er")
e <- unname(fitted(ps_fit))
z <- rott$hormon
P <- mean(z)
type7 <- function(w, lo, hi) {
  q <- quantile(w, c(lo, hi), type = 7, names = FALSE)
  pmin(pmax(w, q[1]), q[2])
}
weights <- list(
  ate = ifelse(z == 1, 1 / e, 1 / (1 - e)),
  ate_stabilised = ifelse(z == 1, P / e, (1 - P) / (1 - e)),
  att = ifelse(z == 1, 1, e / (1 - e)),
  att_stabilised = ifelse(z == 1, 1, (1 - P) / P * e / (1 - e)),
  ato = ifelse(z == 1, 1 - e, e)
)
weights$ate_truncated = type7(weights$ate, 0.01, 0.99)

# Balance: SMD with the pooled SD of the unweighted groups (p(1-p) for 0/1 columns), weighted
# means, variance ratios (weighted variance sum w (x - m)^2 / (sum w - sum w^2 / sum w)).
X <- model.matrix(~ age + meno + factor(size) + grade + nodes + pgr + er, data = rott)[, -1]
wvar <- function(x, w) {
  m <- sum(w * x) / sum(w)
  sum(w * (x - m)^2) / (sum(w) - sum(w^2) / sum(w))
}
balance_of <- function(w) {
  out <- lapply(seq_len(ncol(X)), function(j) {
    x <- X[, j]
    bin <- all(x %in% c(0, 1))
    v <- function(g, ww) if (bin) { p <- sum(ww[g] * x[g]) / sum(ww[g]); p * (1 - p) } else wvar(x[g], ww[g])
    t <- z == 1
    one <- rep(1, length(x))
    sd <- sqrt((v(t, one) + v(!t, one)) / 2)
    m <- function(g, ww) sum(ww[g] * x[g]) / sum(ww[g])
    list(
      smd_before = (m(t, one) - m(!t, one)) / sd,
      smd_after = (m(t, w) - m(!t, w)) / sd,
      mean_treated_after = m(t, w),
      mean_control_after = m(!t, w),
      variance_ratio_before = if (bin) NA else v(t, one) / v(!t, one),
      variance_ratio_after = if (bin) NA else v(t, w) / v(!t, w)
    )
  })
  keys <- names(out[[1]])
  setNames(lapply(keys, function(k) vapply(out, function(o) o[[k]], 0)), keys)
}

# Outcomes: death (overall survival) and, for the cumulative incidence, recurrence with death
# before recurrence as the competing event (time to the first of the two).
rott$ftime <- pmin(rott$rtime, rott$dtime)
rott$fcause <- ifelse(rott$recur == 1, 1L, ifelse(rott$death == 1, 2L, 0L))
tau <- 3652.5

weighted_case <- function(kind) {
  w <- weights[[kind]]
  d <- rott
  d$w <- w
  cox <- coxph(Surv(dtime, death) ~ hormon, data = d, weights = w, robust = TRUE)
  km <- survfit(Surv(dtime, death) ~ hormon, data = d, weights = w)
  aj <- survfit(Surv(ftime, factor(fcause)) ~ hormon, data = d, weights = w)
  km_groups <- lapply(1:2, function(s) {
    k <- km[s]
    # survfit's std.err is on the log scale unless the robust variance was used (logse FALSE).
    list(time = k$time, n_risk = k$n.risk, n_event = k$n.event, surv = k$surv,
         std_err = if (isTRUE(k$logse)) k$std.err * k$surv else k$std.err)
  })
  aj_tau <- summary(aj, times = tau, extend = TRUE)
  any_event <- survfit(Surv(ftime, fcause > 0) ~ hormon, data = d, weights = w)
  rm <- summary(any_event, rmean = tau)$table[, "rmean"]
  list(
    weights = w,
    cox = list(coef = unname(coef(cox)), se = sqrt(diag(cox$naive.var)),
               robust_se = sqrt(diag(cox$var)), loglik = cox$loglik),
    km = km_groups,
    # Per group (hormon 0, 1): cumulative incidence of recurrence at tau, restricted mean
    # event-free time to tau.
    risk_at_tau = unname(aj_tau$pstate[, 2]),
    restricted_mean = unname(rm),
    balance = balance_of(w)
  )
}

write_fixture("rotterdam_weighted", c(
  list(
    description = paste(
      "rotterdam: propensity of hormonal treatment (glm_rotterdam), weights by formula,",
      "weighted coxph(Surv(dtime, death) ~ hormon, robust = TRUE), weighted survfit per group,",
      "Aalen-Johansen of recurrence (death competing) and restricted mean event-free time at tau,",
      "standardised mean differences"),
    ps_spec = ps_spec,
    tau = tau,
    treated_share = P,
    covariates = colnames(X),
    data = as_columns(rott),
    propensity = e,
    logit = unname(ps_fit$linear.predictors),
    c_statistic = {
      # Mann-Whitney form of the AUC, ties counted 1/2.
      r <- rank(e)
      n1 <- sum(z == 1); n0 <- sum(z == 0)
      (sum(r[z == 1]) - n1 * (n1 + 1) / 2) / (n1 * n0)
    },
    unweighted_cox = {
      f <- coxph(Surv(dtime, death) ~ hormon, data = rott)
      list(coef = unname(coef(f)), se = sqrt(diag(f$var)))
    }
  ),
  setNames(lapply(names(weights), weighted_case), names(weights))
))

# ---------------------------------------------------------------------------------------------
# Matching with MatchIt on R's logit of the propensity score (so the test compares the matching
# rule, not the score), caliper 0.2 SD of the logit, data order.
#
# The match is made with `distance = "mahalanobis"` on the single column `lp`: on one variable
# the Mahalanobis distance is |difference| / sd, so the nearest control is the same as on the
# logit itself, and a named caliper `c(lp = 0.2)` with `std.caliper = TRUE` is 0.2 sd(lp).
# MatchIt 4.5.1 as packaged by Debian (r-cran-matchit) does not pick the nearest control when
# the distance is a propensity score or a numeric vector (on t = (1,0,0,1,0,0,0),
# d = (.50,.10,.52,.20,.90,.21,.49) it matches row 4 to row 2 instead of row 6), so that path
# is not used as a reference.
if (has_matchit) {
  rott_lp <- data.frame(hormon = rott$hormon, lp = unname(ps_fit$linear.predictors))
  rownames(rott_lp) <- seq_len(nrow(rott_lp))
  match_case <- function(ratio, replace, caliper) {
    args <- list(hormon ~ lp, data = rott_lp, method = "nearest", distance = "mahalanobis",
                 ratio = ratio, replace = replace, m.order = "data")
    if (!is.null(caliper)) args$caliper <- c(lp = caliper)
    m <- do.call(MatchIt::matchit, args)
    mm <- m$match.matrix
    treated_rows <- as.integer(rownames(mm))
    ctrl <- matrix(as.integer(mm), nrow = nrow(mm))
    keep <- rowSums(!is.na(ctrl)) > 0
    list(ratio = ratio, replace = replace, caliper = caliper,
         treated = treated_rows[keep] - 1L,
         controls = lapply(which(keep), function(i) { v <- ctrl[i, ]; I(v[!is.na(v)] - 1L) }),
         weights = unname(m$weights))
  }
  write_fixture("rotterdam_matching", list(
    description = "MatchIt nearest-neighbour matching on the logit of glm_rotterdam's score, data order (rows 0-based)",
    logit = rott_lp$lp,
    treated = rott$hormon,
    cases = list(
      match_case(1, FALSE, 0.2),
      match_case(2, FALSE, 0.2),
      match_case(1, FALSE, NULL),
      match_case(1, TRUE, 0.2),
      match_case(3, TRUE, 0.2),
      match_case(1, FALSE, 0.01)
    )
  ))
}
