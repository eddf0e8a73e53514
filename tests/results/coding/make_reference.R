# Reference values for workbench/coding.py's compute_reliability (Cohen, Fleiss, Krippendorff), computed in R.
#
# Input:  tests/results/coding/codes.csv (written by tests/results/coding/make_data.py)
# Output: tests/results/coding/ref_kappa.csv (per code), ref_pairs.csv (Cohen's kappa of every coder pair)
# Run from the repository root:  Rscript tests/results/coding/make_reference.R
# Needs: base R only. irr is not packaged in Debian (no r-cran-irr), so irr::kappam.fleiss and irr::kappa2
#   (unweighted) are written out here with irr's formulas:
#   kappa2:        po = sum(diag(T))/n, pe = sum(rowSums(T) colSums(T))/n^2, (po - pe)/(1 - pe)
#   kappam.fleiss: (exact = FALSE) P = mean_i (sum_j n_ij^2 - m)/(m (m - 1)), Pe = sum_j (sum_i n_ij/(N m))^2
#   Krippendorff's alpha (nominal), from the coincidence matrix (Krippendorff 2004, ch. 11).
# Selection rules (as documented in compute_reliability): the "adjudicated" coder is not a rater; binary
#   spellings 1/0/true/false/1.0/0.0 (any case) are one value; the overlap = posts with >= 2 ratings;
#   Cohen's kappa of every pair on the posts both coded, the reported pair = most shared posts (ties: first
#   pair in coder-name order); Fleiss on the posts with the most common number m of ratings (ties: larger m).
dir <- file.path("tests", "results", "coding")
d <- read.csv(file.path(dir, "codes.csv"), colClasses = "character")
d <- d[tolower(d$coder) != "adjudicated", ]
bin <- c("0" = "0", "1" = "1", "0.0" = "0", "1.0" = "1", "false" = "0", "true" = "1")
kappa2 <- function(a, b) {
  lev <- sort(unique(c(a, b)))
  T <- table(factor(a, lev), factor(b, lev))
  n <- sum(T)
  po <- sum(diag(T)) / n
  pe <- sum(rowSums(T) * colSums(T)) / n^2
  (po - pe) / (1 - pe)
}
fleiss <- function(counts) {  # units x categories, every row sums to m
  N <- nrow(counts); m <- sum(counts[1, ])
  P <- mean((rowSums(counts^2) - m) / (m * (m - 1)))
  Pe <- sum((colSums(counts) / (N * m))^2)
  (P - Pe) / (1 - Pe)
}
kripp_nominal <- function(wide, lev) {  # units x coders, NA = not coded
  o <- matrix(0, length(lev), length(lev))
  for (u in seq_len(nrow(wide))) {
    v <- factor(wide[u, !is.na(wide[u, ])], lev)
    tu <- table(v)
    mu <- sum(tu)
    o <- o + (outer(as.vector(tu), as.vector(tu)) - diag(as.vector(tu))) / (mu - 1)
  }
  nc <- rowSums(o); n <- sum(nc)
  1 - (n - 1) * (sum(o) - sum(diag(o))) / (n^2 - sum(nc^2))
}

rows <- list(); pairs <- list()
for (code in unique(d$code)) {
  g <- d[d$code == code, ]
  if (all(tolower(g$value) %in% names(bin))) g$value <- unname(bin[tolower(g$value)])
  wide <- tapply(g$value, list(g$post_id, g$coder), function(x) x[length(x)])
  wide <- wide[rowSums(!is.na(wide)) >= 2, , drop = FALSE]
  wide <- wide[, colSums(!is.na(wide)) > 0, drop = FALSE]
  coders <- sort(colnames(wide))
  wide <- wide[, coders, drop = FALSE]
  lev <- sort(unique(as.vector(wide[!is.na(wide)])))
  best <- NULL
  for (i in seq_along(coders)) for (j in seq_along(coders)) if (i < j) {
    both <- !is.na(wide[, i]) & !is.na(wide[, j])
    if (sum(both) == 0) next
    k <- kappa2(wide[both, i], wide[both, j])
    pairs[[length(pairs) + 1]] <- data.frame(code = code, pair = paste(coders[i], "\u00d7", coders[j]),
                                             n = sum(both), kappa = k)
    if (is.null(best) || sum(both) > best$n) best <- list(pair = paste(coders[i], "\u00d7", coders[j]),
                                                          n = sum(both), kappa = k)
  }
  m_i <- rowSums(!is.na(wide))
  freq <- table(m_i)
  m <- max(as.integer(names(freq)[freq == max(freq)]))
  sel <- wide[m_i == m, , drop = FALSE]
  counts <- t(apply(sel, 1, function(r) as.vector(table(factor(r[!is.na(r)], lev)))))
  rows[[code]] <- data.frame(code = code, n_overlap = nrow(wide), cohen_kappa_pair = best$pair,
                             cohen_kappa_n = best$n, cohen_kappa = best$kappa, fleiss_kappa_raters = m,
                             fleiss_kappa_n = nrow(sel), fleiss_kappa = fleiss(counts),
                             krippendorff_alpha = kripp_nominal(wide, lev),
                             percent_agreement = mean(apply(wide, 1, function(r) length(unique(r[!is.na(r)])) == 1)))
}
write.csv(do.call(rbind, rows), file.path(dir, "ref_kappa.csv"), row.names = FALSE, fileEncoding = "UTF-8")
write.csv(do.call(rbind, pairs), file.path(dir, "ref_pairs.csv"), row.names = FALSE, fileEncoding = "UTF-8")
writeLines(R.version.string, file.path(dir, "ref_versions.txt"))
