# Reference values for workbench/cohort.py's going-quiet analysis (quiet_analysis), computed independently in R.
#
# Input:  tests/results/cohort/accounts.csv, posts.csv (written by tests/results/cohort/make_data.py)
# Output: tests/results/cohort/ref_km.csv (one row per curve), ref_logrank.csv, ref_durations.csv,
#         ref_km_cases.csv (from the hand-written km_cases.csv)
# Run from the repository root:  Rscript tests/results/cohort/make_reference.R
# Needs: R (>= 4.2), survival (Debian r-cran-survival).
#
# Duration (days): from training to the start of the first gap of >= 30 days without a post (posts on
#   [treated, end); the gap may start at training; the last gap runs to `end`); censored at end - 30 days
#   (at least 0) when there is none. Accounts with end - 30 days <= treated are left out.
# Curves: survival::survfit(Surv(duration, observed) ~ 1, conf.type = "log-log") (Kalbfleisch-Prentice
#   log(-log S) Greenwood interval = lifelines' "exponential Greenwood"), per training date, and per arm of the
#   follow-up landmark comparison; median and its CI = quantile(fit, 0.5) (survival's rule: the first time
#   the curve is below 0.5; where it sits at 0.5 (within sqrt(.Machine$double.eps)) the midpoint to the next
#   drop); S at 30, 90, 180, 365 days = summary(fit, times, extend = TRUE).
# Landmark: lag = median follow-up day of the accounts with one; landmark = own follow-up day, else lag; kept:
#   duration > landmark and (end - treated) - 30 > landmark; time = duration - landmark;
#   log-rank: survival::survdiff(Surv(time, observed) ~ arm) (rho = 0), chi-square on 1 df.
suppressPackageStartupMessages(library(survival))
dir <- file.path("tests", "results", "cohort")
a <- read.csv(file.path(dir, "accounts.csv"), stringsAsFactors = FALSE)
p <- read.csv(file.path(dir, "posts.csv"), stringsAsFactors = FALSE)
QUIET <- 30
rows <- list()
for (i in seq_len(nrow(a))) {
  s <- as.Date(a$treated[i]); e <- as.Date(a$end[i])
  if (e - QUIET <= s) next
  d <- sort(as.Date(p$date[p$account == a$account[i]]))
  d <- d[d >= s & d < e]
  marks <- c(s, d, e)
  big <- which(diff(as.numeric(marks)) >= QUIET)
  if (length(big)) {
    dur <- as.numeric(marks[big[1]] - s); obs <- TRUE
  } else {
    dur <- max(as.numeric(e - QUIET - s), 0); obs <- FALSE
  }
  fu <- if (nzchar(a$follow_up[i])) as.numeric(as.Date(a$follow_up[i]) - s) else NA
  rows[[length(rows) + 1]] <- data.frame(account = a$account[i], cohort = paste("trained", format(s)),
                                         duration = dur, observed = obs, follow_up_day = fu,
                                         span = as.numeric(e - s))
}
df <- do.call(rbind, rows)
write.csv(df, file.path(dir, "ref_durations.csv"), row.names = FALSE)

km <- function(time, status, label) {
  fit <- survfit(Surv(time, status) ~ 1, conf.type = "log-log")
  q <- quantile(fit, 0.5)
  at <- summary(fit, times = c(30, 90, 180, 365), extend = TRUE)$surv
  data.frame(label = label, n = length(time), events = sum(status), median = unname(q$quantile),
             median_ci_low = unname(q$lower), median_ci_high = unname(q$upper),
             s30 = at[1], s90 = at[2], s180 = at[3], s365 = at[4])
}
curves <- lapply(sort(unique(df$cohort)), function(c) km(df$duration[df$cohort == c], df$observed[df$cohort == c], c))

lag <- median(df$follow_up_day, na.rm = TRUE)
landmark <- ifelse(is.na(df$follow_up_day), lag, df$follow_up_day)
at_risk <- df$duration > landmark & df$span - QUIET > landmark
lm <- df[at_risk, ]
lm$after <- lm$duration - landmark[at_risk]
lm$arm <- ifelse(is.na(lm$follow_up_day), "without follow up", "with follow up")
for (arm in c("with follow up", "without follow up"))
  curves[[length(curves) + 1]] <- km(lm$after[lm$arm == arm], lm$observed[lm$arm == arm], arm)
write.csv(do.call(rbind, curves), file.path(dir, "ref_km.csv"), row.names = FALSE)

sd <- survdiff(Surv(after, observed) ~ arm, data = lm)
write.csv(data.frame(lag = lag, excluded = sum(!at_risk), chisq = sd$chisq,
                     p = pchisq(sd$chisq, 1, lower.tail = FALSE)),
          file.path(dir, "ref_logrank.csv"), row.names = FALSE)
# hand-written curves for the median's edge cases (km_cases.csv, committed as is): S exactly 0.5 on a plateau,
# a curve ending at 0.5, a median not reached, events at time 0, censoring between events
kc <- read.csv(file.path(dir, "km_cases.csv"), stringsAsFactors = FALSE)
write.csv(do.call(rbind, lapply(unique(kc$case), function(c) km(kc$time[kc$case == c], kc$status[kc$case == c], c))),
          file.path(dir, "ref_km_cases.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival"))), file.path(dir, "ref_versions.txt"))
