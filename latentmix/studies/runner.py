"""Run the replicates of a study as Dask tasks, storing each one the moment it finishes.

A study is a list of :class:`Replicate` keys (sample size, index) and a task function
``task(config, n, index) -> dict``. :func:`run_study`

* claims ``OUT`` through :func:`latentmix.output.claim_output` (a new or empty directory, or
  an earlier output of the same study command; anything else is refused), writes
  ``OUT/study.json`` (the configuration) and refuses to mix two studies in one folder;
* skips every replicate whose ``OUT/replicates/<key>.json`` already holds a whole record made
  under the current settings, so re-running the same command resumes an interrupted study;
  a torn or malformed record, or one made under other settings (each record carries the
  hash of the study's settings, :func:`config_hash`), is redone and the progress says so;
* runs the remaining replicates where ``scheduler`` says (see :func:`run_study`), one task
  each;
* writes each finished replicate atomically (:func:`latentmix.jsonio.write_json`) as soon as
  it arrives; a task that raises is stored with ``status: "failed"`` and its error, never
  dropped. An interrupt (Ctrl-C) is not a failure: it ends the study and the interrupted
  replicate is not stored, so the next run redoes it; with parallel workers, nothing a
  worker returns after the interrupt is stored (:func:`run_guarded`).

The pages are written at the end by :func:`write_pages`, through
:func:`latentmix.output.replace_output`: the earlier pages are replaced whole, the stored
replicates and ``study.json`` are kept, and a file the user put into ``OUT`` survives.

Seeds come from one study seed: replicate (n, i) uses
``numpy.random.SeedSequence(seed, spawn_key=(n, i))``, so a replicate's numbers do not depend
on which worker ran it, in which order, or whether it ran at all before an interruption.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from latentmix.jsonio import to_jsonable, write_json
from latentmix.output import claim_output, replace_output
from latentmix.progress import Progress, TaskCounter

REPLICATES = "replicates"
CONFIG_FILE = "study.json"
SUMMARY_FILE = "summary.json"
#: What a study writes itself into OUT while it runs, and keeps when it renders its pages.
STORED = (REPLICATES, CONFIG_FILE)
#: Fields every stored record holds (and a failed one also ``error``).
RECORD_FIELDS = ("status", "key", "n", "index", "config")
#: The field naming the process and thread a replicate ran in; never stored.
WORKER = "_worker"


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


def config_hash(config: dict) -> str:
    """A short hash of a study's settings, stored in every replicate record as ``config``."""
    text = json.dumps(to_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stored_state(path: Path, rep: Replicate, digest: str, required, legacy: bool) -> str:
    """``"done"``, ``"missing"``, ``"malformed"`` or ``"other settings"``.

    ``legacy``: a record without ``config`` (written by an earlier release) counts as made
    under the current settings, because ``study.json`` was there and matched.
    """
    if not path.exists():
        return "missing"
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "malformed"  # a torn file from a crash outside write_json: redo it
    if not isinstance(record, dict):
        return "malformed"
    if "config" not in record and legacy:
        record = {**record, "config": digest}
    fields = [*RECORD_FIELDS, *(required if record.get("status") == "ok" else ("error",))]
    if any(f not in record for f in fields) or record["status"] not in ("ok", "failed"):
        return "malformed"
    if record["key"] != rep.key:
        return "malformed"
    if record["config"] != digest:
        return "other settings"
    return "done"


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}): it holds {what}. Restore it, or delete it and "
            "re-run the study command with the settings you want (replicates made under "
            "other settings are then redone)."
        ) from None


def check_config(out: Path, config: dict) -> bool:
    """Write ``OUT/study.json``, or check that the one there describes the same study.

    Returns whether ``study.json`` was already there (and matched).
    """
    path = Path(out) / CONFIG_FILE
    config = to_jsonable(config)
    if path.exists():
        stored = _read_json(path, "the settings of this study")
        if not isinstance(stored, dict):
            raise ValueError(
                f"{path} does not hold a study's settings (a JSON object); restore it, or "
                "delete it and re-run."
            )
        if stored != config:
            changed = sorted(
                k for k in set(stored) | set(config) if stored.get(k) != config.get(k)
            )
            if "method" in changed:
                raise ValueError(
                    f"{out} was made by an earlier version of this study, whose tasks fit "
                    f"differently (method {stored.get('method', 1)}, now {config['method']}); "
                    "its records cannot be resumed: choose a new --out, or delete the "
                    "directory and re-run."
                )
            raise ValueError(
                f"{out} holds a different study (settings differ: {', '.join(changed)}); "
                "re-run with the original settings to resume it, or choose a new --out."
            )
        return True
    write_json(path, config)
    return False


def read_stored(out) -> tuple[dict, dict]:
    """``(study.json, summary.json)`` of a finished study: all its pages are made from."""
    out = Path(out)
    return (
        _read_json(out / CONFIG_FILE, "the settings of this study"),
        _read_json(out / SUMMARY_FILE, "the summary the pages are made from"),
    )


def write_pages(out, command: str, render: Callable[[Path], object]):
    """Write a study's pages: ``render(staging)`` writes them, the stored replicates stay.

    Parameters
    ----------
    out : path
        The study's output directory (claimed by :func:`run_study`).
    command : str
        The study command, e.g. ``"study coverage"``.
    render : callable
        ``render(directory)`` writes the summary, pages and figures into ``directory``.

    Returns
    -------
    Whatever ``render`` returned, with paths inside the staging directory moved to ``out``.
    """
    out = Path(out).absolute()
    with replace_output(out, command, keep=STORED) as staging:
        result = render(staging)
    return _moved(result, staging, out)


def _moved(value, staging: Path, out: Path):
    """Paths under the staging directory, rewritten to where they now are."""
    if isinstance(value, tuple):
        return tuple(_moved(v, staging, out) for v in value)
    if isinstance(value, Path) and value.is_relative_to(staging):
        return out / value.relative_to(staging)
    return value


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
    # Where it ran, for the progress estimate only (taken out before the record is stored).
    record[WORKER] = f"{os.getpid()}-{threading.get_ident()}"
    return record


def run_study(
    task: Callable,
    config: dict,
    reps: list[Replicate],
    out,
    *,
    command: str,
    scheduler=None,
    n_workers: int = 2,
    processes: bool = True,
    quiet: bool = False,
    required=(),
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
        Claimed for ``command`` (see :func:`latentmix.output.claim_output`).
    command : str
        The study command recorded in the output's manifest, e.g. ``"study coverage"``.
    scheduler : None, str or dask.distributed.Client
        Where the tasks run, with the meaning it has for EM
        (:func:`latentmix.em.chunked.dask_scheduler`): None is dask's current default (the
        active ``dask.distributed.Client`` if there is one, else dask's threads);
        ``"synchronous"`` runs them one after another in this process; ``"threads"`` and
        ``"processes"`` are dask's local schedulers; ``"local"`` starts a ``LocalCluster``
        for the study (``n_workers`` workers of one thread, worker processes unless
        ``processes=False``); an address (``tcp://host:8786``) or a Client uses that cluster.
    n_workers : int
        Workers of the ``"local"`` cluster.
    processes : bool
        ``"local"``: worker processes (default) or threads in this process.
    quiet : bool
        No progress lines.
    required : iterable of str
        Fields a successful record of this study must hold; a stored record without them
        is malformed and redone.

    Returns
    -------
    list of dict
        All stored replicate records (finished earlier or now), sorted by key.
    """
    check_scheduler(scheduler, n_workers)
    out = claim_output(out, command, owned=STORED)
    legacy = check_config(out, config)
    digest = config_hash(config)
    required = tuple(required)
    states = {
        rep: _stored_state(replicate_path(out, rep), rep, digest, required, legacy) for rep in reps
    }
    todo = [rep for rep in reps if states[rep] != "done"]
    # Index-major order: a study stopped early has the same number of replicates at every n.
    todo.sort(key=lambda rep: (rep.index, rep.n))
    progress = Progress(quiet)
    for state in ("malformed", "other settings"):
        keys = sorted(rep.key for rep in reps if states[rep] == state)
        if keys:
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            why = "malformed" if state == "malformed" else "made under other settings"
            progress(f"redoing {len(keys)} stored replicate(s) {why}: {shown}")
    counter = TaskCounter(progress, len(reps), len(reps) - len(todo))

    def store(rep: Replicate, record: dict) -> None:
        worker = record.pop(WORKER, None)
        record["config"] = digest
        write_json(replicate_path(out, rep), record)
        ok = record["status"] == "ok"
        error = "" if ok else record.get("error", "")
        # A worker's first posterior of a model structure compiles it or loads it from disk: slow.
        counter.update(rep.key, ok, record["seconds"], error, worker=(worker, rep.n))

    if todo:
        _run(task, config, todo, store, scheduler, n_workers, processes, counter)
    wanted = {rep.key for rep in reps}
    return [
        r
        for r in load_replicates(out)
        if r.get("key") in wanted and r.get("config", digest if legacy else None) == digest
    ]


def check_scheduler(scheduler, n_workers: int = 2) -> None:
    """Refuse a scheduler name or worker count that cannot work, before anything is claimed."""
    from latentmix.em.chunked import SCHEDULERS

    if isinstance(scheduler, str) and scheduler not in SCHEDULERS and ":" not in scheduler:
        raise ValueError(
            f"--scheduler must be one of {', '.join(SCHEDULERS)} or a scheduler address such "
            f"as tcp://127.0.0.1:8786; got {scheduler!r}."
        )
    if scheduler == "local" and int(n_workers) < 1:
        raise ValueError(f"--workers must be at least 1; got {n_workers}.")


def check_count(option: str, value, minimum: int) -> int:
    """``value`` as an int, refused with the option's name unless it is at least ``minimum``."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{option} must be a whole number of at least {minimum}; got {value!r}.")
    return int(value)


def check_choice(option: str, value, choices) -> None:
    """Refuse ``value`` unless it is one of ``choices``, naming the option and the choices."""
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(map(str, choices))}; got {value!r}.")


def finish_status(records: list[dict], out, failed: Callable[[dict], bool] | None = None) -> int:
    """The exit status of a study: 1 (with a line on stderr) when every replicate failed.

    ``failed(record)`` says whether a record failed as a whole (default: its status).
    """
    import sys

    failed = failed or (lambda r: r.get("status") != "ok")
    n_failed = sum(bool(failed(r)) for r in records)
    if records and n_failed < len(records):
        return 0
    where = Path(out).absolute() / REPLICATES
    print(
        f"latentmix study: error: all {n_failed} of {len(records)} replicates failed; each "
        f"error is stored in {where}/<key>.json (field 'error') and listed on the study's page.",
        file=sys.stderr,
    )
    return 1


def _run(task, config, todo, store, scheduler, n_workers, processes, counter=None) -> None:
    """Run ``todo`` where ``scheduler`` says, calling ``store(rep, record)`` as each ends.

    ``counter`` (a :class:`~latentmix.progress.TaskCounter`) is told how many replicates
    run at once, for its estimate of the time left.
    """
    from latentmix.em.chunked import dask_scheduler

    # A study's local cluster: one thread per worker (PyTensor and nutpie compile per process
    # and hold the GIL), as many workers as asked for.
    local = {"n_workers": n_workers, "threads_per_worker": 1, "processes": processes}
    with dask_scheduler(scheduler, local_cluster=local) as resolved:
        if resolved is None:
            resolved = _current_default()
        if scheduler == "local" and processes:
            resolved.run(quiet_worker)  # the study's own worker processes
        if counter is not None:
            counter.n_workers = _parallelism(resolved)
        if resolved == "synchronous":
            for rep in todo:
                why = f"replicate {rep.key} was not stored; re-run the same command to resume"
                try:
                    with _interrupts_seen() as seen:
                        record = run_replicate(task, config, rep)
                except KeyboardInterrupt:
                    raise KeyboardInterrupt(why) from None
                if seen:  # a library caught the Ctrl-C (nutpie does): not a result
                    raise KeyboardInterrupt(why)
                store(rep, record)
        else:
            _run_parallel(resolved, task, config, todo, store)


def quiet_worker() -> None:
    """Set up a worker process of the study's own cluster: no PyTensor BLAS warning in it.

    The models are sampled by nutpie (numba), which needs no BLAS; PyTensor says once per
    process that it found none, which would be one alarming paragraph per worker. The
    filter is the one of :func:`latentmix.bayes.sample.quiet_compile`, kept for the life
    of the process (the worker's whole life is the study).
    """
    import warnings

    warnings.filterwarnings("ignore", "PyTensor could not link to a BLAS", UserWarning)


def _parallelism(resolved) -> int:
    """How many replicates run at once where ``resolved`` says."""
    if resolved == "synchronous":
        return 1
    if isinstance(resolved, str):  # dask's threads or processes: a pool of num_workers
        import dask

        return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    try:
        return max(sum(resolved.nthreads().values()), 1)
    except Exception:  # a client that cannot say: one at a time, the cautious estimate
        return 1


#: The status of the marker a worker returns for a replicate a Ctrl-C reached: never stored.
INTERRUPTED = "interrupted"


def run_guarded(task: Callable, config: dict, rep: Replicate) -> dict:
    """:func:`run_replicate` in a worker: a Ctrl-C that reaches it gives a marker, not a record.

    In a worker process the interrupt arrives as a KeyboardInterrupt in the task, or is
    caught by a library that returns what it has (nutpie's partial trace); either way the
    result is ``{"status": "interrupted", ...}``, which the study never stores.
    """
    try:
        with _interrupts_seen() as seen:
            record = run_replicate(task, config, rep)
    except KeyboardInterrupt:
        seen = True
    if seen:
        return {"status": INTERRUPTED, "key": rep.key, "n": rep.n, "index": rep.index}
    return record


def _run_parallel(resolved, task, config, todo, store) -> None:
    """The dask paths, with the serial path's guarantee: an interrupt stores nothing false.

    A Ctrl-C in the terminal reaches this process and the workers alike. What a worker
    returns after it (an interrupted marker, a failure caused by the interrupt, a lost
    worker) is not stored; the replicates finished before it are; then KeyboardInterrupt
    says so (the command exits 130).
    """
    lost = []
    seen = _Seen()

    def guarded_store(rep, record):
        if seen or record.get("status") == INTERRUPTED:
            lost.append(rep.key)
            return
        store(rep, record)

    try:
        with _interrupts_seen() as seen:
            if isinstance(resolved, str):
                _run_local(resolved, task, config, todo, guarded_store)
            else:
                _run_client(resolved, task, config, todo, guarded_store)
    except BaseException:
        if not (seen or lost):
            raise
    if seen or lost:
        shown = ", ".join(sorted(lost)[:3]) + (
            f" and {len(lost) - 3} more" if len(lost) > 3 else ""
        )
        what = (
            f"replicate(s) {shown} and any still running were"
            if lost
            else "the replicates still running were"
        )
        raise KeyboardInterrupt(
            f"{what} not stored (the finished ones are); re-run the same command to resume"
        ) from None


class _Seen:
    def __init__(self):
        self.count = 0

    def __bool__(self):
        return self.count > 0


@contextlib.contextmanager
def _interrupts_seen():
    """Count SIGINTs while the block runs (still raising KeyboardInterrupt as usual).

    Some libraries catch the KeyboardInterrupt and return what they have (nutpie returns a
    partial trace), so a replicate interrupted by Ctrl-C could come back as a record; a study
    must not store that record.
    """
    seen = _Seen()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        seen.count += 1
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def _current_default():
    """Dask's current default scheduler: the active distributed Client, else ``"threads"``."""
    import dask

    configured = dask.config.get("scheduler", None)
    if isinstance(configured, str) and configured in ("synchronous", "sync", "single-threaded"):
        return "synchronous"
    if isinstance(configured, str) and configured in ("threads", "processes"):
        return configured
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):  # no active Client
        return "threads"


def _run_local(scheduler: str, task, config, todo, store) -> None:
    """Dask's threads or processes scheduler; each record is stored as its task ends."""
    import dask
    from dask.callbacks import Callback

    by_key = {f"replicate-{rep.key}": rep for rep in todo}
    tasks = [
        dask.delayed(run_guarded, pure=False)(task, config, rep, dask_key_name=key)
        for key, rep in by_key.items()
    ]

    # dask calls posttask in this process as each task's result arrives.
    def posttask(key, result, dsk, state, worker_id):
        if key in by_key:
            store(by_key[key], result)

    with Callback(posttask=posttask):
        dask.compute(*tasks, scheduler=scheduler)


def _run_client(client, task, config, todo, store) -> None:
    """A dask.distributed cluster; the client writes each result: workers need not share a disk."""
    from distributed import as_completed

    futures = {client.submit(run_guarded, task, config, rep, pure=False): rep for rep in todo}
    for future in as_completed(futures, loop=client.loop):
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
        store(rep, record)
