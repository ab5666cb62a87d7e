"""Run the replicates of a study as Dask tasks, storing each one the moment it finishes.

A study is a list of :class:`Replicate` keys (sample size, index) and a task function
``task(config, n, index) -> dict``. :func:`run_study`

* writes ``OUT/study.json`` (the configuration) and refuses to mix two studies in one folder;
* skips every replicate whose ``OUT/replicates/<key>.json`` already exists, so re-running the
  same command resumes an interrupted study;
* submits one task per remaining replicate to a Dask cluster (a ``LocalCluster`` unless a
  scheduler address is given), or runs them in this process (``scheduler="serial"``);
* writes each finished replicate atomically (temporary file, then rename) as soon as it
  arrives; a task that raises is stored with ``status: "failed"`` and its error, never dropped.

Seeds come from one study seed: replicate (n, i) uses
``numpy.random.SeedSequence(seed, spawn_key=(n, i))``, so a replicate's numbers do not depend
on which worker ran it, in which order, or whether it ran at all before an interruption.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

REPLICATES = "replicates"
CONFIG_FILE = "study.json"


class Replicate(NamedTuple):
    """One replicate of a study: sample size ``n`` and index within that size.

    ``prefix`` names what ``n`` counts in the file name (``k`` for the number of components in
    the model-selection study).
    """

    n: int
    index: int
    prefix: str = "n"

    @property
    def key(self) -> str:
        """File stem of this replicate, sortable: ``n00200-r0007``."""
        return f"{self.prefix}{self.n:05d}-r{self.index:04d}"


def replicate_seed(study_seed: int, n: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of replicate (n, index): one study seed, spawned by key."""
    return np.random.SeedSequence(int(study_seed), spawn_key=(int(n), int(index)))


def replicate_rng(study_seed: int, n: int, index: int) -> np.random.Generator:
    """A generator seeded by :func:`replicate_seed`."""
    return np.random.default_rng(replicate_seed(study_seed, n, index))


def replicates(sizes: Iterable[int], n_replications: int) -> list[Replicate]:
    """Every (n, index) pair, sizes in the given order."""
    return [Replicate(int(n), i) for n in sizes for i in range(int(n_replications))]


# --- storage ---------------------------------------------------------------------------------


def _jsonable(value):
    """Numpy scalars and arrays to plain Python; NaN and inf to None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to ``path`` so that a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(_jsonable(data), fh, indent=1, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replicate_path(out: Path, rep: Replicate) -> Path:
    """Where replicate ``rep`` is stored."""
    return Path(out) / REPLICATES / f"{rep.key}.json"


def load_replicates(out: Path) -> list[dict]:
    """Every stored replicate record, sorted by key (unreadable files are reported)."""
    folder = Path(out) / REPLICATES
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path} is not valid JSON ({err}); delete it and re-run to redo that replicate."
            ) from None
    return records


def _is_done(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return "status" in json.loads(path.read_text())
    except json.JSONDecodeError:
        return False  # a torn file from a crash outside write_json_atomic: redo it


def check_config(out: Path, config: dict) -> None:
    """Write ``OUT/study.json``, or check that the one there describes the same study."""
    path = Path(out) / CONFIG_FILE
    config = _jsonable(config)
    if path.exists():
        stored = json.loads(path.read_text())
        if stored != config:
            changed = sorted(
                k for k in set(stored) | set(config) if stored.get(k) != config.get(k)
            )
            raise ValueError(
                f"{out} holds a different study (settings differ: {', '.join(changed)}); "
                "re-run with the original settings to resume it, or choose a new --out."
            )
        return
    write_json_atomic(path, config)


# --- running ---------------------------------------------------------------------------------


def run_replicate(task: Callable, config: dict, rep: Replicate) -> dict:
    """Run one replicate; never raises: a failure becomes a record with its error."""
    start = time.perf_counter()
    try:
        record = dict(task(config, rep.n, rep.index))
        record.setdefault("status", "ok")
    except Exception as err:  # every failure is recorded, never lost
        record = {
            "status": "failed",
            "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc(limit=6),
        }
    record.update(key=rep.key, n=rep.n, index=rep.index, seconds=time.perf_counter() - start)
    return record


class Progress:
    """One line per finished replicate on stderr, with a running count and rate."""

    def __init__(self, total: int, skipped: int, quiet: bool = False, stream=None):
        self.total, self.done, self.failed = total, skipped, 0
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._new = 0
        if not quiet and skipped:
            print(f"resuming: {skipped} of {total} replicates already stored", file=self.stream)

    def update(self, record: dict) -> None:
        """Count a finished replicate and print its line."""
        self.done += 1
        self._new += 1
        self.failed += record.get("status") != "ok"
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.start
        left = (self.total - self.done) * elapsed / self._new
        status = record["status"] if record["status"] == "ok" else f"FAILED ({record['error']})"
        print(
            f"[{self.done}/{self.total}] {record['key']} {status} "
            f"{record['seconds']:.1f}s; failed so far {self.failed}; ~{left / 60:.1f} min left",
            file=self.stream,
            flush=True,
        )


def run_study(
    task: Callable,
    config: dict,
    reps: list[Replicate],
    out,
    *,
    scheduler: str | None = None,
    n_workers: int = 2,
    processes: bool = True,
    quiet: bool = False,
) -> list[dict]:
    """Run the replicates not yet stored under ``out`` and return every stored record.

    Parameters
    ----------
    task : callable
        ``task(config, n, index) -> dict``, importable at module level (it is pickled to
        the workers). It should draw all randomness from :func:`replicate_rng`.
    config : dict
        JSON-able study settings; stored in ``OUT/study.json`` and passed to every task.
    reps : list of Replicate
    out : path
    scheduler : None, "serial" or str
        None: a new ``LocalCluster`` of ``n_workers`` single-threaded workers. "serial": run in
        this process without Dask. Otherwise the address of a running Dask scheduler.
    n_workers : int
        Workers of the local cluster.
    processes : bool
        Local cluster with worker processes (default) or threads in this process.
    quiet : bool
        No progress lines.

    Returns
    -------
    list of dict
        All stored replicate records (finished earlier or now), sorted by key.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    check_config(out, config)
    todo = [rep for rep in reps if not _is_done(replicate_path(out, rep))]
    # Index-major order: a study stopped early has the same number of replicates at every n.
    todo.sort(key=lambda rep: (rep.index, rep.n))
    progress = Progress(len(reps), len(reps) - len(todo), quiet)
    if todo and scheduler == "serial":
        for rep in todo:
            record = run_replicate(task, config, rep)
            write_json_atomic(replicate_path(out, rep), record)
            progress.update(record)
    elif todo:
        _run_dask(task, config, todo, out, progress, scheduler, n_workers, processes)
    wanted = {rep.key for rep in reps}
    return [r for r in load_replicates(out) if r.get("key") in wanted]


def _run_dask(task, config, todo, out, progress, scheduler, n_workers, processes):
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=":0",  # any free port: never clash with another cluster
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = {
            client.submit(run_replicate, task, config, rep, pure=False): rep for rep in todo
        }
        # The client writes each result as it arrives: workers need not share our disk.
        for future in as_completed(futures):
            rep = futures[future]
            try:
                record = future.result()
            except Exception as err:  # a lost worker is a failed replicate
                record = {
                    "status": "failed",
                    "error": f"{type(err).__name__}: {err}",
                    "key": rep.key,
                    "n": rep.n,
                    "index": rep.index,
                    "seconds": float("nan"),
                }
            write_json_atomic(replicate_path(out, rep), record)
            progress.update(record)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- one compiled PyMC model per data shape --------------------------------------------------


def prior_key(prior) -> tuple:
    """A hashable fingerprint of a ConjugatePrior's values (for caching compiled models)."""
    return tuple(
        np.asarray(getattr(prior, name), dtype=float).tobytes() for name in prior.HYPERPARAMETERS
    )


def data_model(X0, n_components: int, covariance_type: str, prior):
    """The PyMC model of :func:`latentmix.bayes.model.build_model` with swappable data.

    The observed data become a ``pm.Data`` container named ``x_data``, so that one
    nutpie-compiled model serves every data set of the same shape
    (``compiled.with_data(x_data=X)``), or ``pm.set_data({"x_data": X})`` for PyMC.
    Compilation costs tens of seconds; sampling a replicate costs seconds.

    Parameters
    ----------
    X0 : ndarray of shape (n, d)
        Any data of the shape to be used.
    n_components : int
    covariance_type : str
    prior : ConjugatePrior
        Fixed: the hyperparameters are compiled in.

    Returns
    -------
    pymc.Model
    """
    import pymc as pm

    from latentmix.bayes.model import build_model

    model = build_model(X0, n_components, covariance_type, prior)
    with model:
        data = pm.Data("x_data", np.asarray(X0, dtype=float))
    # The observed variable's value is the data constant: point it at the container.
    model.rvs_to_values[model["x"]] = data
    return model


_COMPILED: dict = {}
_COMPILE_LOCK = threading.Lock()


def sample_swappable(X, n_components: int, covariance_type: str, prior, config, seed):
    """Sample the posterior of ``X`` with nutpie, compiling once per shape and prior.

    The compiled :func:`data_model` is kept per (n, d, K, type, prior) in this process, so a
    worker pays the compilation once for all its replicates of one shape.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int
    covariance_type : str
    prior : ConjugatePrior
    config : dict
        ``draws``, ``tune`` and ``chains``.
    seed : int

    Returns
    -------
    trace : arviz.InferenceData
    compile_seconds : float
        Time the compilation took (paid once per key in the process).
    sample_seconds : float
    """
    import nutpie

    n, d = X.shape
    key = (n, d, n_components, covariance_type, prior_key(prior))
    with _COMPILE_LOCK:
        if key not in _COMPILED:
            model = data_model(X, n_components, covariance_type, prior)
            start = time.perf_counter()
            _COMPILED[key] = (nutpie.compile_pymc_model(model), time.perf_counter() - start)
        compiled, compile_seconds = _COMPILED[key]
    start = time.perf_counter()
    trace = nutpie.sample(
        compiled.with_data(x_data=X),
        draws=config["draws"],
        tune=config["tune"],
        chains=config["chains"],
        seed=seed,
        progress_bar=False,
        cores=1,
    )
    return trace, compile_seconds, time.perf_counter() - start
