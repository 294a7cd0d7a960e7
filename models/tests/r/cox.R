# Fixtures for the Cox regression tests of the `models` crate (models/tests/cox.rs).
#
# Fits Cox models with R's `survival` package on its public datasets and writes, per case, one JSON
# file holding the input data (so the Rust tests need no R), the model specification and every
# number R reports. Run from the repository root:
#
#     Rscript models/tests/r/cox.R
#
# Numbers are written with 17 significant digits (a small writer below; jsonlite stops at 15);
# NA becomes null. The survival version used is
# recorded in every file (`meta`).

suppressPackageStartupMessages({
  library(survival)
})
# Factor levels in byte order (as models::design sorts them), not the locale's collation, which
# for instance puts "autosomal" before "X-linked".
invisible(Sys.setlocale("LC_COLLATE", "C"))

outdir <- file.path("models", "tests", "fixtures", "cox")
dir.create(outdir, recursive = TRUE, showWarnings = FALSE)

meta <- list(
  survival_version = as.character(packageVersion("survival")),
  r_version = R.version.string,
  generated_by = "models/tests/r/cox.R"
)

# A small JSON writer: jsonlite caps numbers at 15 significant digits, the fixtures need 17 so
# that the input data and R's results round-trip exactly. Length-1 vectors become scalars,
# matrices become arrays of rows, NA / NaN / Inf become null.
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
  if (length(x) == 1) json_scalars(x) else json_array(x)
}
json_scalars <- function(v) {
  if (is.character(v)) return(ifelse(is.na(v), "null", encodeString(v, quote = '"')))
  if (is.logical(v)) return(ifelse(is.na(v), "null", ifelse(v, "true", "false")))
  if (is.integer(v)) return(ifelse(is.na(v), "null", sprintf("%d", v)))
  ifelse(is.finite(v), sprintf("%.17g", v), "null")
}
json_array <- function(v) paste0("[", paste(json_scalars(v), collapse = ","), "]")

write_fixture <- function(name, x) {
  x$meta <- meta
  x$name <- name
  path <- file.path(outdir, paste0(name, ".json"))
  writeLines(to_json(x), path)
  cat(sprintf("%-52s %8.1f kB\n", path, file.size(path) / 1024))
}

# A covariate spec "a,b:cat,c:cat=LEVEL" (the syntax of models::design) -> list of terms.
spec_terms <- function(spec) {
  parts <- trimws(strsplit(spec, ",")[[1]])
  lapply(parts, function(p) {
    m <- regmatches(p, regexec("^([^:]+)(:cat(=(.*))?)?$", p))[[1]]
    list(name = m[2], cat = nzchar(m[3]), ref = if (nzchar(m[5])) m[5] else NA)
  })
}

# Categorical columns become factors with levels in sorted order (or the named reference first).
model_data <- function(data, terms) {
  for (t in terms) if (t$cat) {
    f <- factor(as.character(data[[t$name]]))
    if (!is.na(t$ref)) f <- relevel(f, ref = t$ref)
    data[[t$name]] <- f
  }
  data
}

as_columns <- function(d) {
  lapply(as.list(d), function(v) if (is.factor(v)) as.character(v) else unname(v))
}

zph_list <- function(fit, transform, with_y = TRUE) {
  z <- cox.zph(fit, transform = transform)
  list(
    transform = transform,
    terms = rownames(z$table),
    chisq = unname(z$table[, "chisq"]),
    df = unname(z$table[, "df"]),
    p = unname(z$table[, "p"]),
    x = unname(z$x),
    time = unname(z$time),
    y = if (with_y) unname(as.matrix(z$y)) else NULL
  )
}

survfit_list <- function(sf) {
  list(
    time = sf$time, n_risk = sf$n.risk, n_event = sf$n.event, n_censor = sf$n.censor,
    surv = as.vector(sf$surv), cumhaz = as.vector(sf$cumhaz), std_err = as.vector(sf$std.err),
    lower = as.vector(sf$lower), upper = as.vector(sf$upper)
  )
}

fit_summary <- function(fit) {
  s <- summary(fit)
  cf <- s$coefficients
  robust <- !is.null(fit$naive.var)
  naive <- if (robust) fit$naive.var else fit$var
  list(
    names = names(coef(fit)),
    coef = unname(coef(fit)),
    se = unname(sqrt(diag(naive))),
    robust_se = if (robust) unname(sqrt(diag(fit$var))) else NULL,
    z = unname(cf[, "z"]),
    p = unname(cf[, "Pr(>|z|)"]),
    hr = unname(s$conf.int[, 1]),
    lower = unname(s$conf.int[, 3]),
    upper = unname(s$conf.int[, 4]),
    var = unname(fit$var),
    naive_var = if (robust) unname(fit$naive.var) else NULL,
    loglik = fit$loglik,
    iter = fit$iter,
    n = fit$n,
    nevent = fit$nevent,
    means = unname(fit$means),
    lr = unname(s$logtest),
    wald = c(fit$wald.test, s$waldtest[2], s$waldtest[3]),
    score = unname(s$sctest),
    robust_score = if (robust) unname(s$robscore) else NULL,
    rsq = unname(s$rsq),
    concordance = as.list(fit$concordance[c("concordant", "discordant", "tied.x", "tied.y",
                                            "tied.xy", "concordance", "std")]),
    linear_predictors = unname(fit$linear.predictors)
  )
}

# One Cox case: fit, summarise, optionally residuals / zph / baseline hazard / predicted curves.
run_case <- function(name, data, spec, time, event, start = NULL, strata = NULL, weights = NULL,
                     cluster = NULL, ties = "efron", robust = NULL, newdata = NULL,
                     residuals = TRUE, zph = TRUE, zph_y = TRUE, basehaz = TRUE,
                     description = "") {
  terms <- spec_terms(spec)
  d <- model_data(data, terms)
  lhs <- if (is.null(start)) sprintf("Surv(%s, %s)", time, event) else
    sprintf("Surv(%s, %s, %s)", start, time, event)
  rhs <- paste(sapply(terms, `[[`, "name"), collapse = " + ")
  if (!is.null(strata)) rhs <- paste0(rhs, " + strata(", strata, ")")
  if (!is.null(cluster)) rhs <- paste0(rhs, " + cluster(", cluster, ")")
  call <- sprintf("coxph(%s ~ %s, data = d, ties = '%s'%s%s)", lhs, rhs, ties,
                  if (!is.null(weights)) paste0(", weights = ", weights) else "",
                  if (!is.null(robust)) paste0(", robust = ", robust) else "")
  fit <- eval(parse(text = call))
  exp <- fit_summary(fit)
  exp$n_dropped <- nrow(data) - fit$n
  if (residuals) {
    exp$martingale <- unname(residuals(fit, "martingale"))
    exp$deviance <- unname(residuals(fit, "deviance"))
    exp$score_resid <- unname(as.matrix(residuals(fit, "score")))
    exp$dfbeta <- unname(as.matrix(residuals(fit, "dfbeta")))
  }
  if (zph) exp$zph <- lapply(c("km", "identity", "rank"), function(tr) zph_list(fit, tr, zph_y))
  if (basehaz) {
    b1 <- basehaz(fit, centered = TRUE)
    b0 <- basehaz(fit, centered = FALSE)
    exp$basehaz <- list(time = b1$time, hazard = b1$hazard,
                        strata = if (is.null(b1$strata)) NULL else as.character(b1$strata),
                        hazard_uncentered = b0$hazard)
  }
  if (!is.null(newdata)) {
    nd <- model_data(newdata, terms)
    exp$survfit <- lapply(seq_len(nrow(nd)), function(i) survfit_list(survfit(fit, newdata = nd[i, , drop = FALSE])))
  }
  x <- list(
    description = description,
    r_call = call,
    model = list(spec = spec, time = time, event = event, start = start, strata = strata,
                 weights = weights, cluster = cluster, ties = ties, robust = robust),
    data = as_columns(data),
    newdata = if (is.null(newdata)) NULL else as_columns(newdata),
    expected = exp
  )
  write_fixture(name, x)
  invisible(fit)
}

# ---------------------------------------------------------------------------------------------
# lung: NA rows dropped, Efron / Breslow, strata, categorical with several levels, weights.
lung2 <- lung
lung2$status <- as.integer(lung$status == 2)
lung_new <- data.frame(age = c(50, 70), sex = c(1, 2), ph.ecog = c(0, 2), wt.loss = c(0, 10))

run_case("lung_efron", lung2, "age,sex,ph.ecog,wt.loss", "time", "status", newdata = lung_new,
         description = "lung, Efron; rows with NA in ph.ecog/wt.loss dropped")
run_case("lung_breslow", lung2, "age,sex,ph.ecog,wt.loss", "time", "status", ties = "breslow",
         newdata = lung_new, description = "lung, Breslow")
lung_new_s <- data.frame(age = c(60, 60), ph.ecog = c(1, 2), sex = c(1, 2))
run_case("lung_strata", lung2, "age,ph.ecog:cat", "time", "status", strata = "sex",
         newdata = lung_new_s,
         description = "lung, strata(sex), ph.ecog as a 4-level factor (reference 0)")
lung2$w_int <- 1 + (seq_len(nrow(lung2)) %% 3)
run_case("lung_weights_int", lung2, "age,sex,ph.ecog", "time", "status", weights = "w_int",
         newdata = lung_new[, c("age", "sex", "ph.ecog")],
         description = "lung, integer case weights (model-based variance)")
lung2$w_frac <- 0.5 + (seq_len(nrow(lung2)) %% 5) / 4
run_case("lung_weights_frac", lung2, "age,sex,ph.ecog", "time", "status", weights = "w_frac",
         description = "lung, non-integer weights: R's default robust (per-row) variance")

# veteran: a character covariate with the default (sorted) and a named reference level.
vet <- veteran
vet$celltype <- as.character(vet$celltype)
run_case("veteran_cat", vet, "trt,karno,age,celltype:cat", "time", "status",
         newdata = data.frame(trt = c(1, 2), karno = c(60, 80), age = c(60, 60),
                              celltype = c("adeno", "squamous")),
         description = "veteran, celltype as factor, reference = first sorted level (adeno)")
run_case("veteran_ref", vet, "trt,karno,celltype:cat=squamous", "time", "status",
         ties = "breslow", description = "veteran, Breslow, celltype reference squamous")

# ovarian: tiny, explicit robust=TRUE without cluster (per-observation sandwich).
run_case("ovarian_robust", ovarian, "age,ecog.ps,rx", "futime", "fustat", robust = "TRUE",
         description = "ovarian, robust = TRUE (per-observation sandwich)")

# pbc: rows with NA in platelet / protime dropped, transformed covariates, strata(edema).
pbc2 <- pbc[, c("time", "status", "age", "edema", "bili", "albumin", "protime", "platelet", "trt")]
pbc2$status <- as.integer(pbc2$status == 2)
pbc2$logbili <- log(pbc2$bili)
pbc2$logprotime <- log(pbc2$protime)
pbc2$bili <- NULL
pbc2$protime <- NULL
run_case("pbc_efron", pbc2, "age,edema,logbili,albumin,logprotime,platelet", "time", "status",
         newdata = data.frame(age = 50, edema = 0, logbili = 0, albumin = 3.5, logprotime = 2.4,
                              platelet = 250),
         description = "pbc, death (status 2) as event, rows with NA platelet/protime dropped")
pbc2$trt_s <- pbc2$trt
run_case("pbc_strata_trt", pbc2, "age,edema,logbili,albumin", "time", "status", strata = "trt_s",
         description = "pbc, strata(trt): the 106 rows without trt are dropped")

# cgd: Andersen-Gill recurrent infections, (start, stop] data, cluster(id) robust variance.
cgd2 <- data.frame(id = cgd$id, tstart = cgd$tstart, tstop = cgd$tstop, status = cgd$status,
                   treat = as.character(cgd$treat), sex = as.character(cgd$sex), age = cgd$age,
                   inherit = as.character(cgd$inherit), steroids = cgd$steroids)
run_case("cgd_ag", cgd2, "treat:cat,sex:cat,age,inherit:cat,steroids", "tstop", "status",
         start = "tstart", cluster = "id",
         newdata = data.frame(treat = "placebo", sex = "male", age = 15, inherit = "X-linked",
                              steroids = 0),
         description = "cgd Andersen-Gill: (tstart, tstop], cluster(id)")
run_case("cgd_ag_breslow_strata", cgd2, "treat:cat,age,steroids", "tstop", "status",
         start = "tstart", cluster = "id", strata = "inherit", ties = "breslow",
         description = "cgd Andersen-Gill, Breslow, strata(inherit), cluster(id)")

# heart (jasa1): time-varying transplant status, (start, stop] data.
heart2 <- heart
heart2$transplant <- as.character(heart2$transplant)
run_case("heart_efron", heart2, "age,year,surgery,transplant:cat", "stop", "event",
         start = "start",
         newdata = data.frame(age = c(-5, 5), year = c(2, 4), surgery = c(0, 1),
                              transplant = c("0", "1")),
         description = "Stanford heart transplant (jasa1), (start, stop], Efron")
run_case("heart_breslow_strata", heart2, "age,year,transplant:cat", "stop", "event",
         start = "start", strata = "surgery", ties = "breslow",
         description = "jasa1, Breslow, strata(surgery)")
heart2$w <- 1 + (heart2$id %% 2)
run_case("heart_weights_cluster", heart2, "age,year,surgery,transplant:cat", "stop", "event",
         start = "start", weights = "w", cluster = "id",
         description = "jasa1 with integer weights and cluster(id)")

# Heavy ties: simulated integer times (1..120), 10 covariates, Efron and strata.
set.seed(20261129)
nt <- 1500
sim <- data.frame(matrix(round(rnorm(nt * 9), 3), nt, 9))
names(sim) <- paste0("x", 1:9)
sim$x10 <- rbinom(nt, 1, 0.4)
lp <- as.vector(as.matrix(sim) %*% c(0.5, -0.3, 0.2, 0, 0.1, -0.1, 0.25, 0.05, -0.4, 0.6))
tt <- ceiling(120 * (-log(runif(nt)) / (0.05 * exp(lp)))^(1 / 1.2) / 60)
cc <- ceiling(runif(nt, 1, 180))
sim$time <- pmin(pmin(tt, cc), 120)
sim$status <- as.integer(tt <= cc & tt <= 120)
sim$grp <- rep(1:3, length.out = nt)
spec10 <- paste0("x", 1:10, collapse = ",")
run_case("sim_ties_efron", sim, spec10, "time", "status", residuals = FALSE, basehaz = FALSE,
         zph_y = FALSE,
         description = "simulated heavy ties (integer times 1..120), p = 10, Efron")
run_case("sim_ties_strata_breslow", sim, spec10, "time", "status", strata = "grp",
         ties = "breslow", residuals = FALSE, zph = FALSE, basehaz = FALSE,
         description = "simulated heavy ties, 3 strata, Breslow")

# ---------------------------------------------------------------------------------------------
# mgus2: Fine-Gray for progression (pcm) with death as competing risk, and cause-specific Cox.
etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
cause <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))
mg <- data.frame(id = mgus2$id, age = mgus2$age, sex = as.character(mgus2$sex), etime = etime,
                 cause = cause)
evf <- factor(cause, 0:2, labels = c("censor", "pcm", "death"))
fgd <- data.frame(age = mg$age, sex = factor(mg$sex), etime = etime, evf = evf)
pdata <- finegray(Surv(etime, evf) ~ ., data = fgd, etype = "pcm")
fgfit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + sex, weights = fgwt, data = pdata)
fg <- fit_summary(fgfit)
fg$linear_predictors <- NULL
fg$expanded <- list(n_rows = nrow(pdata), sum_weights = sum(pdata$fgwt),
                    n_weight_below_one = sum(pdata$fgwt < 1),
                    head_start = head(pdata$fgstart, 20), head_stop = head(pdata$fgstop, 20),
                    head_wt = head(pdata$fgwt, 20))
csfit <- coxph(Surv(etime, cause == 1) ~ age + sex, data = mg)
cs <- fit_summary(csfit)
cs$linear_predictors <- NULL
write_fixture("mgus2_finegray", list(
  description = paste("mgus2: Fine-Gray for progression (cause 1) with death (cause 2) competing;",
                      "finegray() + weighted coxph; and cause-specific Cox for cause 1"),
  r_call = "finegray(Surv(etime, evf) ~ ., data, etype = 'pcm'); coxph(Surv(fgstart, fgstop, fgstatus) ~ age + sex, weights = fgwt)",
  model = list(spec = "age,sex:cat", time = "etime", cause = "cause", event_of_interest = 1),
  data = as_columns(mg),
  expected = list(finegray = fg, cause_specific = cs)
))

# ---------------------------------------------------------------------------------------------
# Failures R only warns about: a collinear column (R sets its coefficient to NA) and a covariate
# that separates the events (R warns the coefficient may be infinite).
lung3 <- lung2[, c("time", "status", "age", "sex", "ph.ecog")]
lung3$age_months <- 12 * lung3$age + 6
fc <- coxph(Surv(time, status) ~ age + sex + age_months + ph.ecog, data = lung3)
sep <- data.frame(time = c(1:10, 11:20), status = c(rep(1, 10), rep(c(1, 0), 5)),
                  x = c(rep(1, 10), rep(0, 10)), z = c(0.3, -1.2, 0.8, 0.1, -0.5, 1.1, 0.4, -0.9, 0.2, 0.6,
                                                       -0.3, 0.9, -0.7, 0.5, 0.0, -1.1, 1.3, 0.2, -0.4, 0.7))
sep_warn <- NULL
fs <- withCallingHandlers(coxph(Surv(time, status) ~ z + x, data = sep),
                          warning = function(w) { sep_warn <<- conditionMessage(w); invokeRestart("muffleWarning") })
write_fixture("errors", list(
  description = "collinear column (R: NA coefficient) and separation (R: infinite-coefficient warning)",
  collinear = list(data = as_columns(lung3), spec = "age,sex,age_months,ph.ecog",
                   r_coef = unname(coef(fc)), r_na = names(coef(fc))[is.na(coef(fc))]),
  separation = list(data = as_columns(sep), spec = "z,x", r_warning = sep_warn,
                    r_coef = unname(coef(fs)), r_iter = fs$iter)
))
