"""The PyMC model of the mixture: distributions, model, sampling, relabelling, diagnostics.

``spec`` (names, dims, the prior argument), ``relabel``, ``diagnostics``, ``predictive``
(posterior predictive draws of missing cells, NumPy only) and ``estimator`` import PyMC only
when they need it; ``distributions`` and ``model`` import it at once.
"""
