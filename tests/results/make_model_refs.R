# Reference values for workbench/models.py, computed independently in R.
#
# Input:  tests/results/models/model_data.csv (written by tests/results/models/make_model_data.py)
# Output: tests/results/models/ref_ols_log.csv, ref_ols_std.csv, ref_negbin.csv, ref_vif.csv
# Run from the repository root:  Rscript tests/results/make_model_refs.R
# Needs: R (>= 4.2), MASS, sandwich.
#
# Specification (the same one workbench.models uses):
#   log1p(y) ~ has_poll + has_graphic + has_url + has_emoji + n_hashtags + n_mentions
#              + log1p(followers_at_post) + factor(year)        (treatment coding, earliest year = reference)
#   ols_log: lm + sandwich::vcovHC(type = "HC3"), t-based CI and p with the residual df
#   ols_std: every column of the model matrix and the raw outcome z-scored (sd with n - 1), lm, classical SEs
#   negbin:  MASS::glm.nb (NB2, theta by ML); robust SEs from the HC0 sandwich over (beta, theta) with the
#            observed information, written out here from the NB2 score and Hessian (not taken from a package)
suppressPackageStartupMessages({
  library(MASS)
  library(sandwich)
})

dir <- file.path("tests", "results", "models")
d <- read.csv(file.path(dir, "model_data.csv"), stringsAsFactors = FALSE)

rhs <- "has_poll + has_graphic + has_url + has_emoji + n_hashtags + n_mentions + log1p(followers_at_post) + factor(year)"

rename_terms <- function(x) {
  x <- sub("^\\(Intercept\\)$", "Intercept", x)
  x <- sub("^log1p\\(followers_at_post\\)$", "log_followers_at_post", x)
  x <- sub("^factor\\(year\\)(.*)$", "year[\\1]", x)
  x
}

ols_log <- list(); ols_std <- list(); negbin <- list(); vif <- list()
for (outcome in c("impressions", "engagements")) {
  f <- as.formula(paste0("log1p(", outcome, ") ~ ", rhs))
  fit <- lm(f, data = d)
  b <- coef(fit)
  V <- sandwich::vcovHC(fit, type = "HC3")
  se <- sqrt(diag(V))
  dfr <- df.residual(fit)
  q <- qt(0.975, dfr)
  ols_log[[outcome]] <- data.frame(
    outcome = outcome, term = rename_terms(names(b)), estimate = unname(b), std_error = unname(se),
    ci_low = unname(b - q * se), ci_high = unname(b + q * se),
    p_value = unname(2 * pt(-abs(b / se), dfr)), n = nobs(fit), r2 = summary(fit)$r.squared
  )

  # Published form: z-score the raw outcome and every regressor of the same sample.
  X <- model.matrix(fit)[, -1, drop = FALSE]
  y <- d[[outcome]][as.integer(rownames(model.matrix(fit)))]
  Z <- scale(X)
  zy <- as.vector(scale(y))
  colnames(Z) <- paste0("z", seq_len(ncol(Z)))
  sfit <- lm(zy ~ Z)
  sb <- coef(sfit)[-1]
  sse <- sqrt(diag(vcov(sfit)))[-1]
  sq <- qt(0.975, df.residual(sfit))
  ols_std[[outcome]] <- data.frame(
    outcome = outcome, term = rename_terms(colnames(X)), estimate = unname(sb), std_error = unname(sse),
    ci_low = unname(sb - sq * sse), ci_high = unname(sb + sq * sse),
    p_value = unname(2 * pt(-abs(sb / sse), df.residual(sfit))), n = nobs(sfit),
    r2 = summary(sfit)$r.squared
  )

  # VIF: 1 / (1 - R^2_j), each column on all others with an intercept = diag of the inverse correlation matrix.
  vif[[outcome]] <- data.frame(outcome = outcome, term = rename_terms(colnames(X)),
                               vif = unname(diag(solve(cor(X)))))

  # Negative binomial (NB2).
  fnb <- as.formula(paste0(outcome, " ~ ", rhs))
  nb <- MASS::glm.nb(fnb, data = d, control = glm.control(epsilon = 1e-13, maxit = 200))
  nb0 <- MASS::glm.nb(as.formula(paste0(outcome, " ~ 1")), data = d[rownames(model.frame(nb)), ],
                      control = glm.control(epsilon = 1e-13, maxit = 200))  # null model, same posts
  beta <- coef(nb)
  theta <- nb$theta
  Xn <- model.matrix(nb)
  yn <- nb$y
  mu <- as.vector(exp(Xn %*% beta))
  w <- theta + mu
  # per-observation scores of the NB2 log-likelihood in (beta, theta)
  s_beta <- Xn * (theta * (yn - mu) / w)
  s_theta <- digamma(yn + theta) - digamma(theta) + log(theta) + 1 - log(w) - (yn + theta) / w
  S <- cbind(s_beta, s_theta)
  # Hessian of the log-likelihood
  H_bb <- -crossprod(Xn, Xn * (theta * mu * (theta + yn) / w^2))
  H_bt <- colSums(Xn * ((yn - mu) * mu / w^2))
  H_tt <- sum(trigamma(yn + theta) - trigamma(theta) + 1 / theta - 1 / w - (mu - yn) / w^2)
  H <- rbind(cbind(H_bb, H_bt), c(H_bt, H_tt))
  Ainv <- solve(-H)
  Vr <- Ainv %*% crossprod(S) %*% Ainv
  se_r <- sqrt(diag(Vr))[seq_along(beta)]
  z <- qnorm(0.975)
  negbin[[outcome]] <- data.frame(
    outcome = outcome, term = rename_terms(names(beta)), estimate = unname(beta), std_error = unname(se_r),
    ci_low = unname(beta - z * se_r), ci_high = unname(beta + z * se_r),
    p_value = unname(2 * pnorm(-abs(beta / se_r))), n = length(yn),
    theta = theta, alpha = 1 / theta, score_sum_max = max(abs(colSums(S))),
    pseudo_r2 = 1 - as.numeric(logLik(nb)) / as.numeric(logLik(nb0))
  )
}

write_ref <- function(x, name) {
  write.csv(do.call(rbind, x), file.path(dir, name), row.names = FALSE)
}
options(digits = 15)
write_ref(lapply(ols_log, format, digits = 15), "ref_ols_log.csv")
write_ref(lapply(ols_std, format, digits = 15), "ref_ols_std.csv")
write_ref(lapply(negbin, format, digits = 15), "ref_negbin.csv")
write_ref(lapply(vif, format, digits = 15), "ref_vif.csv")
cat(R.version.string, "| MASS", as.character(packageVersion("MASS")), "| sandwich",
    as.character(packageVersion("sandwich")), "\n", file = file.path(dir, "ref_versions.txt"))
