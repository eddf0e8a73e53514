# Reference values for workbench/campaigns.py (wilson_interval, rate_estimate, cost_estimate), computed in R.
#
# Input:  tests/results/campaigns/rows.csv, props.csv (written by tests/results/campaigns/make_data.py)
# Output: tests/results/campaigns/ref_props.csv, ref_sets.csv
# Run from the repository root:  Rscript tests/results/campaigns/make_reference.R
# Needs: base R (stats) only.
#
# Wilson: prop.test(x, n, correct = FALSE)$conf.int (the Wilson score interval; binom.test would be the
#   exact Clopper-Pearson one, a different interval), and the closed form written out, which must agree.
# Rate (quasi-binomial): rows with n > 0; pooled p = X/N; phi = Pearson X^2 / (k - 1); when phi is defined the
#   Wilson interval of (X/s, N/s), s = max(phi, 1); else the Wilson interval of (X, N).
# Cost per click: R = S/C. With k >= 10 rows and S > 0: delta method for the ratio estimator (Cochran 1977,
#   6.4), Var(R) = sum((s_i - R c_i)^2) / (k (k - 1) cbar^2), interval R exp(+-z se/R) (all rows, including
#   rows with zero impressions); else spend fixed and C Poisson: S / poisson.test(C)$conf.int (exact).
dir <- file.path("tests", "results", "campaigns")

wilson_formula <- function(x, n, level = 0.95) {
  z <- qnorm(1 - (1 - level) / 2)
  p <- x / n
  centre <- (p + z^2 / (2 * n)) / (1 + z^2 / n)
  half <- z / (1 + z^2 / n) * sqrt(p * (1 - p) / n + z^2 / (4 * n^2))
  c(centre - half, centre + half)
}
wilson <- function(x, n) {
  ci <- suppressWarnings(prop.test(x, n, correct = FALSE)$conf.int)
  stopifnot(isTRUE(all.equal(as.numeric(ci), wilson_formula(x, n), tolerance = 1e-12)))
  as.numeric(ci)
}

pr <- read.csv(file.path(dir, "props.csv"))
ci <- t(mapply(wilson, pr$x, pr$n))
write.csv(data.frame(x = pr$x, n = pr$n, ci_low = ci[, 1], ci_high = ci[, 2]),
          file.path(dir, "ref_props.csv"), row.names = FALSE)

d <- read.csv(file.path(dir, "rows.csv"), stringsAsFactors = FALSE)
rows <- list()
for (s in unique(d$set)) {
  g <- d[d$set == s, ]
  X <- sum(g$clicks); N <- sum(g$impressions)
  keep <- g$impressions > 0
  x <- g$clicks[keep]; n <- g$impressions[keep]
  p <- X / N
  phi <- if (length(n) >= 2 && p > 0 && p < 1) sum((x - n * p)^2 / (n * p * (1 - p))) / (length(n) - 1) else NA
  sc <- if (is.na(phi)) 1 else max(phi, 1)
  rci <- wilson(X / sc, N / sc)
  S <- sum(g$spend); C <- X; k <- nrow(g)
  z <- qnorm(0.975)
  if (C > 0) {
    R <- S / C
    if (k >= 10 && S > 0) {
      cbar <- C / k
      se <- sqrt(sum((g$spend - R * g$clicks)^2) / (k * (k - 1) * cbar^2))
      cci <- R * exp(c(-1, 1) * z * se / R); cmethod <- "delta"
    } else {
      pci <- poisson.test(C)$conf.int
      cci <- c(S / pci[2], S / pci[1]); cmethod <- "poisson"
    }
  } else {
    R <- NA; cci <- c(NA, NA); cmethod <- "none"
  }
  rows[[s]] <- data.frame(set = s, rate = p, dispersion = phi, rate_ci_low = rci[1], rate_ci_high = rci[2],
                          cost = R, cost_ci_low = cci[1], cost_ci_high = cci[2], cost_method = cmethod)
}
write.csv(do.call(rbind, rows), file.path(dir, "ref_sets.csv"), row.names = FALSE)
writeLines(R.version.string, file.path(dir, "ref_versions.txt"))
