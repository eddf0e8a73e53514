# Reference values for tests/test_growth.py, computed independently of workbench/growth.py.
#
# Run from the repo root:  Rscript tests/results/growth/make_reference.R  (made with R 4.2.2, sandwich 3.0.2)
# Writes tests/results/growth/account_monthly.csv (the deterministic input series) and
# tests/results/growth/reference.csv (name, value: every statistic the test compares, 17 significant digits).
#
# Conventions matched (see workbench/growth.py module notes):
#   * time in days since the first date with a follower level; intervention date belongs to the after period
#   * segmented model value ~ days * post, Newey-West: Bartlett kernel, lag L, no prewhitening,
#     adjust = TRUE (n/(n-k)); this equals statsmodels cov_type="HAC", use_correction=True
#   * tests / intervals with Student t on the residual degrees of freedom
#   * default lag: floor(4 * (n/100)^(2/9))
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
  p_low <- pt((log(r) - log(0.8)) / se_log, df, lower.tail = FALSE)
  p_high <- pt((log(r) - log(1.25)) / se_log, df)
  put(paste0(tag, "tost_p"), max(p_low, p_high))
}
segmented(nw_rule(nrow(d)), "hac_rule_")
segmented(1, "hac_lag1_")

# counterfactual: before-period trend projected over the after dates
b0 <- d[d$post == 0, ]
a0 <- d[d$post == 1, ]
f0 <- lm(value ~ days, data = b0)
L0 <- nw_rule(nrow(b0))
V0 <- NeweyWest(f0, lag = L0, prewhite = FALSE, adjust = TRUE)
X0 <- cbind(1, a0$days)
proj <- drop(X0 %*% coef(f0))
half <- qt(0.975, df.residual(f0)) * sqrt(rowSums((X0 %*% V0) * X0) + sigma(f0)^2)
put("cf_maxlags", L0)
put("cf_projected_first", proj[1])
put("cf_pi_low_first", proj[1] - half[1])
put("cf_pi_high_first", proj[1] + half[1])
last <- nrow(a0)
put("cf_projected_end", proj[last])
put("cf_excess_end", a0$value[last] - proj[last])
put("cf_excess_ci_low", a0$value[last] - proj[last] - half[last])
put("cf_excess_ci_high", a0$value[last] - proj[last] + half[last])

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

res <- data.frame(name = names(ref), value = vapply(ref, function(v) format(v, digits = 17), ""))
write.csv(res, file.path(out_dir, "reference.csv"), row.names = FALSE, quote = FALSE)
cat("wrote", nrow(res), "reference values\n")
