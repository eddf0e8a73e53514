# Reference values for workbench/models.py's count-model fallbacks and the Pearson overdispersion statistic.
#
# Input:  tests/results/countfallback/counts.csv (written by tests/results/countfallback/make_data.py)
# Output: tests/results/countfallback/ref_coefs.csv, ref_dispersion.csv
# Run from the repository root:  Rscript tests/results/countfallback/make_reference.R
# Needs: R (>= 4.2), MASS, sandwich.
#
# Design: y ~ has_url + n_hashtags + followers (raw units).
#   nb2_fixed_alpha: theta0 = MASS::glm.nb(y ~ 1)$theta (intercept-only ML; with offset(log(impressions))
#     for the rate fit), alpha0 = 1/theta0; glm(y ~ design, family = MASS::negative.binomial(theta0)),
#     HC0 sandwich with the OBSERVED information as the bread (the log link is not NB2's canonical link, so
#     observed and expected information differ: -d2l/db2 = X' diag(mu (1 + alpha y)/(1 + alpha mu)^2) X), as
#     statsmodels' GLM(cov_type = "HC0") after IRLS and workbench's nb2_ml sandwich use:
#     sandwich::sandwich(fit, bread. = n solve(H_obs), meat. = sandwich::meatHC(fit, type = "HC0"));
#     normal (z) CIs and p-values. sandwich::vcovHC(type = "HC0"), whose bread is the expected (Fisher)
#     information, is written too, as std_error_expected_info, for comparison (not what the workbench uses).
#   poisson_robust: glm(y_under ~ design, family = poisson), vcovHC(type = "HC0").
#   Pearson: Poisson glm of the same design; stat = sum(residuals(type = "pearson")^2), df = df.residual,
#     dispersion = stat/df, p = pchisq(stat, df, lower.tail = FALSE); Cameron-Trivedi auxiliary regression
#     ((y - mu)^2 - y)/mu ~ 0 + mu (AER::dispersiontest(trafo = 2) written out), one-sided normal p.
suppressPackageStartupMessages({
  library(MASS)
  library(sandwich)
})
dir <- file.path("tests", "results", "countfallback")
d <- read.csv(file.path(dir, "counts.csv"))
rhs <- "has_url + n_hashtags + followers"
ctl <- glm.control(epsilon = 1e-14, maxit = 200)
z <- qnorm(0.975)

coef_rows <- function(case, method, fit, alpha) {
  b <- coef(fit)
  se_exp <- sqrt(diag(vcovHC(fit, type = "HC0")))
  if (is.na(alpha)) {
    se <- se_exp
  } else {
    X <- model.matrix(fit); mu <- fitted(fit); y <- fit$y
    H_obs <- crossprod(X, X * (mu * (1 + alpha * y) / (1 + alpha * mu)^2))
    V <- sandwich(fit, bread. = nrow(X) * solve(H_obs), meat. = meatHC(fit, type = "HC0"))
    S <- X * ((y - mu) / (1 + alpha * mu))  # the NB2 score in beta, written out
    V2 <- solve(H_obs) %*% crossprod(S) %*% solve(H_obs)
    stopifnot(max(abs(V - V2) / sqrt(outer(diag(V2), diag(V2)))) < 1e-7)  # solve() of an information matrix with a column in the 10^4s
    se <- sqrt(diag(V))
  }
  data.frame(case = case, method = method, term = sub("^\\(Intercept\\)$", "Intercept", names(b)),
             estimate = unname(b), std_error = unname(se), ci_low = unname(b - z * se),
             ci_high = unname(b + z * se), p_value = unname(2 * pnorm(-abs(b / se))), alpha = alpha,
             std_error_expected_info = unname(se_exp))
}
out <- list(); disp <- list()
cases <- list(
  list(case = "over", y = "y_over", offset = FALSE, method = "nb2_fixed_alpha"),
  list(case = "over_rate", y = "y_over", offset = TRUE, method = "nb2_fixed_alpha"),
  list(case = "under", y = "y_under", offset = FALSE, method = "poisson_robust")
)
for (cs in cases) {
  off <- if (cs$offset) " + offset(log(impressions))" else ""
  f <- as.formula(paste0(cs$y, " ~ ", rhs, off))
  if (cs$method == "nb2_fixed_alpha") {
    null <- glm.nb(as.formula(paste0(cs$y, " ~ 1", off)), data = d, control = ctl)
    theta0 <- null$theta
    fit <- glm(f, data = d, family = negative.binomial(theta0), control = ctl)
    out[[cs$case]] <- coef_rows(cs$case, cs$method, fit, 1 / theta0)
  } else {
    fit <- glm(f, data = d, family = poisson, control = ctl)
    out[[cs$case]] <- coef_rows(cs$case, cs$method, fit, NA)
  }
  pois <- glm(f, data = d, family = poisson, control = ctl)
  y <- d[[cs$y]]; mu <- fitted(pois)
  stat <- sum(residuals(pois, type = "pearson")^2)
  zz <- ((y - mu)^2 - y) / mu
  aux <- lm(zz ~ 0 + mu)
  ct_alpha <- unname(coef(aux)); ct_stat <- unname(coef(aux) / sqrt(vcov(aux)[1, 1]))
  disp[[cs$case]] <- data.frame(case = cs$case, pearson_stat = stat, pearson_df = df.residual(pois),
                                pearson_dispersion = stat / df.residual(pois),
                                pearson_p = pchisq(stat, df.residual(pois), lower.tail = FALSE),
                                ct_alpha = ct_alpha, ct_stat = ct_stat, ct_p = pnorm(ct_stat, lower.tail = FALSE),
                                poisson_llf = as.numeric(logLik(pois)),
                                variance_to_mean = var(y) / mean(y))
}
write.csv(do.call(rbind, out), file.path(dir, "ref_coefs.csv"), row.names = FALSE)
write.csv(do.call(rbind, disp), file.path(dir, "ref_dispersion.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("MASS", packageVersion("MASS")), paste("sandwich", packageVersion("sandwich"))),
           file.path(dir, "ref_versions.txt"))
