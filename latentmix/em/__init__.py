"""Pure functions of the EM algorithm: they take and return MixtureParams, arrays and priors.

Modules, from the data up:

- :mod:`~latentmix.em.estep`: the row-by-row E-step (predict, score, teaching, uncertainty).
- :mod:`~latentmix.em.kernels`: the fused blocked E-step and statistics the fit runs.
- :mod:`~latentmix.em.chunked`: the fit's passes over any data (ndarray, memmap, dask) and
  the one resolver of ``scheduler``.
- :mod:`~latentmix.em.mstep`: the M-step (MLE and MAP) from sufficient statistics.
- :mod:`~latentmix.em.init`: starting points.
- :mod:`~latentmix.em.fit`: ``em_init``/``em_step`` (one iteration), ``run_em`` (the loop)
  and ``fit_em`` (the restarts), with their settings in ``EMOptions``.
- :mod:`~latentmix.em.parameterisation`, :mod:`~latentmix.em.information`,
  :mod:`~latentmix.em.intervals`: unconstrained coordinates, exact derivatives and observed
  information, Wald/Laplace/bootstrap intervals.

Nothing here imports the estimator or any layer above it (``tests/test_layers.py``).
"""
