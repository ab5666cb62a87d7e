"""BLAS threads: the one limiter every layer uses.

The linear algebra of EM blocks and of the PyMC model is on small matrices, where a
multi-threaded OpenBLAS spends milliseconds waking threads for microseconds of work; the
package runs its own parallel work (row blocks on a thread pool, chains in parallel) and
holds BLAS to one thread inside it.
"""

from __future__ import annotations

import contextlib
import os
import threading

from threadpoolctl import ThreadpoolController

_LOCK = threading.Lock()
_STATE: dict = {"controller": None, "limiter": None, "depth": 0}


def n_threads() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread inside the block (restored afterwards).

    The BLAS thread count is process-wide, so concurrent users (say, fits in a thread pool)
    share one limit: the first to enter sets it and the last to leave restores it.
    """
    with _LOCK:
        if _STATE["depth"] == 0:
            if _STATE["controller"] is None:
                _STATE["controller"] = ThreadpoolController()
            _STATE["limiter"] = _STATE["controller"].limit(limits=1, user_api="blas")
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0:
                _STATE["limiter"].restore_original_limits()
                _STATE["limiter"] = None
