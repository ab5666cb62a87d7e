"""Choosing the model: K and the covariance structure, as one command (``latentmix select``).

* :mod:`~latentmix.selection.criteria`: BIC, ICL and AIC on mclust's scale, the grades of
  Kass & Raftery, the mclust names of the structures (pure functions).
* :mod:`~latentmix.selection.grid`: every (K, covariance type) cell fitted by EM, MLE and
  MAP, and the table of the grid.
* :mod:`~latentmix.selection.lrt`: mclust's sequential bootstrap likelihood-ratio test for K.
* :mod:`~latentmix.selection.loo`: PSIS-LOO of the posterior for each K, and ArviZ's
  stacking and pseudo-BMA weights.
* :mod:`~latentmix.selection.page`: the figures and the page.
* :mod:`~latentmix.selection.run`: the settings, the resumable run on Dask
  (:mod:`latentmix.studies.runner`), the summary; what ``latentmix select`` and
  ``latentmix study select`` call.
"""
