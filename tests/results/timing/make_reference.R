# Reference values for workbench/timing.py (analyze_timing, pool_groups), computed independently in R.
#
# Input:  tests/results/timing/posts.csv (written by tests/results/timing/make_data.py)
# Output: tests/results/timing/ref_hours.csv, ref_weekdays.csv, ref_cells.csv, ref_summary.csv
# Run from the repository root:  Rscript tests/results/timing/make_reference.R
# Needs: R (>= 4.2), metafor (Debian r-cran-metafor).
#
# Posts: not replies, time reliable, impressions present; hour, weekday (Mon = 0) and calendar month in
#   America/New_York; y = log1p(impressions) minus its month's mean.
# Each pooling (hours; weekdays; weekday x hour cells towards hour effect + weekday effect):
#   sigma2 = residual mean square of lm(y ~ factor(group)) (within-group variance pooled, df N - C);
#   v_c = sigma2 / n_c; tau2 = metafor::rma(yi = ybar_c - prior_c, vi = v_c, method = "DL")$tau2;
#   mu = the fixed-effect (inverse-variance) mean of ybar_c, metafor::rma(method = "FE") -- the workbench
#   centres on it, NOT on the DL random-effects mean (see ref_summary: mu_dl is written for comparison);
#   B_c = v_c / (v_c + tau2); theta_c = mu + prior_c + (1 - B_c)(ybar_c - mu - prior_c);
#   Morris (1983) variance v_c (1 - (C - p)/C B_c) + 2/(C - p - 2) B_c^2 (ybar_c - mu - prior_c)^2 (second term 0
#   when C <= p + 2), p = 1 for the main effects, (H - 1) + (W - 1) + 1 for the cells; 95% normal interval.
suppressPackageStartupMessages(library(metafor))

dir <- file.path("tests", "results", "timing")
d <- read.csv(file.path(dir, "posts.csv"), stringsAsFactors = FALSE)
utc <- as.POSIXct(d$published_at, tz = "UTC", format = "%Y-%m-%dT%H:%M:%SZ")
loc <- as.POSIXlt(utc, tz = "America/New_York")
d$hour <- loc$hour
d$weekday <- (loc$wday + 6) %% 7
d$month <- (loc$year + 1900) * 12 + loc$mon + 1
keep <- d$is_reply == "False" & d$published_time_reliable == "True" & !is.na(d$impressions)
n_unreliable <- sum(d$is_reply == "False" & !is.na(d$impressions) & d$published_time_reliable == "False")
n_other <- nrow(d) - sum(keep) - n_unreliable
d <- d[keep, ]
d$y <- log1p(d$impressions) - ave(log1p(d$impressions), d$month)

z <- qnorm(0.975)
pool <- function(y, key, prior = rep(0, length(y)), p = 1) {
  f <- factor(key)
  n <- as.vector(table(f))
  ybar <- as.vector(tapply(y, f, mean))
  pr <- as.vector(tapply(prior, f, mean))
  C <- nlevels(f)
  sigma2 <- if (length(y) > C) deviance(lm(y ~ f)) / (length(y) - C) else 0
  v <- sigma2 / n
  dl <- rma(yi = ybar - pr, vi = v, method = "DL")
  fe <- rma(yi = ybar, vi = v, method = "FE")
  mu <- as.numeric(coef(fe))
  tau2 <- dl$tau2
  B <- v / (v + tau2)
  dd <- ybar - mu - pr
  theta <- mu + pr + (1 - B) * dd
  vr <- v * (1 - (C - p) / C * B) + (if (C > p + 2) 2 / (C - p - 2) else 0) * B^2 * dd^2
  list(tab = data.frame(key = levels(f), n = n, theta = theta - mu, raw = ybar - mu, se = sqrt(vr),
                        lo = theta - mu - z * sqrt(vr), hi = theta - mu + z * sqrt(vr)),
       tau2 = tau2, sigma2 = sigma2, mu = mu, mu_dl = as.numeric(coef(dl)), Q = dl$QE, C = C)
}
ratio_table <- function(tab) {
  data.frame(n = tab$n, ratio = exp(tab$theta), ci_low = exp(tab$lo), ci_high = exp(tab$hi),
             raw_ratio = exp(tab$raw))
}

ph <- pool(d$y, d$hour)
pw <- pool(d$y, d$weekday)
th <- setNames(ph$tab$theta, ph$tab$key)
tw <- setNames(pw$tab$theta, pw$tab$key)
offset <- th[as.character(d$hour)] + tw[as.character(d$weekday)]
p_main <- (ph$C - 1) + (pw$C - 1) + 1
cellkey <- sprintf("%d_%02d", d$weekday, d$hour)
pc <- pool(d$y, cellkey, prior = offset, p = p_main)

write.csv(cbind(hour = as.integer(ph$tab$key), ratio_table(ph$tab)), file.path(dir, "ref_hours.csv"), row.names = FALSE)
write.csv(cbind(weekday = as.integer(pw$tab$key), ratio_table(pw$tab)), file.path(dir, "ref_weekdays.csv"),
          row.names = FALSE)
write.csv(cbind(weekday = as.integer(substr(pc$tab$key, 1, 1)), hour = as.integer(substr(pc$tab$key, 3, 4)),
                ratio_table(pc$tab)), file.path(dir, "ref_cells.csv"), row.names = FALSE)
summ <- data.frame(
  quantity = c("n_posts", "n_excluded_unreliable_time", "n_excluded_other",
               paste0(rep(c("hours", "weekdays", "cells"), each = 5), ".", c("tau2", "sigma2", "mu", "mu_dl", "Q"))),
  value = c(nrow(d), n_unreliable, n_other,
            unlist(lapply(list(ph, pw, pc), function(x) c(x$tau2, x$sigma2, x$mu, x$mu_dl, x$Q)))))
write.csv(summ, file.path(dir, "ref_summary.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("metafor", packageVersion("metafor"))), file.path(dir, "ref_versions.txt"))
