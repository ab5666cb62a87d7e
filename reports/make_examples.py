"""Make the committed example reports, the walkthroughs and their index, reports/README.md.

    python reports/make_examples.py --all           # everything committed: the three reports,
                                                    # the two walkthroughs, the index and the
                                                    # tutorial (docs/make_tutorial_figures.py)
    python reports/make_examples.py                 # the three reports and the index
    python reports/make_examples.py galaxies        # one, then the index again
    python reports/make_examples.py --index         # only the index, from the estimates.json

Each example is exactly what ``latentmix report`` writes, with seed 0 and default sampling
settings (4 chains x 1000 draws after 1000 tuning steps) except where said:

- faithful: Old Faithful, K = 2, full covariances (``latentmix report faithful -k 2``);
- galaxies: galaxy velocities, K = 3, one dimension, the classic label-switching example;
  4 chains x 4000 draws after 2000 tuning steps (smoother histograms of the small variances);
- synthetic3d: ``latentmix.datasets.synthetic_3d()``, K = 3, full, with the truth shown.

The walkthroughs are what ``latentmix teach`` writes (``reports/teach-house-prices``,
``reports/teach-faithful``). The index is ``reports/README.md.j2`` filled with numbers read
from each example's ``estimates.json``, so it quotes only what the reports computed;
``tests/test_docs.py`` checks that the committed index is that rendering.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INDEX_TEMPLATE = "README.md.j2"


def _load(name):
    from latentmix.datasets import load

    return load(name)


def _synthetic_3d():
    from latentmix.datasets import synthetic_3d

    return synthetic_3d()


EXAMPLES = {
    "faithful": {
        "data": lambda: _load("faithful"),
        "K": 2,
        "cli": "faithful -k 2",
        "about": "Old Faithful eruptions and waiting times: two well separated groups, where "
        "MLE, MAP and posterior agree closely.",
    },
    "galaxies": {
        "data": lambda: _load("galaxies"),
        "K": 3,
        "cli": "galaxies -k 3 --draws 4000 --tune 2000",
        "sampling": {"draws": 4000, "tune": 2000},
        "about": "Velocities of {n_train} galaxies in one dimension: two small components, so the "
        "prior matters and the posterior of their variances is wide and skewed. It is the "
        "classic label-switching example; the relabelling count below says whether any draw "
        "switched. It is sampled longer than the default (4 x 4000 draws after 2000 tuning "
        "steps) for smoother histograms of the small components' variances; with the default "
        "4 x 1000 draws look at the warning box for your own seed.",
    },
    "synthetic3d": {
        "data": _synthetic_3d,
        "K": 3,
        "cli": None,
        "about": "{n_train} draws from a known 3-component mixture in 3-D: the truth is shown "
        "beside the estimates.",
    },
}


#: The committed walkthroughs: directory -> the ``latentmix teach`` arguments.
WALKTHROUGHS = {
    "teach-house-prices": ["house_prices", "-k", "3"],
    "teach-faithful": ["faithful", "-k", "2"],
}


def make(name: str, seed: int = 0) -> Path:
    """Write one example report to reports/NAME (what ``latentmix report`` writes)."""
    from latentmix.report import ReportSettings, make_report

    spec = EXAMPLES[name]
    out = HERE / name
    if spec["cli"]:
        command = f"latentmix report {spec['cli']} --seed {seed} --out reports/{name}"
    else:
        command = f"python reports/make_examples.py {shlex.quote(name)}"
    settings = ReportSettings(spec["K"], "full", seed=seed, **spec.get("sampling", {}))
    return make_report(spec["data"](), out, settings, command=command)


def _approximation_lines(comparison: dict) -> list[str]:
    """How the Laplace (MAP) and Wald (MLE) intervals compare with the posterior's."""
    rows = {a["source"]: a for a in comparison.get("interval_agreement", [])
            if a["parameter"] == "all"}  # fmt: skip
    parts = [
        f"{label} {rows[m]['width_ratio_median']:.2f}, inside the posterior interval for "
        f"{rows[m]['n_within_posterior']} of {rows[m]['n_entries']} entries"
        for m, label in (("laplace", "Laplace (MAP)"), ("wald", "Wald (MLE)"))
        if m in rows
    ]
    if not parts:
        return []
    level = f"{100 * comparison['level']:.4g}%"
    return [f"- {level} intervals from the curvature at one point, width against the posterior "
            "interval's (median over entries): " + "; ".join(parts) + "."]  # fmt: skip


def example_context(name: str, record: dict) -> dict:
    """What the index says about one example, read from its estimates.json record."""
    from latentmix.report import SCHEMA_VERSION

    if record.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"reports/{name}/estimates.json has schema_version {record.get('schema_version')}, "
            f"not {SCHEMA_VERSION}: make that example again."
        )
    s, diag, comparison = record["settings"], record["diagnostics"], record["comparison"]
    tables = comparison["tables"]
    return {
        "name": name,
        "about": EXAMPLES[name]["about"].format(n_train=record["data"]["n_train"]),
        "command": record["command"],
        "settings": s,
        "n_train": record["data"]["n_train"],
        "level": f"{100 * s['level']:.4g}%",
        "diagnostics": diag,
        "n_entries": sum(len(t) for t in tables.values()),
        "n_map_outside": sum(r["map_outside"] for t in tables.values() for r in t),
        "approximations": _approximation_lines(comparison),
        "predictive": comparison["predictive"]["rows"],
        "warnings": record["warnings"],
        "wall_time": sum(record["timings_seconds"].values()),
    }


def render_index(root: Path = HERE) -> str:
    """reports/README.md: the template filled from every example's estimates.json."""
    import jinja2

    examples = [
        example_context(name, json.loads((root / name / "estimates.json").read_text()))
        for name in EXAMPLES
        if (root / name / "estimates.json").exists()
    ]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    walkthroughs = [name for name in WALKTHROUGHS if (root / name / "index.html").exists()]
    return env.get_template(INDEX_TEMPLATE).render(
        examples=examples, walkthroughs=walkthroughs, teach=WALKTHROUGHS, others=_others(root)
    )


def _others(root: Path) -> list[dict]:
    """The other committed results (studies, selection, missing data): name and main page."""
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name in EXAMPLES or folder.name in WALKTHROUGHS:
            continue
        pages = [n for n in ("report.md", "README.md") if (folder / n).exists()]
        if pages:
            out.append({"name": folder.name, "page": pages[0]})
    return out


def write_index() -> Path:
    """Write reports/README.md from the committed estimates.json files."""
    path = HERE / "README.md"
    path.write_text(render_index())
    return path


def make_walkthrough(name: str, seed: int = 0) -> Path:
    """Write one committed walkthrough with ``latentmix teach`` (reports/teach-*)."""
    from latentmix import cli

    out = HERE / name
    code = cli.main(["teach", *WALKTHROUGHS[name], "--seed", str(seed), "--out", str(out)])
    if code:
        raise SystemExit(code)
    return out


def make_tutorial() -> None:
    """docs/make_tutorial_figures.py: the tutorial's figures, numbers and text."""
    import importlib.util

    path = ROOT / "docs" / "make_tutorial_figures.py"
    spec = importlib.util.spec_from_file_location("make_tutorial_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([])


def main(argv=None):
    """Make the examples named (all three by default), then the index."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(EXAMPLES)} (all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--all",
        action="store_true",
        help="also the walkthroughs (reports/teach-*) and the tutorial (docs/tutorial.md)",
    )
    parser.add_argument(
        "--index", action="store_true", help="only write reports/README.md from the JSON files"
    )
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(EXAMPLES)
    if unknown:
        parser.error(
            f"unknown example(s) {', '.join(sorted(unknown))}; choose from {', '.join(EXAMPLES)}"
        )
    if not args.index:
        for name in args.names or list(EXAMPLES):
            print(f"== {name}", file=sys.stderr)
            print(make(name, args.seed))
        if args.all:
            for name in WALKTHROUGHS:
                print(f"== {name}", file=sys.stderr)
                make_walkthrough(name, args.seed)
            print("== tutorial", file=sys.stderr)
            make_tutorial()
    print(write_index())


if __name__ == "__main__":
    main()
