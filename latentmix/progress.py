"""Progress lines on stderr: one class for every command (report, teach, studies, select).

A command prints what it is doing, with the time since it started, unless it was asked to
be quiet; a long call gets a heartbeat so that a person knows it is still working; a study
counts its finished tasks and estimates the time left.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
import threading
import time


class Progress:
    """Progress lines with the elapsed time; silent when ``quiet``.

    Parameters
    ----------
    quiet : bool
        Print nothing.
    stream : file-like, optional
        Where the lines go (default: ``sys.stderr`` at the time of printing).
    """

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since this object was made."""
        return time.perf_counter() - self.start

    def __call__(self, message: str) -> None:
        """Print one progress line."""
        if not self.quiet:
            stream = self.stream or sys.stderr
            print(f"[{self.elapsed:6.1f} s] {message}", file=stream, flush=True)

    @contextlib.contextmanager
    def heartbeat(self, message: str, every: float = 15.0):
        """Print ``message (N s)`` every ``every`` seconds while the block runs."""
        stop = threading.Event()
        start = time.perf_counter()

        def beat():
            while not stop.wait(every):
                self(f"{message} ({time.perf_counter() - start:.0f} s)")

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


class TaskCounter:
    """Counts finished tasks of a study and prints one line each with the time left.

    The time left comes from the tasks' own times, not from the wall time since the start:
    the median of the measured task times, leaving out each worker's first task (it pays
    for importing and compiling, tens of seconds against a few for the others), times the
    rounds of ``n_workers`` tasks still to run. Until a worker has finished a second task
    the line says that the time left is not known yet.

    Parameters
    ----------
    progress : Progress
        Where the lines go.
    total : int
        Tasks in the whole study.
    done : int
        Tasks already finished (stored by an earlier run).
    n_workers : int
        Tasks that run at once (it can also be set later, once the workers are known).
    """

    def __init__(self, progress: Progress, total: int, done: int = 0, n_workers: int = 1):
        self.progress = progress
        self.total, self.done, self.failed = total, done, 0
        self.n_workers = n_workers
        self._seen: set = set()
        self._times: list[float] = []
        if done:
            progress(f"resuming: {done} of {total} tasks already stored")

    def update(self, key: str, ok: bool, seconds: float, error: str = "", worker=None) -> None:
        """Count one finished task and print its line.

        ``worker`` names where the task ran and what it had compiled (any hashable, e.g.
        the worker and the sample size); the first task of each is left out of the
        estimate. Tasks given no worker count as run by one.
        """
        self.done += 1
        self.failed += not ok
        if worker in self._seen:
            if math.isfinite(seconds):  # a lost worker's task has no time
                self._times.append(float(seconds))
        else:
            self._seen.add(worker)
        status = "ok" if ok else f"FAILED ({error})"
        self.progress(
            f"[{self.done}/{self.total}] {key} {status} {seconds:.1f} s; "
            f"failed so far {self.failed}; {self._time_left()}"
        )

    def estimate(self) -> float | None:
        """Seconds left by the measured task times, or None before any was measured."""
        if not self._times:
            return None
        rounds = math.ceil(max(self.total - self.done, 0) / max(int(self.n_workers), 1))
        return rounds * statistics.median(self._times)

    def _time_left(self) -> str:
        left = self.estimate()
        if left is None:
            return "time left known after a worker's second task"
        return f"~{format_duration(left)} left"


def format_duration(seconds: float) -> str:
    """``45 s``, ``4.7 min`` or ``2.3 h``: a duration in the unit that reads best."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
