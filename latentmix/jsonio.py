"""JSON for everything the package writes: plain Python values, NaN as null, atomic files."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def to_jsonable(value):
    """``value`` with numpy scalars and arrays made plain Python and NaN or inf made None.

    Recursive through dicts (keys become strings), lists and tuples; the result passes
    ``json.dumps(..., allow_nan=False)``.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def dumps(data) -> str:
    """``data`` as indented JSON text (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(data), indent=1, allow_nan=False) + "\n"


def write_json(path, data) -> Path:
    """Write ``data`` as JSON so that a reader never sees half a file.

    The text goes to a temporary file beside ``path``, is flushed to disk, and is renamed
    over ``path`` in one step. The file gets the permissions of any new file (the umask's),
    not the private mode of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w") as fh:
            fh.write(dumps(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
