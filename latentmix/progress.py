"""Progress lines on stderr: one class for every command (report, teach, studies, select).

A command prints what it is doing, with the time since it started, unless it was asked to
be quiet; a long call gets a heartbeat so that a person knows it is still working; a study
counts its finished tasks and estimates the time left.
"""

from __future__ import annotations

import contextlib
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

    Parameters
    ----------
    progress : Progress
        Where the lines go.
    total : int
        Tasks in the whole study.
    done : int
        Tasks already finished (stored by an earlier run).
    """

    def __init__(self, progress: Progress, total: int, done: int = 0):
        self.progress = progress
        self.total, self.done, self.failed = total, done, 0
        self._new = 0
        self._start = time.perf_counter()
        if done:
            progress(f"resuming: {done} of {total} tasks already stored")

    def update(self, key: str, ok: bool, seconds: float, error: str = "") -> None:
        """Count one finished task and print its line."""
        self.done += 1
        self._new += 1
        self.failed += not ok
        left = (self.total - self.done) * (time.perf_counter() - self._start) / self._new
        status = "ok" if ok else f"FAILED ({error})"
        self.progress(
            f"[{self.done}/{self.total}] {key} {status} {seconds:.1f} s; "
            f"failed so far {self.failed}; ~{left / 60:.1f} min left"
        )
