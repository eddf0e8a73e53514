# Reference values for workbench/beforeafter.py (post_change, monthly_its), computed independently in R.
#
# Input:  tests/results/beforeafter/posts.csv, months.csv (written by tests/results/beforeafter/make_data.py)
# Output: tests/results/beforeafter/reference.csv (quantity, value)
# Run from the repository root:  Rscript tests/results/beforeafter/make_reference.R
# Needs: R (>= 4.2), sandwich (Debian r-cran-sandwich).
#
# post_change: lm(log1p(impressions) ~ after + years_since_date + log(followers_at_post) + is_reply);
#   after = published_at >= 2024-02-15 00:00 UTC, years_since_date = (published_at - date) in days / 365.25;
#   vcov = sandwich::vcovCL(cluster = calendar month, type = "HC1", cadjust = TRUE), i.e. the HC0 cluster
#   sandwich times G/(G - 1) * (N - 1)/(N - K) -- the small-sample correction statsmodels applies with
#   cov_type = "cluster" (use_correction = True, df_correction = True); t with G - 1 df.
# monthly_its: complete months only, the month containing the date left out;
#   lm(log(value) ~ t + after + t:after), t = months since the date's month;
#   vcov = sandwich::NeweyWest(lag = floor(4 (n/100)^(2/9)), prewhite = FALSE, adjust = TRUE)
#   (Bartlett weights 1 - j/(L + 1), times n/(n - k)); fixed-b t df (Kiefer & Vogelsang 2005), as in
#   tests/results/growth/make_reference.R.
suppressPackageStartupMessages(library(sandwich))

dir <- file.path("tests", "results", "beforeafter")
out <- data.frame(quantity = character(), value = numeric(), stringsAsFactors = FALSE)
put <- function(q, v) out[nrow(out) + 1, ] <<- list(q, as.numeric(v))

date <- as.POSIXct("2024-02-15 00:00:00", tz = "UTC")

# ---- post_change ----
p <- read.csv(file.path(dir, "posts.csv"), stringsAsFactors = FALSE)
when <- as.POSIXct(p$published_at, tz = "UTC", format = "%Y-%m-%d %H:%M:%S")
p$after <- as.numeric(when >= date)
p$years_since_date <- as.numeric(difftime(when, date, units = "days")) / 365.25
p$is_reply <- as.numeric(p$is_reply == "True")
p$month <- format(when, "%Y-%m")
fit <- lm(log1p(impressions) ~ after + years_since_date + log(followers_at_post) + is_reply, data = p)
V <- vcovCL(fit, cluster = ~month, type = "HC1", cadjust = TRUE)
G <- length(unique(p$month))
b <- coef(fit)[["after"]]
se <- sqrt(V["after", "after"])
q <- qt(0.975, G - 1)
put("post_change.b_after", b)
put("post_change.se_after", se)
put("post_change.estimate", exp(b))
put("post_change.ci_low", exp(b - q * se))
put("post_change.ci_high", exp(b + q * se))
put("post_change.p_value", 2 * pt(-abs(b / se), G - 1))
put("post_change.df", G - 1)
put("post_change.n_posts", nrow(p))
put("post_change.n_months", G)
put("post_change.n_posts_before", sum(p$after == 0))
put("post_change.n_months_before", length(unique(p$month[p$after == 0])))

# ---- monthly_its ----
fixed_b_df <- function(n, L, df_resid) {
  b <- min(1, (L + 1) / n)
  cv <- 1.96 + 2.9694 * b + 0.4160 * b^2 - 0.5324 * b^3
  if (qt(0.975, df_resid) >= cv) return(df_resid)
  uniroot(function(v) qt(0.975, v) - cv, c(0.05, df_resid), tol = 1e-14)$root
}
m <- read.csv(file.path(dir, "months.csv"), stringsAsFactors = FALSE)
m$month <- as.Date(m$month)
m$complete <- m$complete == "True"
dd <- as.Date(date)
next_month <- as.Date(vapply(m$month, function(x) as.numeric(seq(x, by = "month", length.out = 2)[2]), 0),
                      origin = "1970-01-01")
contains <- m$month < dd & next_month > dd
m <- m[m$complete & !contains, ]
m$t <- (as.integer(format(m$month, "%Y")) - 2024) * 12 + (as.integer(format(m$month, "%m")) - 2)
m$after <- as.numeric(m$month >= dd)
its <- lm(log(value) ~ t + after + t:after, data = m)
n <- nrow(m)
L <- floor(4 * (n / 100)^(2 / 9))
Vn <- NeweyWest(its, lag = L, prewhite = FALSE, adjust = TRUE)
dfn <- fixed_b_df(n, L, n - 4)
qn <- qt(0.975, dfn)
bn <- coef(its)
sn <- sqrt(diag(Vn))
put("monthly_its.n_months", n)
put("monthly_its.maxlags", L)
put("monthly_its.df", dfn)
put("monthly_its.level_change", exp(bn[["after"]]))
put("monthly_its.level_change_ci_low", exp(bn[["after"]] - qn * sn[["after"]]))
put("monthly_its.level_change_ci_high", exp(bn[["after"]] + qn * sn[["after"]]))
put("monthly_its.level_change_p", 2 * pt(-abs(bn[["after"]] / sn[["after"]]), dfn))
put("monthly_its.trend_change_per_year", exp(12 * bn[["t:after"]]))
put("monthly_its.trend_change_per_year_ci_low", exp(12 * (bn[["t:after"]] - qn * sn[["t:after"]])))
put("monthly_its.trend_change_per_year_ci_high", exp(12 * (bn[["t:after"]] + qn * sn[["t:after"]])))
put("monthly_its.trend_change_p", 2 * pt(-abs(bn[["t:after"]] / sn[["t:after"]]), dfn))
put("monthly_its.pre_trend_per_year", exp(12 * bn[["t"]]))

write.csv(out, file.path(dir, "reference.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("sandwich", packageVersion("sandwich"))), file.path(dir, "ref_versions.txt"))
