"""Agreement with R mclust, the reference implementation of these six models.

latentmix's covariance types are mclust's models (:data:`latentmix.params.MCLUST_NAMES`):
full = VVV, tied = EEE, diag = VVI, spherical = VII, tied_diag = EEI, tied_spherical = EII,
and in one dimension V (full, diag, spherical) and E (the shared types). BIC is mclust's,
larger is better: ``2 log L - p log n``, with a prior ``log L`` at the MAP (Fraley & Raftery
2007).

Every reference value below was computed by R 4.2.2 with mclust 6.0.0 (Debian
r-cran-mclust) from the CSV files shipped in ``latentmix/datasets/data``; the R code sits in
the comment above each table, after this preamble, which every table's code starts with::

    library(mclust)
    d <- "latentmix/datasets/data/"
    data <- list(
      faithful = as.matrix(read.csv(paste0(d, "faithful.csv"))),
      iris = as.matrix(read.csv(paste0(d, "iris.csv"))[, 1:4]),
      galaxies = as.matrix(read.csv(paste0(d, "galaxies.csv"))) / 1000,  # as load() does
      acidity = as.matrix(read.csv(paste0(d, "acidity.csv"))))
    f <- function(x) paste(sprintf("%.17g", x), collapse = ", ")
    ctl <- emControl(tol = c(1e-13, 1e-13))   # converged fits: no early stop at 1e-5
    ours <- function(m) {  # the covariances in latentmix's shape for each model
      v <- m$parameters$variance
      switch(m$modelName, VVV = f(aperm(v$sigma, c(3, 1, 2))), EEE = f(v$Sigma),
        VVI = f(t(apply(v$sigma, 3, diag))), VII = f(v$sigmasq), EEI = f(diag(v$Sigma)),
        EII = f(v$sigmasq))
    }

R flattens arrays column-major, so the flat lists are reshaped with ``order="F"``.

The prior. mclust's ``priorControl()`` is its ``defaultPrior``: shrinkage (our
``mean_precision``) 0.01, the data mean, d + 2 degrees of freedom and, for VVV and EEE, the
scale ``var(X) / G^(2/d)``; for the diagonal and spherical models one number, the mean
variance over ``G^(2/d)`` (ours keeps one per feature for diag and tied_diag, so here it is
``np.full(d, s)``). mclust has no prior on the weights: ours with concentration 1. With that
prior, the M-steps of VVV, EEE, VVI, VII, V and E are ours to rounding; EEI and EII are not,
and :mod:`latentmix.em.mstep` says why we keep the textbook update (the tests below show
the differences term by term).

The tests do not need R.
"""

import numpy as np
import pytest

from latentmix import ConjugatePrior, EMGaussianMixture, MixtureParams
from latentmix.datasets import load
from latentmix.em.estep import log_likelihood, responsibilities
from latentmix.em.fit import EMOptions, run_em
from latentmix.em.information import objective_derivatives
from latentmix.em.mstep import m_step, sufficient_statistics
from latentmix.params import covariances_shape, mclust_name, n_parameters
from latentmix.priors import log_prior

#: mclust's model name -> our covariance type (1-D: V and E stand for full and tied).
TYPES = {
    "VVV": "full",
    "EEE": "tied",
    "VVI": "diag",
    "VII": "spherical",
    "EEI": "tied_diag",
    "EII": "tied_spherical",
    "V": "full",
    "E": "tied",
}
#: The models whose MAP M-step mclust computes as the textbook does (see the module doc).
TEXTBOOK_MAP = ("VVV", "EEE", "VVI", "VII", "V", "E")

#: The hard starting partitions (0-based here, 1-based in R), the same rule on both sides.
#:
#:     starts <- list(
#:       "faithful 2" = function(X) 1 + (X[, 1] > 3),
#:       "faithful 3" = function(X) as.integer(cut(X[, 2], c(0, 60, 80, 100))),
#:       "iris 2" = function(X) 1 + (X[, 3] > 2.5),
#:       "iris 3" = function(X) as.integer(cut(X[, 3], c(0, 2.5, 4.85, 10))),
#:       "galaxies 3" = function(X) as.integer(cut(X[, 1], c(0, 15, 26, 40))),
#:       "galaxies 4" = function(X) as.integer(cut(X[, 1], c(0, 15, 21, 26, 40))),
#:       "acidity 2" = function(X) 1 + (X[, 1] > 5))
STARTS = {
    ("faithful", 2): lambda X: (X[:, 0] > 3).astype(int),
    ("faithful", 3): lambda X: np.digitize(X[:, 1], [60, 80], right=True),
    ("iris", 2): lambda X: (X[:, 2] > 2.5).astype(int),
    ("iris", 3): lambda X: np.digitize(X[:, 2], [2.5, 4.85], right=True),
    ("galaxies", 3): lambda X: np.digitize(X[:, 0], [15, 26], right=True),
    ("galaxies", 4): lambda X: np.digitize(X[:, 0], [15, 21, 26], right=True),
    ("acidity", 2): lambda X: (X[:, 0] > 5).astype(int),
}


# Log-likelihoods and BIC of every cell.
#
#     for (cell in names(starts)) {
#       nm <- strsplit(cell, " ")[[1]]
#       X <- data[[nm[1]]]; G <- as.integer(nm[2]); z <- unmap(starts[[cell]](X))
#       models <- if (ncol(X) == 1) c("V", "E") else c("VVV", "EEE", "VVI", "VII", "EEI", "EII")
#       for (model in models) {
#         a <- me(modelName = model, data = X, z = z, control = ctl)
#         b <- me(modelName = model, data = X, z = z, control = ctl, prior = priorControl())
#         A <- Mclust(X, G = G, modelNames = model, control = ctl, verbose = FALSE)
#         B <- Mclust(X, G = G, modelNames = model, control = ctl, prior = priorControl(),
#                     verbose = FALSE)
#         cat(sprintf('("%s", %d, "%s"): (%s, %s, %s, %s, %s, %s),\n', nm[1], G, model,
#           f(a$loglik), f(b$loglik), f(A$loglik), f(A$bic), f(B$loglik), f(B$bic)))
#       }
#     }
#
# (me: EM from the start above, MLE then MAP; Mclust: mclust's own start, its hierarchical
# clustering, MLE then MAP; loglik is the log-likelihood, at the MAP for the MAP.)
FITS = {
    ("faithful", 2, "VVV"): (
        -1130.2639601847434,
        -1130.5092636712245,
        -1130.2639601847461,
        -2322.1917430987482,
        -1130.5092636712106,
        -2322.6823500716773,
    ),
    ("faithful", 2, "EEE"): (
        -1140.1867594370817,
        -1140.2609354816159,
        -1140.1867594370824,
        -2325.2199354045329,
        -1140.2609354816152,
        -2325.3682874935985,
    ),
    ("faithful", 2, "VVI"): (
        -1147.8063525378113,
        -1229.215689930104,
        -1147.8063525378109,
        -2346.0649236722857,
        -1229.2156899301065,
        -2508.8835984568768,
    ),
    ("faithful", 2, "VII"): (
        -1709.5292821774362,
        -1709.5808296066721,
        -1709.5292821774328,
        -3458.2991788189374,
        -1709.5808296066696,
        -3458.4022736774109,
    ),
    ("faithful", 2, "EEI"): (
        -1157.6800123416915,
        -1192.4082844120044,
        -1157.6800123416922,
        -2354.6006391474561,
        -1192.4082844120048,
        -2424.0571832880814,
    ),
    ("faithful", 2, "EII"): (
        -1709.6813729497353,
        -1709.7258110446951,
        -1709.6813729497358,
        -3452.9975582972475,
        -1709.7258110446953,
        -3453.0864344871666,
    ),
    ("faithful", 3, "VVV"): (
        -1119.2139705945146,
        -1125.0811753948094,
        -1127.0716674033185,
        -2349.441969933669,
        -1128.1349931920961,
        -2351.5686215112241,
    ),
    ("faithful", 3, "EEE"): (
        -1126.3159278238388,
        -1126.4271792123029,
        -1126.3159278238422,
        -2314.2956783769405,
        -1126.427179210425,
        -2314.5181811501061,
    ),
    ("faithful", 3, "VVI"): (
        -1131.8185348401144,
        -1201.8589089245081,
        -1131.8185348401585,
        -2342.1182986084609,
        -1204.9848588651234,
        -2488.4509466583909,
    ),
    ("faithful", 3, "VII"): (
        -1637.4344179988984,
        -1637.5033579345579,
        -1637.4344179988975,
        -3336.5326587270511,
        -1637.5033579333897,
        -3336.6705385960354,
    ),
    ("faithful", 3, "EEI"): (
        -1133.4553999246064,
        -1167.5924441875543,
        -1133.4553999246682,
        -2322.9688205122966,
        -1167.5924441876127,
        -2391.2429090381856,
    ),
    ("faithful", 3, "EII"): (
        -1663.539599754549,
        -1663.6119021550471,
        -1663.5395997545238,
        -3377.5314181057115,
        -1663.611902159299,
        -3377.6760229152619,
    ),
    ("iris", 2, "VVV"): (
        -214.35470437051239,
        -223.60219841317587,
        -214.35470437051231,
        -574.01783226981604,
        -223.60219841317573,
        -592.51282035514282,
    ),
    ("iris", 2, "EEE"): (
        -296.44757476927475,
        -297.19420854737672,
        -296.44757476927475,
        -688.09722012637837,
        -297.19420854737672,
        -689.59048768258231,
    ),
    ("iris", 2, "VVI"): (
        -386.18534693448674,
        -393.1146482243156,
        -386.18534693448674,
        -857.5514938686099,
        -393.1146482243156,
        -871.4100964482675,
    ),
    ("iris", 2, "VII"): (
        -478.55909576907652,
        -478.61583394207025,
        -478.55909576907675,
        -1012.2351797732123,
        -478.61583394207025,
        -1012.3486561191993,
    ),
    ("iris", 2, "EEI"): (
        -488.9148186904614,
        -489.02765079950672,
        -488.9148186904626,
        -1042.9678962041764,
        -489.02765079949836,
        -1043.1935604222481,
    ),
    ("iris", 2, "EII"): (
        -536.65247138096777,
        -536.75353096983247,
        -536.65247138096902,
        -1123.4112957029006,
        -536.75353096982917,
        -1123.6134148806209,
    ),
    ("iris", 3, "VVV"): (
        -180.1854771313063,
        -192.69528386484834,
        -180.18547713130758,
        -580.83890720285035,
        -192.69528386484401,
        -605.85852066992334,
    ),
    ("iris", 3, "EEE"): (
        -256.35404312559535,
        -257.73937660891073,
        -256.35404312559291,
        -632.96333330949597,
        -257.73937660908859,
        -635.73400027648734,
    ),
    ("iris", 3, "VVI"): (
        -306.86046050633877,
        -312.90408706840157,
        -307.17757159801073,
        -744.63166084252407,
        -312.88563852089698,
        -756.04779468829656,
    ),
    ("iris", 3, "VII"): (
        -384.31409506084236,
        -384.4786762160648,
        -384.31409506084731,
        -853.80899012133091,
        -384.478676216081,
        -854.13815243179829,
    ),
    ("iris", 3, "EEI"): (
        -361.42552204279656,
        -362.15097933338933,
        -361.42552204279417,
        -813.04247937932098,
        -362.15097933358294,
        -814.49339396089852,
    ),
    ("iris", 3, "EII"): (
        -401.80217578899135,
        -401.95318529561405,
        -401.80217578899129,
        -878.76388098942641,
        -401.95318529561462,
        -879.06590000267306,
    ),
    ("galaxies", 3, "V"): (
        -203.17922796512596,
        -204.04714504395056,
        -212.08040425491694,
        -459.41456248794793,
        -212.8403049578726,
        -460.93436389385926,
    ),
    ("galaxies", 3, "E"): (
        -212.35185518034419,
        -212.48409817618247,
        -212.35185518034424,
        -451.14402584427398,
        -212.48409817618153,
        -451.40851183594862,
    ),
    ("galaxies", 4, "V"): (
        -199.25269396509563,
        -206.28263895341448,
        -199.25269396510058,
        -446.97929965010792,
        -201.02654984144979,
        -450.52701140280635,
    ),
    ("galaxies", 4, "E"): (
        -207.72233003921423,
        -207.92391910138815,
        -207.72233003922329,
        -450.69841405656064,
        -207.92391910137897,
        -451.10159218087199,
    ),
    ("acidity", 2, "V"): (
        -184.64470890117241,
        -184.80048968857599,
        -187.23451321740316,
        -399.68615201940258,
        -187.4084314340588,
        -400.03398845271386,
    ),
    ("acidity", 2, "E"): (
        -185.94926449648344,
        -185.99936808837504,
        -185.94926449648332,
        -392.07222946064365,
        -185.99936808837435,
        -392.17243664442572,
    ),
}

# mclust's M-step from fixed soft responsibilities on faithful, MLE and with priorControl().
#
#     X <- data$faithful
#     z1 <- 1 / (1 + exp(-2 * (X[, 1] - 3.5))); z <- cbind(z1, 1 - z1)
#     for (model in c("VVV", "EEE", "VVI", "VII", "EEI", "EII"))
#       for (pr in c("none", "default")) {
#         m <- if (pr == "none") mstep(modelName = model, data = X, z = z) else
#           mstep(modelName = model, data = X, z = z, prior = priorControl())
#         cat(sprintf('("%s", "%s"): ([%s], [%s], [%s]),\n', model, pr,
#           f(m$parameters$pro), f(t(m$parameters$mean)), ours(m)))
#       }
MSTEP = {
    ("VVV", "none"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737546951026513, 2.578072337101077, 79.397100206725298, 61.058816622645395],
        [
            0.31384526353288827,
            0.89438245574839714,
            2.7232975825962633,
            10.210765560268724,
            2.7232975825962633,
            10.210765560268724,
            56.683598887433085,
            151.25420657936417,
        ],
    ),
    ("VVV", "default"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737008372086436, 2.5781444873147827, 79.396517750153251, 61.059596905033395],
        [
            0.30180544653987623,
            0.84593652404788233,
            2.6275968398486151,
            9.6543056734418204,
            2.6275968398486151,
            9.6543056734418204,
            54.342613155134757,
            142.92566924174096,
        ],
    ),
    ("EEE", "none"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737546951026513, 2.578072337101077, 79.397100206725298, 61.058816622645395],
        [0.58293206959581145, 6.193839815939274, 6.193839815939274, 100.51834903347468],
    ),
    ("EEE", "default"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737008372086436, 2.5781444873147827, 79.396517750153251, 61.059596905033395],
        [0.56663110059428579, 6.0208883617134203, 6.0208883617134203, 97.633782505824058],
    ),
    ("VVI", "none"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737546951026513, 2.578072337101077, 79.397100206725298, 61.058816622645395],
        [0.31384526353288933, 0.89438245574839847, 56.683598887433014, 151.25420657936397],
    ),
    ("VVI", "default"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737008372086436, 2.5781444873147827, 79.396517750153251, 61.059596905033395],
        [0.60379760995903653, 1.1970607008453147, 54.397950763927717, 143.65491996456285],
    ),
    ("VII", "none"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737546951026513, 2.578072337101077, 79.397100206725298, 61.058816622645395],
        [28.498722075482934, 76.074294517556197],
    ),
    ("VII", "default"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737008372086436, 2.5781444873147827, 79.396517750153251, 61.059596905033395],
        [27.895985938342779, 73.917523889696],
    ),
    ("EEI", "none"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737546951026513, 2.578072337101077, 79.397100206725298, 61.058816622645395],
        [0.58293206959581267, 100.51834903347446],
    ),
    ("EEI", "default"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737546951026513, 2.578072337101077, 79.397100206725298, 61.058816622645395],
        [0.73251244739812515, 97.818616921900173],
    ),
    ("EII", "none"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737546951026513, 2.578072337101077, 79.397100206725298, 61.058816622645395],
        [50.550640551535132],
    ),
    ("EII", "default"): (
        [0.53648653407371882, 0.46351346592628118],
        [4.2737008372086436, 2.5781444873147827, 79.396517750153251, 61.059596905033395],
        [49.641251498929464],
    ),
}

# mclust's EEI and EII MAP from the same start (weights, means, covariances).
#
#     for (cell in list(list("faithful", 1 + (data$faithful[, 1] > 3)),
#                       list("iris", as.integer(cut(data$iris[, 3], c(0, 2.5, 4.85, 10)))))) {
#       X <- data[[cell[[1]]]]; z <- unmap(cell[[2]])
#       for (model in c("EEI", "EII")) {
#         b <- me(modelName = model, data = X, z = z, control = ctl, prior = priorControl())
#         cat(sprintf('("%s", %d, "%s"): ([%s], [%s], [%s]),\n', cell[[1]], ncol(z), model,
#           f(b$parameters$pro), f(t(b$parameters$mean)), ours(b)))
#       }
#     }
MAP_SAME_START = {
    ("faithful", 2, "EEI"): (
        [0.36137163537449668, 0.63862836462550354],
        [2.0562547573948811, 4.2978218567201223, 54.641650254337982, 80.095277856243413],
        [0.3028364133651702, 34.055674054074139],
    ),
    ("faithful", 2, "EII"): (
        [0.36580311087198075, 0.63419688912801941],
        [2.0944886811891794, 4.2914658468461671, 54.701310436060339, 80.239121546227153],
        [16.206625264099014],
    ),
    ("iris", 3, "EEI"): (
        [0.33333361215071339, 0.4101467843151026, 0.2565196035341839],
        [
            5.0060000608543636,
            5.9263600021745653,
            6.7986529255808303,
            3.427999210930504,
            2.7533700901251272,
            3.061676669499481,
            1.4620013174112285,
            4.3961165288895527,
            5.7212499235136143,
            0.24600070404227528,
            1.4072853066884476,
            2.1056460382341271,
        ],
        [0.20409982813688279, 0.10389015974918409, 0.17810927147867892, 0.047716304155066835],
    ),
    ("iris", 3, "EII"): (
        [0.33338790199194229, 0.41376561321449279, 0.2528464847935647],
        [
            5.0061825486084883,
            5.9032848445546131,
            6.8489824337582697,
            3.4277738632512009,
            2.748026175894656,
            3.075031895085206,
            1.4627111277837461,
            4.4004609408743445,
            5.7330000427071317,
            0.2463302159792741,
            1.4320770414411923,
            2.0749951278848164,
        ],
        [0.12890340301067801],
    ),
}

# Mclust's own optima where they are not ours: weights, means, covariances (MLE, then MAP).
#
#     for (cell in list(c("faithful", 3, "VVV"), c("faithful", 3, "VVI"), c("iris", 3, "VVV"),
#                       c("iris", 3, "VVI"), c("galaxies", 3, "V"), c("galaxies", 4, "V"),
#                       c("acidity", 2, "V"))) {
#       X <- data[[cell[1]]]; G <- as.integer(cell[2])
#       for (pr in c("none", "default")) {
#         m <- if (pr == "none")
#           Mclust(X, G = G, modelNames = cell[3], control = ctl, verbose = FALSE) else
#           Mclust(X, G = G, modelNames = cell[3], control = ctl, prior = priorControl(),
#                  verbose = FALSE)
#         cat(sprintf('("%s", %d, "%s", "%s"): ([%s], [%s], [%s]),\n', cell[1], G, cell[3],
#           pr, f(m$parameters$pro), f(t(m$parameters$mean)), ours(m)))
#       }
#     }
#
# (with ours() also giving sigmasq for the 1-D models V and E)
MCLUST_OPTIMA = {
    ("faithful", 3, "VVV", "none"): (
        [0.089322489192222645, 0.35583898830358318, 0.55483852250419374],
        [
            4.1153845706859107,
            2.0363124990358608,
            4.3176297565989445,
            87.245091182100779,
            54.477620180562475,
            78.795626269394617,
        ],
        [
            0.18695504652070696,
            0.069112041829162515,
            0.16168188084264129,
            1.3515469834826142,
            0.4345610713062506,
            1.1127397288469281,
            1.3515469834826142,
            0.4345610713062506,
            1.1127397288469281,
            17.033485671456305,
            33.692938020921325,
            29.220274840175957,
        ],
    ),
    ("faithful", 3, "VVV", "default"): (
        [0.081316471606279736, 0.35595645876274234, 0.56272706963097774],
        [
            4.0962750916066204,
            2.0367340167351409,
            4.3177242005324841,
            87.525306014461322,
            54.482279442988109,
            78.876939951313815,
        ],
        [
            0.14586858199786742,
            0.068372735488300571,
            0.15691193132750442,
            1.1431410781746194,
            0.45016821819965713,
            1.0947373579671149,
            1.1431410781746194,
            0.45016821819965713,
            1.0947373579671149,
            13.653151228891154,
            31.751846341204903,
            28.413552602839484,
        ],
    ),
    ("faithful", 3, "VVI", "none"): (
        [0.48529410335633238, 0.35515400902542527, 0.15955188761824252],
        [
            4.4518058355201413,
            2.0346175663483925,
            3.7902740636628387,
            81.371082875286035,
            54.460044240260565,
            75.627115773611493,
        ],
        [
            0.087206907479244658,
            0.067750089507280481,
            0.10014747472290368,
            27.370260328047589,
            33.594231617549397,
            38.653055607115299,
        ],
    ),
    ("faithful", 3, "VVI", "default"): (
        [1.2462055795026344e-10, 0.36361967938049328, 0.63638032049488613],
        [
            3.4877817042766384,
            2.0655579100575268,
            4.3004598108816676,
            70.89705721171633,
            54.708741645634362,
            80.147259670758046,
        ],
        [
            4.4315723790822688,
            0.39255512256757424,
            0.3281858210981824,
            4.4315723907855888,
            33.417620104107108,
            32.629343757058862,
        ],
    ),
    ("iris", 3, "VVV", "none"): (
        [0.33333333333333331, 0.2991932302632902, 0.3674734364033766],
        [
            5.0059999999999993,
            5.9149696217091643,
            6.5445486949384595,
            3.4280000000000004,
            2.7778436497823233,
            2.9486611672591874,
            1.4620000000000002,
            4.201553296465991,
            5.4795535249609397,
            0.24599999999999989,
            1.2969668799840031,
            1.9846050101043913,
        ],
        [
            0.12176400000000009,
            0.27531878282386524,
            0.38704429472083313,
            0.097231999999999971,
            0.096941373478634657,
            0.092207920491584092,
            0.016027999999999987,
            0.18466240281918267,
            0.30281171465514017,
            0.010123999999999999,
            0.054390744928068079,
            0.061651027851965363,
            0.097231999999999971,
            0.096941373478634657,
            0.092207920491584092,
            0.14081599999999986,
            0.092646039353943235,
            0.11033770350786601,
            0.011463999999999967,
            0.091143170971474674,
            0.084287568793776815,
            0.0091120000000000003,
            0.042997347006844475,
            0.056011496914834938,
            0.016027999999999987,
            0.18466240281918267,
            0.30281171465514017,
            0.011463999999999967,
            0.091143170971474674,
            0.084287568793776815,
            0.029556000000000051,
            0.20063044025093957,
            0.32779730973692822,
            0.0059480000000000002,
            0.060978482095383604,
            0.074530002835870815,
            0.010123999999999999,
            0.054390744928068079,
            0.061651027851965363,
            0.0091120000000000003,
            0.042997347006844475,
            0.056011496914834938,
            0.0059480000000000002,
            0.060978482095383604,
            0.074530002835870815,
            0.010884000000000001,
            0.031996959616008153,
            0.085797711114869085,
        ],
    ),
    ("iris", 3, "VVV", "default"): (
        [0.33333333332586057, 0.31380879925020172, 0.35285786742393771],
        [
            5.0061674331913766,
            5.9368796672520396,
            6.5509894689461881,
            3.4279258815156499,
            2.7626679660375655,
            2.9693050918517851,
            1.4624591081820089,
            4.2301260230902056,
            5.5066587024511353,
            0.24619062853975374,
            1.3088216998521944,
            2.0023720522134254,
        ],
        [
            0.10469508391738488,
            0.22299409785383006,
            0.3345286503293961,
            0.077967703558141851,
            0.071551201099092118,
            0.071682135817088599,
            0.025102382083065766,
            0.16345330474246927,
            0.2644976940427321,
            0.013100806540334341,
            0.050954064795383253,
            0.054298001873143938,
            0.077967703558141851,
            0.071551201099092118,
            0.071682135817088599,
            0.11535255371080769,
            0.078323864364191753,
            0.084568756017772403,
            0.0060381289929815982,
            0.062563027877225175,
            0.053644026334128139,
            0.0061586853659578835,
            0.029747411326844459,
            0.03776604595092832,
            0.025102382083065766,
            0.16345330474246927,
            0.2644976940427321,
            0.0060381289929815982,
            0.062563027877225175,
            0.053644026334128139,
            0.053704668965006572,
            0.19942250774705783,
            0.28822656018095949,
            0.017214590162273464,
            0.06530074074971462,
            0.06425488614581365,
            0.013100806540334341,
            0.050954064795383253,
            0.054298001873143938,
            0.0061586853659578835,
            0.029747411326844459,
            0.03776604595092832,
            0.017214590162273464,
            0.06530074074971462,
            0.06425488614581365,
            0.014334366936174714,
            0.03268627335897395,
            0.071163496059804016,
        ],
    ),
    ("iris", 3, "VVI", "none"): (
        [0.33333333330863935, 0.41399203229215348, 0.25267463439920718],
        [
            5.0059999999974858,
            5.9277566570395122,
            6.8096374038540652,
            3.4279999999999724,
            2.750394993209853,
            3.0712424131982874,
            1.461999999986614,
            4.4063703215513073,
            5.7246128630825224,
            0.24599999997693645,
            1.4135411982997144,
            2.1060227956779065,
        ],
        [
            0.12176400000870431,
            0.23200644258104916,
            0.28452563304541201,
            0.14081600000955188,
            0.087354069326544881,
            0.082164406251440128,
            0.029555999999509353,
            0.27625131748701764,
            0.24857251054997417,
            0.010883999993388845,
            0.0691560691904297,
            0.060197679390682116,
        ],
    ),
    ("iris", 3, "VVI", "default"): (
        [0.33333333333228959, 0.41852370383913889, 0.24814296282857176],
        [
            5.0061674331798125,
            5.9273650849863939,
            6.826116433036896,
            3.427925881490522,
            2.7511975748868895,
            3.0758254643891885,
            1.4624591081776743,
            4.4118290716447008,
            5.7387723857602202,
            0.24619062854012108,
            1.4187031513640938,
            2.1096593542426429,
        ],
        [
            0.11449592143508565,
            0.21010331035479302,
            0.23493712116848869,
            0.13054615523014929,
            0.085277990373166149,
            0.08001034593091895,
            0.037128052786275324,
            0.25058218613364303,
            0.20948681230280156,
            0.020565019027574551,
            0.071358836465154202,
            0.062882937923704141,
        ],
    ),
    ("galaxies", 3, "V", "none"): (
        [0.26459519723204067, 0.36920305241231932, 0.36620175035564012],
        [19.381741984289935, 19.816866233605506, 22.892865415957743],
        [66.001195739410889, 0.4119464685859312, 1.2723046152342703],
    ),
    ("galaxies", 3, "V", "default"): (
        [0.30067037066089725, 0.37405253501027275, 0.32527709432883012],
        [19.72280303666788, 19.866366144566896, 22.955923908126412],
        [48.02278803016074, 0.42128158199375937, 0.82924124574830083],
    ),
    ("galaxies", 4, "V", "none"): (
        [0.084410704844939413, 0.38681131905414567, 0.36650633423465812, 0.16227164186625689],
        [9.7074772936603733, 19.80740649787657, 22.881416500346781, 24.408717181920732],
        [0.1772954144812052, 0.43661870699062527, 1.227445632341325, 33.724753780834511],
    ),
    ("galaxies", 4, "V", "default"): (
        [0.08514356956921558, 0.38807681003477013, 0.29832582751185666, 0.22845379288415779],
        [9.725457444057314, 19.84614609633152, 22.893279383449737, 23.941240714055436],
        [0.29125325601599228, 0.40536300175180451, 0.68455969513713144, 19.152845567969987],
    ),
    ("acidity", 2, "V", "none"): (
        [0.47916400462027098, 0.52083599537972902],
        [4.2505417758610067, 5.8912783301270464],
        [0.067804980492758404, 0.71822845947818625],
    ),
    ("acidity", 2, "V", "default"): (
        [0.49209519311755423, 0.50790480688244555],
        [4.2552001419241838, 5.928541258927301],
        [0.068389419003908783, 0.63238575348536497],
    ),
}


# --- helpers ---------------------------------------------------------------------------------


def data(name):
    return load(name).data


def mclust_prior(X, n_components, covariance_type) -> ConjugatePrior:
    """mclust's defaultPrior(X, G, model) as a ConjugatePrior (see the module docstring)."""
    d = X.shape[1]
    cov = np.atleast_2d(np.cov(X, rowvar=False)) / n_components ** (2.0 / d)
    if covariance_type in ("full", "tied"):
        scale = cov
    else:
        s = np.trace(cov) / d
        scale = np.full(d, s) if covariance_type in ("diag", "tied_diag") else s
    return ConjugatePrior(1.0, X.mean(axis=0), 0.01, d + 2.0, scale)


def from_r(pro, mean, covariances, covariance_type, d) -> MixtureParams:
    """A MixtureParams from R's column-major flat lists."""
    K = len(pro)
    shape = covariances_shape(covariance_type, K, d)
    return MixtureParams(
        np.asarray(pro),
        np.reshape(mean, (K, d), order="F"),
        np.reshape(np.asarray(covariances, dtype=float), shape, order="F"),
        covariance_type,
    )


def em_from(X, start, prior, n_iter=300):
    """EM from ``start`` for a fixed number of iterations (tol 0: converged to rounding)."""
    return run_em(X, start, EMOptions(prior=prior, tol=0.0, max_iter=n_iter))


def start_from_labels(X, labels, K, covariance_type, prior, blur=0.0):
    """mclust's me(): EM begins with the M-step from the hard start z.

    ``blur`` mixes the hard z with a uniform one, so that a class that is empty in a
    classification still starts with a little weight.
    """
    resp = (1 - blur) * np.eye(K)[labels] + blur / K
    return m_step(sufficient_statistics(X, resp, covariance_type, X.mean(axis=0)), prior)


# --- the number of parameters and BIC --------------------------------------------------------


@pytest.mark.parametrize("cell", list(FITS), ids=[" ".join(map(str, c)) for c in FITS])
def test_parameter_counts_are_mclusts(cell):
    # mclust's df from its own BIC: (2 log L - BIC) / log n.
    name, K, model = cell
    n, d = data(name).shape
    _, _, ll, bic, ll_map, bic_map = FITS[cell]
    assert mclust_name(TYPES[model], d) == model
    assert (2 * ll - bic) / np.log(n) == pytest.approx(n_parameters(K, d, TYPES[model]))
    assert (2 * ll_map - bic_map) / np.log(n) == pytest.approx(n_parameters(K, d, TYPES[model]))


# --- the M-step from the same responsibilities, term by term ----------------------------------


def faithful_soft_z():
    # R: z1 <- 1 / (1 + exp(-2 * (X[, 1] - 3.5))); z <- cbind(z1, 1 - z1)
    X = data("faithful")
    z1 = 1 / (1 + np.exp(-2 * (X[:, 0] - 3.5)))
    return X, np.column_stack([z1, 1 - z1])


@pytest.mark.parametrize("key", list(MSTEP), ids=[" ".join(k) for k in MSTEP])
def test_m_step_against_mclusts_mstep(key):
    model, prior_name = key
    covariance_type = TYPES[model]
    X, z = faithful_soft_z()
    prior = None if prior_name == "none" else mclust_prior(X, 2, covariance_type)
    ours = m_step(sufficient_statistics(X, z, covariance_type, X.mean(axis=0)), prior)
    theirs = from_r(*MSTEP[key], covariance_type, 2)
    np.testing.assert_allclose(ours.weights, theirs.weights, rtol=1e-13)
    if (model, prior_name) == ("EEI", "default"):
        # mclust's EEI MAP keeps the component averages as the means (no shrinkage to m0)
        # but its variances are the textbook ones, which assume the shrunk means.
        mle = m_step(sufficient_statistics(X, z, covariance_type, X.mean(axis=0)))
        np.testing.assert_allclose(theirs.means, mle.means, rtol=1e-13)
        assert not np.allclose(theirs.means, ours.means, rtol=1e-6)
        np.testing.assert_allclose(ours.covariances, theirs.covariances, rtol=1e-12)
        return
    np.testing.assert_allclose(ours.means, theirs.means, rtol=1e-13)
    if (model, prior_name) == ("EII", "default"):
        assert not np.allclose(ours.covariances, theirs.covariances, rtol=1e-4)
        return  # term by term in the next test
    np.testing.assert_allclose(ours.covariances, theirs.covariances, rtol=1e-12)


def test_mclusts_eii_map_variance_drops_the_scale_and_counts_the_shift_twice():
    # Ours (textbook): sigma^2 = [s + W + sum_k b_k |xbar_k - m0|^2] / (nu + (N + K) d + 2),
    # which is also [s + sum_ik z_ik |x_i - mu_k|^2 + kappa sum_k |mu_k - m0|^2] / (same),
    # mu_k the shrunk means. mclust's mstepEII (Fortran mseiip) gives, to rounding,
    # [sum_ik z_ik |x_i - mu_k|^2 + kappa sum_k |mu_k - m0|^2 + sum_k N_k |xbar_k - mu_k|^2]
    # over the same denominator: no prior scale s, and the shift of each mean from its
    # component average counted a second time. Probed in R with G = 1 and 2, shrinkage 0 to
    # 100 and scale 1 or 50 (the scale never changed mclust's variance).
    X, z = faithful_soft_z()
    prior = mclust_prior(X, 2, "tied_spherical")
    N, d = X.shape
    K, nu, kappa, m0, s = (
        2,
        prior.degrees_of_freedom,
        prior.mean_precision,
        prior.mean,
        prior.scale,
    )
    nk = z.sum(axis=0)
    xbar = z.T @ X / nk[:, None]
    mu = (nk[:, None] * xbar + kappa * m0) / (nk + kappa)[:, None]
    around_mu = sum((z[:, k] * ((X - mu[k]) ** 2).sum(axis=1)).sum() for k in range(K))
    prior_term = kappa * ((mu - m0) ** 2).sum()
    shift = (nk * ((xbar - mu) ** 2).sum(axis=1)).sum()
    denominator = nu + (N + K) * d + 2
    theirs = from_r(*MSTEP[("EII", "default")], "tied_spherical", 2)
    assert float(theirs.covariances) == pytest.approx(
        (around_mu + prior_term + shift) / denominator, rel=1e-12
    )
    ours = m_step(sufficient_statistics(X, z, "tied_spherical", X.mean(axis=0)), prior)
    assert float(ours.covariances) == pytest.approx(
        (s + around_mu + prior_term) / denominator, rel=1e-12
    )


# --- full fits from the same start -------------------------------------------------------------


@pytest.mark.parametrize("cell", list(FITS), ids=[" ".join(map(str, c)) for c in FITS])
def test_em_from_mclusts_start_reaches_mclusts_optimum(cell):
    name, K, model = cell
    covariance_type = TYPES[model]
    X = data(name)
    n, d = X.shape
    labels = STARTS[(name, K)](X)
    ll_mle, ll_map, ll_mclust, bic_mclust = FITS[cell][:4]
    mle = em_from(X, start_from_labels(X, labels, K, covariance_type, None), None)
    assert mle.log_likelihood == pytest.approx(ll_mle, rel=1e-11)
    if ll_mclust == pytest.approx(ll_mle, rel=1e-10):  # Mclust's own start found it too
        ours_bic = 2 * mle.log_likelihood - n_parameters(K, d, covariance_type) * np.log(n)
        assert ours_bic == pytest.approx(bic_mclust, rel=1e-10)
    if model not in TEXTBOOK_MAP:
        return
    prior = mclust_prior(X, K, covariance_type)
    fit = em_from(X, start_from_labels(X, labels, K, covariance_type, prior), prior)
    assert fit.log_likelihood == pytest.approx(ll_map, rel=1e-11)


@pytest.mark.parametrize(
    "cell", list(MAP_SAME_START), ids=[" ".join(map(str, c)) for c in MAP_SAME_START]
)
def test_eei_and_eii_map_ours_is_the_maximiser_and_mclusts_is_not(cell):
    name, K, model = cell
    covariance_type = TYPES[model]
    X = data(name)
    d = X.shape[1]
    prior = mclust_prior(X, K, covariance_type)
    theirs = from_r(*MAP_SAME_START[cell], covariance_type, d)
    # mclust's log-likelihood at its MAP is its own number (so the table is read right).
    assert log_likelihood(X, theirs) == pytest.approx(FITS[cell][1], rel=1e-11)
    labels = STARTS[(name, K)](X)
    ours = em_from(X, start_from_labels(X, labels, K, covariance_type, prior), prior).params
    # The same optimum region: the two classify alike...
    np.testing.assert_array_equal(
        responsibilities(X, ours)[0].argmax(axis=1), responsibilities(X, theirs)[0].argmax(axis=1)
    )
    # ...but only ours is a stationary point of the log-posterior, and it is higher.
    objective = {
        name: log_likelihood(X, p) + log_prior(p, prior)
        for name, p in (("ours", ours), ("theirs", theirs))
    }
    assert objective["ours"] > objective["theirs"]
    grad_ours, hess = objective_derivatives(X, ours, prior)
    grad_theirs, _ = objective_derivatives(X, theirs, prior)
    scale = np.abs(hess).max()
    assert np.abs(grad_ours).max() < 1e-8 * scale
    assert np.abs(grad_theirs).max() > 1e-6 * scale


# --- the BIC grid: the same optimum, or ours is higher -----------------------------------------


@pytest.mark.parametrize("cell", list(FITS), ids=[" ".join(map(str, c)) for c in FITS])
def test_bic_equals_mclusts_where_both_reach_one_optimum_and_ours_is_never_lower(cell):
    name, K, model = cell
    covariance_type = TYPES[model]
    X = data(name)
    n, d = X.shape
    p = n_parameters(K, d, covariance_type)
    _, _, ll_mclust, bic_mclust, ll_map_mclust, bic_map_mclust = FITS[cell]
    mle = EMGaussianMixture(K, covariance_type=covariance_type, n_init=4, random_state=0)
    mle.fit(X)
    ll = mle.log_likelihood_
    assert ll >= ll_mclust - 1e-9 * abs(ll_mclust)
    # One optimum: equal to 1e-6 (the fits stop at the default tol, 1e-10 on the objective;
    # two optima of these data differ by far more).
    if ll == pytest.approx(ll_mclust, rel=1e-6):
        assert 2 * ll - p * np.log(n) == pytest.approx(bic_mclust, rel=1e-6)
    else:
        assert_a_lower_optimum(X, mle.params_, (*cell, "none"), ll_mclust, None)
    if model not in TEXTBOOK_MAP:
        return
    prior = mclust_prior(X, K, covariance_type)
    fit = EMGaussianMixture(K, covariance_type=covariance_type, prior=prior, random_state=0).fit(X)
    if fit.log_likelihood_ == pytest.approx(ll_map_mclust, rel=1e-6):
        assert 2 * fit.log_likelihood_ - p * np.log(n) == pytest.approx(bic_map_mclust, rel=1e-6)
    else:
        assert_a_lower_optimum(X, fit.params_, (*cell, "default"), ll_map_mclust, prior)


def assert_a_lower_optimum(X, ours, key, log_lik, prior):
    """mclust's optimum ``key`` is a genuine stationary point, and ours is higher."""
    theirs = from_r(*MCLUST_OPTIMA[key], ours.covariance_type, X.shape[1])
    assert log_likelihood(X, theirs) == pytest.approx(log_lik, rel=1e-10)  # read right

    def objective(p):
        return log_likelihood(X, p) + (0.0 if prior is None else log_prior(p, prior))

    assert objective(ours) > objective(theirs) + 1e-3
    gradient, hessian = objective_derivatives(X, theirs, prior)
    assert np.abs(gradient).max() < 1e-5 * np.abs(hessian).max()


def test_our_default_tied_diag_prior_keeps_each_features_scale():
    # mclust's EEI default scale is one number for both faithful features (variances 1.3
    # and 185): its MAP inflates the eruptions variance; ours (a scale per feature) does not.
    X = data("faithful")
    mle = EMGaussianMixture(2, covariance_type="tied_diag", random_state=0).fit(X)
    ours = EMGaussianMixture(2, covariance_type="tied_diag", prior="default", random_state=0)
    ours.fit(X)
    theirs = from_r(*MAP_SAME_START[("faithful", 2, "EEI")], "tied_diag", 2)
    assert mle.covariances_[0] == pytest.approx(0.1329, abs=1e-4)
    assert ours.covariances_[0] == pytest.approx(mle.covariances_[0], rel=0.02)
    assert theirs.covariances[0] == pytest.approx(0.3028, abs=1e-4)
    assert ours.log_likelihood_ > mle.log_likelihood_ - 0.1
    assert FITS[("faithful", 2, "EEI")][1] < mle.log_likelihood_ - 30
