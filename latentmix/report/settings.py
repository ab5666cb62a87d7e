"""What a report fits and samples: :class:`ReportSettings` and its checks."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from latentmix.params import check_covariance_type
from latentmix.validation import check_missing


def _whole(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value!r}.")


#: Where the chains start: at the MAP's distinct EM optima in turn, or all at the MAP.
CHAIN_STARTS = ("optima", "map")
#: A subsample for the posterior (``posterior_rows``) holds at least this many rows per
#: component.
MIN_ROWS_PER_COMPONENT = 10


@dataclass(frozen=True)
class ReportSettings:
    """What a report fits and samples.

    Attributes
    ----------
    n_components : int
    covariance_type : str
        One of :data:`latentmix.params.COVARIANCE_TYPES`.
    prior : "default" or ConjugatePrior
        The conjugate prior shared by the MAP and the posterior; ``"default"`` is the
        data-scaled one (:meth:`latentmix.priors.ConjugatePrior.default`).
    draws, tune, chains : int
        Posterior draws per chain after ``tune`` tuning steps, in ``chains`` chains.
    seed : int or None
        One seed for the split, EM restarts, the sampler and the Laplace draws; None draws one
        (and :meth:`check` records it).
    test_fraction : float or None
        Hold out this fraction of the rows for the predictive comparison.
    columns : tuple of str or None
        Columns of a CSV (or data set) to use.
    n_init : int
        EM restarts.
    sampler : str
        ``"nutpie"`` or ``"pymc"``.
    level : float
        Probability of every interval in the report (posterior, Wald, Laplace, ellipses).
    order : str
        The order of the components in every table, figure and file
        (:data:`latentmix.comparison.order.ORDERS`): ``"mean"`` (default; by the MAP's first
        mean coordinate), ``"weight"`` (largest first) or ``"map"`` (as EM found them).
    missing : str
        ``"error"`` (NaN cells refused) or ``"ignore"`` (cells missing at random: EM, the
        posterior and the comparison use every observed cell).
    weights : str or None
        The column of observation weights of a CSV or data set (taken out of the data); a
        Dataset or DataFrame passed to :func:`~latentmix.report.analysis.analyse` brings its
        own ``sample_weight`` instead.
    sensitivity : bool
        Also sample the posterior under the weaker and the stronger prior of the prior
        sensitivity section (:mod:`latentmix.report.sensitivity`; the MAP under both is
        always fitted).
    labels : str or None
        A column of known group labels (iris: ``Species``), taken out of the data; the
        membership section gives each estimate's adjusted Rand index against it.
    cache : bool
        Reuse a sampler compiled in this process for a model of the same structure (the
        prior-sensitivity posteriors reuse the main one's); ``--no-cache`` turns it off.
    allow_long : bool
        Sample even when :func:`latentmix.bayes.sample.sampling_seconds` says it takes over
        :data:`~latentmix.report.analysis.LONG_SAMPLING_SECONDS`; otherwise the report stops
        before sampling with the choices (``--allow-long``).
    posterior_rows : int or None
        Sample the posterior on a random subsample of this many rows (seeded by ``seed``);
        EM, VB, the intervals around the MAP and the comparison use every row
        (``--posterior-rows``). For data too large to sample in reasonable time: the
        posterior's sds are then about ``sqrt(n / posterior_rows)`` times the whole data's.
        None, or at least the number of rows: every row.
    chain_starts : str
        ``"optima"`` (default): chain c starts at the c-th distinct optimum the MAP's EM
        restarts found (in turn, chain 0 at the MAP; all at the MAP when they found one),
        so that chains in different optima show in R-hat and the modes section.
        ``"map"``: every chain at the MAP (``--chain-starts map``), the posterior of its mode.
    """

    n_components: int
    covariance_type: str = "full"
    prior: object = "default"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int | None = None
    test_fraction: float | None = None
    columns: tuple | None = None
    n_init: int = 10
    sampler: str = "nutpie"
    level: float = 0.95
    order: str = "mean"
    missing: str = "error"
    weights: str | None = None
    sensitivity: bool = False
    labels: str | None = None
    cache: bool = True
    allow_long: bool = False
    posterior_rows: int | None = None
    chain_starts: str = "optima"

    def check(self) -> ReportSettings:
        """Validate every field; returns a copy with the seed resolved.

        Raises
        ------
        ValueError
            Naming the first bad field and its value.
        """
        from latentmix.bayes.diagnostics import check_run_size
        from latentmix.bayes.sample import SAMPLERS
        from latentmix.comparison.order import check_order

        check_covariance_type(self.covariance_type)
        check_missing(self.missing)
        check_order(self.order)
        for name in ("n_components", "n_init"):
            _whole(name, getattr(self, name), 1)
        check_run_size(self.chains, self.draws)
        _whole("tune", self.tune, 0)
        if self.posterior_rows is not None:
            _whole(
                "posterior_rows", self.posterior_rows, MIN_ROWS_PER_COMPONENT * self.n_components
            )
        if self.test_fraction is not None and not 0 < self.test_fraction < 1:
            raise ValueError(
                f"test fraction must be strictly between 0 and 1; got {self.test_fraction!r}."
            )
        if not (isinstance(self.level, float | int) and 0 < self.level < 1):
            raise ValueError(f"level must be strictly between 0 and 1; got {self.level!r}.")
        if self.chain_starts not in CHAIN_STARTS:
            raise ValueError(
                f"chain_starts must be one of {', '.join(CHAIN_STARTS)}; got "
                f"{self.chain_starts!r}."
            )
        if self.sampler not in SAMPLERS:
            raise ValueError(
                f"sampler must be one of {', '.join(SAMPLERS)}; got {self.sampler!r}."
            )
        if isinstance(self.prior, str) and self.prior != "default":
            raise ValueError(
                f"prior must be 'default' or a ConjugatePrior; got {self.prior!r} (the "
                "posterior needs a proper prior)."
            )
        seed = self.seed
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**31)
        return replace(self, seed=int(seed), level=float(self.level))
