"""The known mixtures a coverage study simulates from, and the study's fixed prior."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np

from latentmix.params import MixtureParams, check_covariance_type, check_params
from latentmix.priors import ConjugatePrior


def _folder():
    return resources.files("latentmix.studies") / "truths"


def truth_names() -> list[str]:
    """Named truths shipped with the package (``latentmix/studies/truths/*.json``)."""
    return sorted(
        p.name.rsplit(".", 1)[0] for p in _folder().iterdir() if p.name.endswith(".json")
    )


def truth_from_dict(spec: dict) -> MixtureParams:
    """A MixtureParams from ``{weights, means, covariances, covariance_type}``, checked.

    One-dimensional means (``[0.0, 3.0]``) are read as K rows of one feature.
    """
    try:
        covariance_type = check_covariance_type(spec.get("covariance_type", "full"))
        weights = np.asarray(spec["weights"], dtype=float)
        means = np.asarray(spec["means"], dtype=float)
        covariances = np.asarray(spec["covariances"], dtype=float)
    except KeyError as err:
        raise ValueError(
            f"a truth needs weights, means and covariances; {err.args[0]!r} is missing."
        ) from None
    if means.ndim == 1:
        means = means[:, None]
    params = MixtureParams(weights, means, covariances, covariance_type)
    return check_params(params, what="the truth")


def truth_to_dict(params: MixtureParams) -> dict:
    """The JSON-able form of a truth."""
    return {
        "covariance_type": params.covariance_type,
        "weights": np.asarray(params.weights).tolist(),
        "means": np.asarray(params.means).tolist(),
        "covariances": np.asarray(params.covariances).tolist(),
    }


def load_truth(spec: str) -> tuple[str, MixtureParams]:
    """A named truth (see :func:`truth_names`) or a JSON/TOML file; returns (name, params)."""
    path = Path(spec)
    if spec in truth_names():
        text = (_folder() / f"{spec}.json").read_text()
        return spec, truth_from_dict(json.loads(text))
    if not path.exists():
        raise ValueError(
            f"--truth {spec!r} is neither a named truth ({', '.join(truth_names())}) nor a file."
        )
    try:
        data = (
            tomllib.loads(path.read_text())
            if path.suffix == ".toml"
            else json.loads(path.read_text())
        )
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read the truth in {path}: {err}") from None
    return path.stem, truth_from_dict(data)


def population_prior(truth: MixtureParams) -> ConjugatePrior:
    """The mclust default prior computed from the mixture's population mean and covariance.

    Fixed for the whole study (not recomputed from each sample), so that the posterior is one
    Bayesian answer to compare across replicates.
    """
    w, mu, cov = truth.weights, truth.means, truth.full_covariances()
    mean = w @ mu
    diff = mu - mean
    # The law of total covariance: within-component plus between-component spread.
    total = np.einsum("k,kij->ij", w, cov) + np.einsum("k,ki,kj->ij", w, diff, diff)
    return ConjugatePrior.from_moments(mean, total, truth.n_components, truth.covariance_type)
