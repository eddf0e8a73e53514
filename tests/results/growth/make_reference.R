# Reference values for tests/test_growth.py, computed independently of workbench/growth.py.
#
# Run from the repo root:  Rscript tests/results/growth/make_reference.R  (made with R 4.2.2, sandwich 3.0.2)
# Writes tests/results/growth/account_monthly.csv (the deterministic input series),
# tests/results/growth/account_counts.csv (a simulated counting process: daily Poisson follows minus Poisson
# unfollows, observed as monthly snapshots with missing months; two interventions) and
# tests/results/growth/reference.csv (name, value: every statistic the test compares, 17 significant digits).
#
# Conventions matched (see workbench/growth.py module notes):
#   * time in days since the first date with a follower level; intervention date belongs to the after period
#   * segmented model value ~ days * post, Newey-West: Bartlett kernel, lag L, no prewhitening,
#     adjust = TRUE (n/(n-k)); this equals statsmodels cov_type="HAC", use_correction=True
#   * tests / intervals with Student t on the residual degrees of freedom
#   * default lag: floor(4 * (n/100)^(2/9))
#   * increments model (the rigorous form): for consecutive observations, dv = sum_p r_p * d_p + e with d_p the
#     days of the interval in period p, lm(dv ~ 0 + D, weights = 1/dt), NeweyWest(prewhite = FALSE,
#     adjust = TRUE) with the lag rule on n = number of increments; t with the degrees of freedom whose 97.5%
#     point is the Kiefer-Vogelsang (2005) fixed-b critical value of the Bartlett kernel, capped at n - k
library(sandwich)

out_dir <- "tests/results/growth"

# ---- deterministic input: one row per calendar month, irregular day of month, one NA follower level ----
n <- 36
first <- as.Date("2020-01-01")
month_starts <- seq(first, by = "month", length.out = n)
i <- 0:(n - 1)
dates <- month_starts + (i * 7) %% 11
intervention <- as.Date("2021-07-01")
days_all <- as.numeric(dates - dates[1])
after_all <- dates >= intervention
t_int <- as.numeric(intervention - dates[1])
level <- 5000 + 1.0 * days_all + ifelse(after_all, 0.6 * (days_all - t_int), 0) +
  40 * sin(1.3 * i) + 25 * cos(0.7 * i^1.1)
followers <- round(level)
followers[8] <- NA
impressions <- round((20000 + 150 * i + 6000 * sin(2.1 * i)) * ifelse(after_all, 1.12, 1.0))
stopifnot(!anyDuplicated(impressions))
account <- data.frame(date = format(dates), platform = "x", account = "refacct",
                      followers = followers, impressions = impressions,
                      source_file = "raw/monthly_sheet.csv")
write.csv(account, file.path(out_dir, "account_monthly.csv"), row.names = FALSE, na = "")

# ---- follower series ----
ok <- !is.na(followers)
d <- data.frame(date = dates[ok], value = followers[ok])
d$days <- as.numeric(d$date - d$date[1])
d$post <- as.numeric(d$date >= intervention)
ref <- list()
put <- function(name, value) ref[[name]] <<- value

nw_rule <- function(n) floor(4 * (n / 100)^(2 / 9))

# per-period OLS (classical)
for (p in 0:1) {
  sub <- d[d$post == p, ]
  f <- lm(value ~ days, data = sub)
  ci <- confint(f, level = 0.95)
  tag <- paste0("period", p, "_")
  put(paste0(tag, "n"), nrow(sub))
  put(paste0(tag, "slope"), coef(f)[["days"]])
  put(paste0(tag, "slope_ci_low"), ci["days", 1])
  put(paste0(tag, "slope_ci_high"), ci["days", 2])
  put(paste0(tag, "intercept"), coef(f)[["(Intercept)"]])
  put(paste0(tag, "r2"), summary(f)$r.squared)
}

# segmented model with Newey-West
fit <- lm(value ~ days + post + days:post, data = d)
naive <- summary(fit)$coefficients
put("naive_p_value", naive["days:post", 4])
segmented <- function(L, tag) {
  V <- NeweyWest(fit, lag = L, prewhite = FALSE, adjust = TRUE)
  b <- coef(fit)
  df <- df.residual(fit)
  q <- qt(0.975, df)
  se <- sqrt(V["days:post", "days:post"])
  put(paste0(tag, "maxlags"), L)
  put(paste0(tag, "change"), b[["days:post"]])
  put(paste0(tag, "change_ci_low"), b[["days:post"]] - q * se)
  put(paste0(tag, "change_ci_high"), b[["days:post"]] + q * se)
  put(paste0(tag, "change_p"), 2 * pt(-abs(b[["days:post"]] / se), df))
  s0 <- b[["days"]]
  s1 <- b[["days"]] + b[["days:post"]]
  g <- c(1 / s1 - 1 / s0, 1 / s1)
  idx <- c("days", "days:post")
  se_log <- sqrt(drop(t(g) %*% V[idx, idx] %*% g))
  r <- s1 / s0
  put(paste0(tag, "ratio"), r)
  put(paste0(tag, "ratio_ci_low"), exp(log(r) - q * se_log))
  put(paste0(tag, "ratio_ci_high"), exp(log(r) + q * se_log))
}
segmented(nw_rule(nrow(d)), "hac_rule_")
segmented(1, "hac_lag1_")

# ---- monthly impressions: all rows (including the one without a follower level) ----
x <- impressions[!after_all]
y <- impressions[after_all]
put("monthly_n_before", length(x))
put("monthly_n_after", length(y))
put("monthly_before_mean", mean(x))
put("monthly_after_mean", mean(y))
put("welch_p_two_sided", t.test(y, x)$p.value)
put("welch_p_one_sided", t.test(y, x, alternative = "greater")$p.value)
put("mannwhitney_p", wilcox.test(y, x)$p.value)
fc <- mean(y) / mean(x)
ux <- var(x) / (length(x) * mean(x)^2)
uy <- var(y) / (length(y) * mean(y)^2)
dfw <- (ux + uy)^2 / (ux^2 / (length(x) - 1) + uy^2 / (length(y) - 1))
put("fold_change", fc)
put("fold_change_ci_low", exp(log(fc) - qt(0.975, dfw) * sqrt(ux + uy)))
put("fold_change_ci_high", exp(log(fc) + qt(0.975, dfw) * sqrt(ux + uy)))
sp <- sqrt(((length(x) - 1) * var(x) + (length(y) - 1) * var(y)) / (length(x) + length(y) - 2))
put("hedges_g", (1 - 3 / (4 * (length(x) + length(y)) - 9)) * (mean(y) - mean(x)) / sp)


# ---- increments model (counting process: independent increments, variance proportional to days) ----
fixed_b_df <- function(n, L, df_resid) {
  b <- min(1, (L + 1) / n)
  cv <- 1.96 + 2.9694 * b + 0.4160 * b^2 - 0.5324 * b^3
  if (qt(0.975, df_resid) >= cv) return(df_resid)
  uniroot(function(v) qt(0.975, v) - cv, c(0.05, df_resid), tol = 1e-14)$root
}

increments_model <- function(dates, value, cuts, L = NULL) {
  t <- as.numeric(dates - dates[1])
  s <- head(t, -1)
  e <- tail(t, -1)
  dv <- diff(value)
  dt <- e - s
  edges <- c(-Inf, as.numeric(cuts - dates[1]), Inf)
  D <- sapply(seq_len(length(edges) - 1), function(p) pmax(0, pmin(e, edges[p + 1]) - pmax(s, edges[p])))
  fit <- lm(dv ~ 0 + D, weights = 1 / dt)
  n <- length(dv)
  k <- ncol(D)
  if (is.null(L)) L <- nw_rule(n)
  V <- NeweyWest(fit, lag = L, prewhite = FALSE, adjust = TRUE)
  list(fit = fit, rates = unname(coef(fit)), V = unname(V), n = n, L = L, df = fixed_b_df(n, L, n - k),
       sigma2 = sigma(fit)^2, t = t)
}

put_increments <- function(m, tag, dates, value, cuts) {
  q <- qt(0.975, m$df)
  put(paste0(tag, "n_increments"), m$n)
  put(paste0(tag, "maxlags"), m$L)
  put(paste0(tag, "df"), m$df)
  for (p in seq_along(m$rates)) {
    se <- sqrt(m$V[p, p])
    put(paste0(tag, "rate", p - 1), m$rates[p])
    put(paste0(tag, "rate", p - 1, "_ci_low"), m$rates[p] - q * se)
    put(paste0(tag, "rate", p - 1, "_ci_high"), m$rates[p] + q * se)
  }
  period <- findInterval(as.numeric(dates), as.numeric(cuts))  # 0 before the first cut
  for (k in seq_len(length(m$rates) - 1)) {
    ct <- paste0(tag, "cmp", k - 1, "_")
    i <- c(k, k + 1)
    r0 <- m$rates[k]
    r1 <- m$rates[k + 1]
    Vk <- m$V[i, i]
    d <- r1 - r0
    se_d <- sqrt(Vk[1, 1] + Vk[2, 2] - 2 * Vk[1, 2])
    put(paste0(ct, "change"), d)
    put(paste0(ct, "change_ci_low"), d - q * se_d)
    put(paste0(ct, "change_ci_high"), d + q * se_d)
    put(paste0(ct, "change_p"), 2 * pt(-abs(d / se_d), m$df))
    g <- c(-1 / r0, 1 / r1)
    se_log <- sqrt(drop(t(g) %*% Vk %*% g))
    put(paste0(ct, "ratio"), r1 / r0)
    put(paste0(ct, "ratio_ci_low"), exp(log(r1 / r0) - q * se_log))
    put(paste0(ct, "ratio_ci_high"), exp(log(r1 / r0) + q * se_log))
    # the test of ratio = 1 on the log scale (growth.py's reported test; this is its uncalibrated fixed-b form)
    put(paste0(ct, "ratio_p"), 2 * pt(-abs(log(r1 / r0) / se_log), m$df))
    p_low <- pt((log(r1 / r0) - log(0.8)) / se_log, m$df, lower.tail = FALSE)
    p_high <- pt((log(r1 / r0) - log(1.25)) / se_log, m$df)
    put(paste0(ct, "tost_p"), max(p_low, p_high))
    # counterfactual: rate of period k projected from its last observation over the dates of period k + 1
    last <- max(which(period == k - 1))
    after <- which(period == k)
    h <- m$t[after] - m$t[last]
    proj <- value[last] + r0 * h
    half <- q * sqrt(m$sigma2 * h + m$V[k, k] * h^2)
    j <- length(after)
    put(paste0(ct, "cf_projected_first"), proj[1])
    put(paste0(ct, "cf_pi_low_first"), proj[1] - half[1])
    put(paste0(ct, "cf_pi_high_first"), proj[1] + half[1])
    put(paste0(ct, "cf_projected_end"), proj[j])
    put(paste0(ct, "cf_pi_low_end"), proj[j] - half[j])
    put(paste0(ct, "cf_pi_high_end"), proj[j] + half[j])
    put(paste0(ct, "cf_excess_end"), value[after[j]] - proj[j])
  }
}

# (a) the deterministic monthly series above, one intervention, lag rule and lag 1
m <- increments_model(d$date, d$value, intervention)
put_increments(m, "inc_rule_", d$date, d$value, intervention)
m1 <- increments_model(d$date, d$value, intervention, L = 1)
put_increments(m1, "inc_lag1_", d$date, d$value, intervention)

# (b) a simulated counting process with two interventions (the second mid-month, inside an interval)
set.seed(20241123)
start <- as.Date("2019-01-01")
cuts2 <- as.Date(c("2020-07-01", "2021-10-17"))
days <- seq(start, as.Date("2022-12-31"), by = "day")
net_rate <- ifelse(days < cuts2[1], 1.0, ifelse(days < cuts2[2], 1.5, 2.2))
unf_rate <- ifelse(days < cuts2[1], 0.4, 0.5)
net <- rpois(length(days), net_rate + unf_rate) - rpois(length(days), unf_rate)
level_at_start <- 800 + c(0, cumsum(net))[seq_along(days)]  # the count at the start of each day
snap <- seq(start, by = "month", length.out = 48) + c(0, sample(0:6, 47, replace = TRUE))
counts <- level_at_start[match(snap, days)]
counts[c(9, 22, 37)] <- NA
acc2 <- data.frame(date = format(snap), platform = "x", account = "simacct", followers = counts,
                   source_file = "raw/monthly_sheet.csv")
write.csv(acc2, file.path(out_dir, "account_counts.csv"), row.names = FALSE, na = "")
ok2 <- !is.na(counts)
m2 <- increments_model(snap[ok2], counts[ok2], cuts2)
put_increments(m2, "counts_", snap[ok2], counts[ok2], cuts2)

res <- data.frame(name = names(ref), value = vapply(ref, function(v) format(v, digits = 17), ""))
write.csv(res, file.path(out_dir, "reference.csv"), row.names = FALSE, quote = FALSE)
cat("wrote", nrow(res), "reference values\n")
