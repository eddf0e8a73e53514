# Reference values for workbench/models.py, computed independently in R.
#
# Input:  tests/results/models/model_data.csv (written by tests/results/models/make_model_data.py)
# Output: tests/results/models/ref_ols_log.csv, ref_ols_std.csv, ref_negbin.csv, ref_vif.csv,
#         ref_negbin_rate.csv, ref_overdispersion.csv, ref_residual_checks.csv, ref_cooks.csv,
#         ref_sensitivity.csv
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
#   negbin_rate: glm.nb of engagements with offset(log(impressions)) on the posts with impressions > 0, same
#            sandwich
#   overdispersion: Poisson glm of the same design; Cameron-Trivedi auxiliary regression
#            ((y - mu)^2 - y)/mu ~ 0 + mu (AER::dispersiontest(trafo = 2), written out), one-sided normal p;
#            LR = 2 (logLik(glm.nb) - logLik(poisson)), p = pchisq(LR, 1, lower = FALSE) / 2 (boundary)
#   residual checks of ols_log: moment skewness / excess kurtosis, Koenker Breusch-Pagan n R^2 of
#            resid^2 ~ model matrix; cooks.distance(); the same lm without the controls on the same posts
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

nb_sandwich <- function(nb) {
  beta <- coef(nb)
  theta <- nb$theta
  Xn <- model.matrix(nb)
  yn <- nb$y
  mu <- as.vector(fitted(nb))  # includes the offset
  w <- theta + mu
  s_beta <- Xn * (theta * (yn - mu) / w)
  s_theta <- digamma(yn + theta) - digamma(theta) + log(theta) + 1 - log(w) - (yn + theta) / w
  S <- cbind(s_beta, s_theta)
  H_bb <- -crossprod(Xn, Xn * (theta * mu * (theta + yn) / w^2))
  H_bt <- colSums(Xn * ((yn - mu) * mu / w^2))
  H_tt <- sum(trigamma(yn + theta) - trigamma(theta) + 1 / theta - 1 / w - (mu - yn) / w^2)
  H <- rbind(cbind(H_bb, H_bt), c(H_bt, H_tt))
  Ainv <- solve(-H)
  list(V = Ainv %*% crossprod(S) %*% Ainv, score_sum_max = max(abs(colSums(S))))
}

overdispersion <- function(formula, data, nb, outcome, model) {
  pois <- glm(formula, data = data, family = poisson(), control = glm.control(epsilon = 1e-14, maxit = 100))
  y <- pois$y
  mu <- fitted(pois)
  aux <- ((y - mu)^2 - y) / mu
  auxreg <- lm(aux ~ 0 + mu)
  stat <- unname(coef(auxreg)[1] / sqrt(vcov(auxreg)[1, 1]))
  lr <- 2 * (as.numeric(logLik(nb)) - as.numeric(logLik(pois)))
  data.frame(outcome = outcome, model = model, n = length(y), ct_alpha = unname(coef(auxreg)[1]),
             ct_stat = stat, ct_p = pnorm(stat, lower.tail = FALSE),
             poisson_llf = as.numeric(logLik(pois)), nb_llf = as.numeric(logLik(nb)),
             lr_stat = lr, lr_p = pchisq(lr, 1, lower.tail = FALSE) / 2)
}

negbin_rate <- list(); overdisp <- list(); checks <- list(); cooks <- list(); sens <- list()
predictors <- c("has_poll", "has_graphic", "has_url", "has_emoji", "n_hashtags", "n_mentions")
for (outcome in c("impressions", "engagements")) {
  fit <- lm(as.formula(paste0("log1p(", outcome, ") ~ ", rhs)), data = d)
  used <- d[as.integer(rownames(model.frame(fit))), ]
  e <- residuals(fit)
  n <- length(e)
  m2 <- mean((e - mean(e))^2)
  aux <- lm(e^2 ~ model.matrix(fit) - 1)
  r2_aux <- summary(lm(e^2 ~ model.matrix(fit)[, -1]))$r.squared
  p <- ncol(model.matrix(fit))
  checks[[outcome]] <- data.frame(
    outcome = outcome, skew = mean((e - mean(e))^3) / m2^1.5, excess_kurtosis = mean((e - mean(e))^4) / m2^2 - 3,
    bp_stat = n * r2_aux, bp_df = p - 1, bp_p = pchisq(n * r2_aux, p - 1, lower.tail = FALSE), bp_r2 = r2_aux
  )
  cooks[[outcome]] <- data.frame(outcome = outcome, post_id = used$post_id, cook_d = unname(cooks.distance(fit)))
  fit0 <- lm(as.formula(paste0("log1p(", outcome, ") ~ ", paste(predictors, collapse = " + "))), data = used)
  V0 <- sandwich::vcovHC(fit0, type = "HC3")
  b0 <- coef(fit0)[predictors]
  se0 <- sqrt(diag(V0))[predictors]
  q0 <- qt(0.975, df.residual(fit0))
  V1 <- sandwich::vcovHC(fit, type = "HC3")
  b1 <- coef(fit)[predictors]
  se1 <- sqrt(diag(V1))[predictors]
  q1 <- qt(0.975, df.residual(fit))
  sens[[outcome]] <- data.frame(
    outcome = outcome, term = predictors,
    effect_pct_without_controls = 100 * expm1(b0), effect_pct_ci_low_without_controls = 100 * expm1(b0 - q0 * se0),
    effect_pct_ci_high_without_controls = 100 * expm1(b0 + q0 * se0),
    effect_pct_with_controls = 100 * expm1(b1), effect_pct_ci_low_with_controls = 100 * expm1(b1 - q1 * se1),
    effect_pct_ci_high_with_controls = 100 * expm1(b1 + q1 * se1), n = n
  )
  fnb <- as.formula(paste0(outcome, " ~ ", rhs))
  nb <- MASS::glm.nb(fnb, data = d, control = glm.control(epsilon = 1e-13, maxit = 200))
  overdisp[[paste(outcome, "negbin")]] <- overdispersion(fnb, d, nb, outcome, "negbin")
}

# Engagement rate: offset log(impressions), posts with impressions > 0 only.
dr <- d[!is.na(d$impressions) & d$impressions > 0, ]
frate <- as.formula(paste0("engagements ~ ", rhs, " + offset(log(impressions))"))
nbr <- MASS::glm.nb(frate, data = dr, control = glm.control(epsilon = 1e-13, maxit = 200))
nbr0 <- MASS::glm.nb(engagements ~ 1 + offset(log(impressions)), data = dr[rownames(model.frame(nbr)), ],
                     control = glm.control(epsilon = 1e-13, maxit = 200))
sw <- nb_sandwich(nbr)
beta <- coef(nbr)
se_r <- sqrt(diag(sw$V))[seq_along(beta)]
z <- qnorm(0.975)
negbin_rate[["engagements"]] <- data.frame(
  outcome = "engagements", term = rename_terms(names(beta)), estimate = unname(beta), std_error = unname(se_r),
  ci_low = unname(beta - z * se_r), ci_high = unname(beta + z * se_r),
  p_value = unname(2 * pnorm(-abs(beta / se_r))), n = length(nbr$y),
  theta = nbr$theta, alpha = 1 / nbr$theta, score_sum_max = sw$score_sum_max,
  pseudo_r2 = 1 - as.numeric(logLik(nbr)) / as.numeric(logLik(nbr0))
)
overdisp[["engagements negbin_rate"]] <- overdispersion(frate, dr, nbr, "engagements", "negbin_rate")

write_ref <- function(x, name) {
  write.csv(do.call(rbind, x), file.path(dir, name), row.names = FALSE)
}
options(digits = 15)
write_ref(lapply(ols_log, format, digits = 15), "ref_ols_log.csv")
write_ref(lapply(ols_std, format, digits = 15), "ref_ols_std.csv")
write_ref(lapply(negbin, format, digits = 15), "ref_negbin.csv")
write_ref(lapply(vif, format, digits = 15), "ref_vif.csv")
write_ref(lapply(negbin_rate, format, digits = 15), "ref_negbin_rate.csv")
write_ref(lapply(overdisp, format, digits = 15), "ref_overdispersion.csv")
write_ref(lapply(checks, format, digits = 15), "ref_residual_checks.csv")
write_ref(lapply(cooks, format, digits = 15), "ref_cooks.csv")
write_ref(lapply(sens, format, digits = 15), "ref_sensitivity.csv")
cat(R.version.string, "| MASS", as.character(packageVersion("MASS")), "| sandwich",
    as.character(packageVersion("sandwich")), "\n", file = file.path(dir, "ref_versions.txt"))
