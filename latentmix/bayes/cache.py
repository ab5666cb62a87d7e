"""One compiled nutpie sampler per model structure, reused with the data swapped in.

Compiling the mixture model with nutpie (numba) costs seconds to tens of seconds; sampling
faithful costs about two. Since :func:`latentmix.bayes.model.build_model` puts the data, the
observation weights and the prior's hyperparameters into data containers, one compiled
sampler serves every data set of one :class:`~latentmix.bayes.model.ModelStructure`
(K, d, covariance type, weighted or not, missingness layout): :func:`compiled_sampler`
keeps it per structure and per version key (:func:`version_key`: Python, latentmix, PyMC,
PyTensor, nutpie, numba) in this process, and hands out ``compiled.with_data(...)`` with
this data set's containers and a starting point computed from this data set's model, so
nothing of an earlier data set is ever used.

:func:`cache_dir` is where an on-disk cache lives (``$LATENTMIX_CACHE_DIR``, else
``$XDG_CACHE_HOME/latentmix/models`` or ``~/.cache/latentmix/models``); nutpie's compiled
model holds numba C callbacks that do not pickle, so nothing is written there yet (see the
module's notes in the project's issue 15).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from pathlib import Path

import numpy as np

__all__ = [
    "SOURCES",
    "cache_dir",
    "clear_memory",
    "compiled_sampler",
    "flat_start",
    "version_key",
]

#: Where a sampler came from: compiled now, reused from this process, or compiled with the
#: cache turned off.
SOURCES = ("compiled", "memory", "off")

_MEMORY: dict = {}
_LOCK = threading.Lock()


def cache_dir() -> Path:
    """The on-disk cache directory: ``$LATENTMIX_CACHE_DIR`` or the user's cache directory."""
    override = os.environ.get("LATENTMIX_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "latentmix" / "models"


def version_key() -> tuple[tuple[str, str], ...]:
    """The versions a compiled sampler depends on, as (name, version) pairs."""
    from importlib.metadata import PackageNotFoundError, version

    pairs = [("python", sys.version.split()[0])]
    for name in ("latentmix", "pymc", "pytensor", "nutpie", "numba"):
        try:
            pairs.append((name, version(name)))
        except PackageNotFoundError:
            pairs.append((name, "none"))
    return tuple(pairs)


def clear_memory() -> None:
    """Forget every sampler compiled in this process."""
    with _LOCK:
        _MEMORY.clear()


def flat_start(compiled, model, start: dict) -> np.ndarray:
    """The starting point ``start`` as nutpie's flat unconstrained vector.

    Parameters
    ----------
    compiled : nutpie CompiledPyMCModel
    model : pymc.Model
        The model of this data set (its transforms give the unconstrained values).
    start : dict
        ``weights``, ``means``, ``covariances`` (untransformed), as
        :func:`latentmix.bayes.sample.as_initial_point` gives them.

    Returns
    -------
    ndarray of shape (compiled.n_dim,)
    """
    import pytensor.tensor as pt

    point = {}
    for name, value in start.items():
        rv = model[name]
        transform = model.rvs_to_transforms[rv]
        value_name = model.rvs_to_values[rv].name
        value = np.asarray(value, dtype=float)
        if transform is not None:
            value = transform.forward(pt.as_tensor(value), *rv.owner.inputs).eval()
        point[value_name] = value
    names, slices, _ = compiled.shape_info
    flat = np.empty(compiled.n_dim)
    for name, part in zip(names, slices, strict=True):
        if part.stop <= compiled.n_dim:
            flat[part] = np.asarray(point[name], dtype=float).ravel()
    return flat


def compiled_sampler(model, structure, data: dict, start, *, cache: bool = True, compile):
    """A nutpie sampler for ``model``, reused across data sets of one structure.

    Parameters
    ----------
    model : pymc.Model
        From :func:`latentmix.bayes.model.build_model` for this data set.
    structure : ModelStructure
    data : dict
        This data set's container values (:func:`latentmix.bayes.model.model_data`).
    start : dict or None
        Where every chain starts (untransformed ``weights``, ``means``, ``covariances``;
        no jitter). None: the sampler of ``model`` itself, with
        its jittered support point; a reused sampler would start from an earlier data
        set's support point, so None is never served from the cache.
    cache : bool
        False compiles afresh and keeps nothing.
    compile : callable
        ``compile(model) -> CompiledPyMCModel`` (nutpie's compile with the sampler's settings).

    Returns
    -------
    compiled : CompiledPyMCModel
        With this data set's containers and starting point.
    source : str
        One of :data:`SOURCES`.
    """
    if not cache or start is None:
        compiled = compile(model)
        return _started(compiled, model, start), "off" if not cache else "compiled"
    key = (structure, version_key())
    with _LOCK:
        entry = _MEMORY.get(key)
        source = "memory"
        if entry is None:
            entry = compile(model)
            _MEMORY[key] = entry
            source = "compiled"
    values = {}
    for name in entry.shared_data:
        if name in data:
            values[name] = data[name]
        elif name in model.dim_lengths and hasattr(model.dim_lengths[name], "get_value"):
            values[name] = model.dim_lengths[name].get_value()
        else:  # a container no value is known for: never reuse blindly
            raise ValueError(
                f"the compiled model has a data container {name!r} that no value was given "
                "for; call latentmix.bayes.cache.clear_memory() or pass cache=False."
            )
    compiled = entry.with_data(**values)
    return _started(compiled, model, start), source


def _started(compiled, model, start):
    if start is None:
        return compiled
    flat = flat_start(compiled, model, start)
    return dataclasses.replace(compiled, initial_point_func=lambda seed=None: flat.copy())
