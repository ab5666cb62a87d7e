"""``latentmix fit``: fit a Gaussian mixture by EM and print the estimates."""

from __future__ import annotations

import json
import warnings

import numpy as np


def add_parser(subparsers) -> None:
    """Register ``latentmix fit``."""
    from latentmix.commands import (
        HelpFormatter,
        add_components,
        add_covariance,
        add_data,
        add_missing_and_weights,
        add_prior,
        add_seed,
        examples,
    )

    parser = subparsers.add_parser(
        "fit",
        help="fit a Gaussian mixture by EM (MLE or MAP) and print the estimates",
        description=(
            "Fit a Gaussian mixture by EM and print weights, means, covariances, "
            "log-likelihood, log prior, objective, BIC and convergence. DATA is a CSV file "
            "with a header row or a built-in data set (faithful, galaxies, acidity, iris)."
        ),
        formatter_class=HelpFormatter,
        epilog=examples(
            "latentmix fit faithful -k 2",
            "latentmix fit galaxies -k 3 --prior default --json",
        ),
    )
    add_data(parser)
    add_missing_and_weights(parser)
    add_components(parser)
    add_covariance(parser)
    add_prior(
        parser,
        default="none",
        help="none: maximum likelihood; default: MAP under the data-scaled "
        "conjugate prior; FILE: MAP under the hyperparameters in a JSON or TOML file",
    )
    add_seed(parser, help="seed of the restarts' starting points")
    parser.add_argument("--n-init", type=int, default=10, help="EM restarts")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Fit and print; returns the exit code."""
    import pandas as pd

    from latentmix.commands import load_dataset, parse_prior
    from latentmix.estimator import EMGaussianMixture

    dataset = load_dataset(args)
    names = list(dataset.feature_names)
    # A DataFrame, so that the fit carries the column names itself (feature_names_in_);
    # scikit-learn refuses repeated names, which keep their plain array (and their names).
    if len(set(names)) == len(names):
        X = pd.DataFrame(dataset.data, columns=names)
    else:
        X = dataset.data
    prior = parse_prior(args.prior)
    from latentmix.em.estep import DegenerateMixtureError

    model = EMGaussianMixture(
        args.components,
        covariance_type=args.covariance,
        prior=prior,
        n_init=args.n_init,
        random_state=args.seed,
        missing=args.missing,
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            # The fit's own warnings (a spurious maximiser, restarts that collapsed, no
            # convergence) belong in its output, said once, not as Python tracebacks.
            warnings.simplefilter("always", UserWarning)
            model.fit(X, sample_weight=dataset.sample_weight)
    except DegenerateMixtureError as err:
        prior_fix = "--prior default" if prior is None else "--prior FILE with a larger scale"
        raise ValueError(
            f"{err} On the command line: {prior_fix}, a smaller -k, or --covariance "
            "tied, diag or spherical."
        ) from None
    result = summary(
        model,
        X,
        dataset.name,
        None if hasattr(model, "feature_names_in_") else names,
        sample_weight=dataset.sample_weight,
        weights_column=dataset.weights_column,
    )
    result["warnings"] = _fit_warnings(caught)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


def _fit_warnings(caught) -> list[str]:
    """The messages of the fit's UserWarnings, in order, once each; others passed on."""
    messages = []
    for w in caught:
        if issubclass(w.category, UserWarning):
            messages.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return list(dict.fromkeys(messages))


def summary(
    model, X, name: str, feature_names=None, *, sample_weight=None, weights_column=None
) -> dict:
    r"""The fit as a JSON-ready dict.

    The features are named by ``feature_names`` if given, else by the model's
    ``feature_names_in_`` (a fit on a DataFrame), else ``x1, x2, ...``. With weights the
    BIC is :math:`-2 \log L + p \log W`, ``log L`` the weighted log-likelihood and ``W``
    the total weight (the rows counted as often as their weights say).
    """
    if feature_names is None:
        feature_names = getattr(
            model, "feature_names_in_", [f"x{j + 1}" for j in range(model.n_features_in_)]
        )
    if sample_weight is None:
        bic = model.bic(X)
    else:
        total = float(np.sum(sample_weight))
        bic = -2 * model.log_likelihood_ + model.n_parameters() * np.log(total)
    return {
        "data": name,
        "n_samples": int(X.shape[0]),
        "n_missing": int(getattr(model, "n_missing_", 0)),
        "weights_column": weights_column,
        "total_weight": None if sample_weight is None else float(np.sum(sample_weight)),
        "features": [str(f) for f in feature_names],
        "n_components": int(model.n_components),
        "covariance_type": model.covariance_type,
        "estimate": "MLE" if model.prior_ is None else "MAP",
        "weights": model.weights_.tolist(),
        "means": model.means_.tolist(),
        "covariances": np.asarray(model.covariances_).tolist(),
        "log_likelihood": model.log_likelihood_,
        "log_prior": model.log_prior_,
        "objective": model.objective_,
        "bic": float(bic),
        "n_parameters": model.n_parameters(),
        "n_iter": model.n_iter_,
        "converged": model.converged_,
        "n_init": len(model.restarts_),
        "degenerate_restarts": sum(r["degenerate"] for r in model.restarts_),
        "spurious_components": [int(k) for k in model.spurious_components_],
    }


def _fmt(x) -> str:
    return f"{x:.6g}"


def format_table(result: dict) -> str:
    """A readable plain-text table of a :func:`summary`."""
    features = result["features"]
    covariance_type = result["covariance_type"]
    K = result["n_components"]
    lines = [
        f"{result['estimate']} of a {K}-component {covariance_type} Gaussian mixture on "
        f"{result['data']} ({result['n_samples']} rows x {len(features)} "
        f"feature{'s' if len(features) != 1 else ''}); "
        "components numbered from 1 (from 0 in --json)",
    ]
    if result.get("n_missing"):
        cells = result["n_samples"] * len(features)
        lines.append(
            f"{result['n_missing']} of {cells} cells missing, treated as missing at random "
            "(the likelihood of each row's observed cells)"
        )
    if result.get("weights_column"):
        lines.append(
            f"rows weighted by column {result['weights_column']!r} (total weight "
            f"{result['total_weight']:.6g})"
        )
    lines.append("")
    components = [str(k + 1) for k in range(K)]
    lines += _grid(
        ["component", "weight", *(f"mean[{f}]" for f in features)],
        [
            [c, f"{w:.4f}", *map(_fmt, m)]
            for c, w, m in zip(components, result["weights"], result["means"], strict=True)
        ],
    )
    lines.append("")
    covariances = np.asarray(result["covariances"])
    if covariance_type == "tied":
        lines.append("covariance (shared by all components):")
        lines += _matrix_lines(covariances, features)
    elif covariance_type == "full":
        for k in range(K):
            lines.append(f"covariance of component {k + 1}:")
            lines += _matrix_lines(covariances[k], features)
    elif covariance_type in ("diag", "tied_diag"):
        shared = covariance_type == "tied_diag"
        lines.append("variances (shared by all components):" if shared else "variances:")
        rows = (
            [["all", *map(_fmt, covariances)]]
            if shared
            else [[c, *map(_fmt, v)] for c, v in zip(components, covariances, strict=True)]
        )
        lines += _grid(["component", *(f"var[{f}]" for f in features)], rows)
    elif covariance_type == "tied_spherical":
        lines.append(
            f"variance (same for every feature, shared by all components): {_fmt(covariances)}"
        )
    else:
        lines.append("variance (same for every feature):")
        lines += _grid(
            ["component", "variance"],
            [[c, _fmt(v)] for c, v in zip(components, covariances, strict=True)],
        )
    lines.append("")
    log_prior = "-" if result["log_prior"] is None else f"{result['log_prior']:.6f}"
    rows = [
        ("log-likelihood", f"{result['log_likelihood']:.6f}"),
        ("log-prior", log_prior),
        ("objective", f"{result['objective']:.6f}"),
        ("BIC (lower is better)", f"{result['bic']:.4f}"),
        ("free parameters", str(result["n_parameters"])),
        ("iterations", str(result["n_iter"])),
        ("converged", "yes" if result["converged"] else "no"),
        (
            "restarts",
            f"{result['n_init']} ({result['degenerate_restarts']} degenerate)",
        ),
    ]
    lines += [f"{label:<24}{value}" for label, value in rows]
    for message in result.get("warnings", []):
        lines += ["", f"warning: {message}"]
    return "\n".join(lines)


def _grid(header, rows):
    """Lines of a table, the first column left-aligned and the others right-aligned.

    Every column is as wide as its widest cell plus two spaces, so that no two cells run
    together (numbers such as -1.23457e+300 included).
    """
    table = [header, *rows]
    widths = [max(len(row[j]) for row in table) + 2 for j in range(len(header))]
    widths[0] = max(widths[0], 10)
    return [
        row[0].ljust(widths[0])
        + "".join(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        for row in table
    ]


def _matrix_lines(matrix, features):
    rows = [[f, *map(_fmt, row)] for f, row in zip(features, np.atleast_2d(matrix), strict=True)]
    return _grid(["", *features], rows)
