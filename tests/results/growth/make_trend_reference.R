# Reference values for tests/test_growth_change_at_date.py: the trend models of workbench/growth.py
# (_pre_trend, _trend_adjusted), computed independently with R lm + sandwich::NeweyWest.
#
# Run from the repo root:  Rscript tests/results/growth/make_trend_reference.R
# Reads tests/results/growth/account_counts.csv (written by make_reference.R: a simulated counting process,
# monthly snapshots, 3 missing; interventions 2020-07-01 and 2021-10-17) and writes
# tests/results/growth/trend_reference.csv (name, value; 17 significant digits).
#
# Increments: consecutive non-missing snapshots, dv = count change, dt = days, interval [start, end).
# Time t in years (365.25 days) from the intervention date of the comparison; the integral of t over an
# increment's interval is dt * midpoint.
#   * jump at the date beyond one steady trend (comparison k): increments lying wholly inside periods k and k+1,
#     dv ~ 0 + days before the date + days after it + integral of t, weights 1/dt; jump = after - before
#   * pre-trend (period k alone): increments wholly inside period k, dv ~ 0 + dt + integral of t, weights 1/dt;
#     the trend is the coefficient of the integral (change of the daily rate per year)
# Newey-West: Bartlett kernel, lag floor(4 * (n/100)^(2/9)) with n the increments in that model, no
# prewhitening, adjust = TRUE (n/(n-k)): what statsmodels' cov_type="HAC", use_correction=True gives.
library(sandwich)

out_dir <- "tests/results/growth"
acc <- read.csv(file.path(out_dir, "account_counts.csv"), stringsAsFactors = FALSE)
acc <- acc[!is.na(acc$followers), ]
dates <- as.Date(acc$date)
n_obs <- length(dates)
start <- dates[-n_obs]
end <- dates[-1]
dv <- diff(acc$followers)
dt <- as.numeric(end - start)
cuts <- as.Date(c("2020-07-01", "2021-10-17"))
rule <- function(n) floor(4 * (n / 100)^(2 / 9))
ref <- list()
put <- function(name, value) ref[[name]] <<- value
integral_t <- function(origin, rows) {
  mid <- (as.numeric(start[rows] - origin) + as.numeric(end[rows] - origin)) / 2 / 365.25
  dt[rows] * mid
}
nw_fit <- function(y, X, w) {
  f <- lm(y ~ 0 + X, weights = w)
  V <- NeweyWest(f, lag = rule(length(y)), prewhite = FALSE, adjust = TRUE)
  list(b = unname(coef(f)), V = unname(V), n = length(y))
}
for (k in 1:2) {
  cut <- cuts[k]
  lo <- if (k > 1) cuts[k - 1] else as.Date("1900-01-01")
  hi <- if (k < length(cuts)) cuts[k + 1] else as.Date("2999-01-01")
  # jump beyond one steady trend
  rows <- start >= lo & end <= hi
  before <- pmax(0, as.numeric(pmin(end[rows], cut) - start[rows]))
  after <- dt[rows] - before
  X <- cbind(before, after, integral_t(cut, rows))
  m <- nw_fit(dv[rows], X, 1 / dt[rows])
  g <- c(-1, 1, 0)
  tag <- paste0("cmp", k - 1, "_")
  put(paste0(tag, "n"), m$n)
  put(paste0(tag, "jump"), sum(g * m$b))
  put(paste0(tag, "jump_se"), sqrt(drop(t(g) %*% m$V %*% g)))
  put(paste0(tag, "trend"), m$b[3])
  put(paste0(tag, "rate_before_at_date"), m$b[1])
  # pre-trend: period k alone
  rows <- start >= lo & end <= cut
  X <- cbind(dt[rows], integral_t(cut, rows))
  m <- nw_fit(dv[rows], X, 1 / dt[rows])
  put(paste0(tag, "pre_n"), m$n)
  put(paste0(tag, "pre_trend"), m$b[2])
  put(paste0(tag, "pre_trend_se"), sqrt(m$V[2, 2]))
}
out <- data.frame(name = names(ref), value = trimws(formatC(unlist(ref), digits = 17, format = "g")))
write.csv(out, file.path(out_dir, "trend_reference.csv"), row.names = FALSE, quote = FALSE)
