"""One compiled nutpie sampler per model structure, reused with the data swapped in.

Compiling the mixture model with nutpie (numba) costs seconds to minutes; sampling faithful
costs about two. Since :func:`latentmix.bayes.model.build_model` puts the data, the
observation weights and the prior's hyperparameters into data containers, one compiled
sampler serves every data set of one :class:`~latentmix.bayes.model.ModelStructure`
(K, d, covariance type, weighted or not, missingness layout). :func:`compiled_sampler` keeps
it per structure and per version key (:func:`version_key`: Python, latentmix, PyMC,
PyTensor, nutpie, numba, and a digest of this module and the model's source) in this
process and on disk, and hands out ``compiled.with_data(...)`` with this data set's
containers and a starting point computed from this data set's model, so nothing of an
earlier data set is ever used. Several starting points (:class:`Starts`) start chain c at
point c mod their number: nutpie gives its initial-point function only a seed, and
:func:`chain_seeds` tells which chain that seed belongs to.

The disk cache (:func:`cache_dir`; :func:`clear_disk` empties it) holds, per key, numba's
cached machine code of two C callbacks and ``meta.json`` (sizes, names, shapes of the
containers). nutpie's compiled model does not pickle, and its callbacks close over arrays,
which numba cannot cache; the callbacks here are generated from source that reads every
container through the pointer, size and shape nutpie's ``user_data`` record holds (so
``with_data`` keeps working), and numba caches them under the entry. A second process loads
them without building the PyTensor graph or running LLVM. One file lock per key makes a
second process wait for the first's compile and then load it; an entry that fails to load
(partial, corrupt, another CPU) is removed and compiled again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np

__all__ = [
    "SOURCES",
    "Starts",
    "cache_dir",
    "chain_seeds",
    "clear_disk",
    "clear_memory",
    "compiled_sampler",
    "flat_start",
    "version_key",
]

#: Where a sampler came from: compiled now, reused from this process, loaded from the disk
#: cache, or compiled with the cache turned off.
SOURCES = ("compiled", "memory", "disk", "off")

_MEMORY: dict = {}
_LOCK = threading.Lock()
#: Generated callback -> (entry directory, key), read by numba's cache locator below.
_ENTRY_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCATOR: list = []
#: Bumped when the generated source or meta.json changes meaning.
_FORMAT = 2


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


def _source_digest() -> str:
    """A digest of the source that fixes the compiled graph (the model) and the callbacks."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(_FORMAT).encode())
    for name in ("model.py", "likelihood.py", "kernels.py", "distributions.py", "cache.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def entry_key(structure, var_names) -> str:
    """The disk cache's key (hex) of one structure under the current versions and source."""
    text = repr((tuple(structure), version_key(), _source_digest(), tuple(var_names)))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def clear_memory() -> None:
    """Forget every sampler compiled in this process."""
    with _LOCK:
        _MEMORY.clear()


def clear_disk() -> None:
    """Remove every compiled sampler from the disk cache (:func:`cache_dir`)."""
    shutil.rmtree(cache_dir(), ignore_errors=True)


class Starts(dict):
    """Several starting points for the chains, passed where one starting point goes.

    The mapping itself is the first point (untransformed ``weights``, ``means``,
    ``covariances``), so whatever takes one starting point (nutpie's own compile, PyMC's
    ``initvals``) starts every chain there; :func:`compiled_sampler` starts chain c near
    ``points[c % len(points)]``. A dict, not a list: ``bayes.sample`` passes its
    ``initial_point`` through ``dict(...)`` before handing it to :func:`compiled_sampler`.

    Parameters
    ----------
    points : list of dict
        Each start as :func:`latentmix.bayes.sample.as_initial_point` gives it; the first is
        the best.
    seed : int
        The seed nutpie samples with: its per-chain seeds follow from it (:func:`chain_seeds`).
    chains : int

    Attributes
    ----------
    points, seed, chains
        As given.
    chain_start : dict of int to int
        Filled as the chains start: chain -> index in ``points`` of the point it started
        near. A chain whose seed was not recognised started at point 0 and is left out.
    """

    def __init__(self, points, *, seed: int, chains: int):
        if not points:
            raise ValueError("Starts needs at least one point.")
        super().__init__(points[0])
        self.points = list(points)
        self.seed = int(seed)
        self.chains = int(chains)
        self.chain_start = {}


_MASK64 = (1 << 64) - 1
#: Tries per chain whose seeds :func:`chain_seeds` gives: two ChaCha blocks' worth.
_TRIES = 12


def chain_seeds(seed: int, chains: int) -> np.ndarray:
    """The seeds nutpie passes to ``initial_point_func``, per chain and try.

    nutpie (nuts-rs 0.17) seeds chain c with ``ChaCha8Rng::seed_from_u64(seed)`` on stream
    ``c + 1``; the chain's own generator takes the first 32 bytes of that stream, and each
    try at an initial point then takes the next u64 and calls ``initial_point_func`` with
    it (a retry, after a start of non-finite density, takes the one after). So the seed a
    chain's start is drawn with tells the chain, which ``initial_point_func`` is not given.
    Computed here with numpy; ``tests/bayes/test_cache_starts.py`` checks it against the
    installed nutpie, and a seed it does not predict starts at the first point.

    Parameters
    ----------
    seed : int
        The ``seed`` given to ``nutpie.sample``.
    chains : int

    Returns
    -------
    ndarray of uint64, shape (chains, 12)
        ``[c, t]``: the seed of chain c's try t.
    """
    state, key = int(seed) & _MASK64, []
    for _ in range(8):  # rand_core's seed_from_u64: a PCG32 stream fills the 32-byte key
        state = (state * 6364136223846793005 + 11634580027462260723) & _MASK64
        xorshifted = (((state >> 18) ^ state) >> 27) & 0xFFFFFFFF
        rot = state >> 59
        key.append(((xorshifted >> rot) | (xorshifted << (-rot & 31))) & 0xFFFFFFFF)
    streams = np.arange(1, chains + 1, dtype=np.uint64)
    blocks = [_chacha8(np.array(key, np.uint32), counter, streams) for counter in (0, 1)]
    # Words 0..7 seeded the chain's generator; each try takes two words (low, high).
    words = np.concatenate(blocks)[8 : 8 + 2 * _TRIES].astype(np.uint64)
    return (words[0::2] | (words[1::2] << np.uint64(32))).T


def _chacha8(key: np.ndarray, counter: int, streams: np.ndarray) -> np.ndarray:
    """One ChaCha8 block (16 words) per stream: shape (16, len(streams)), uint32."""
    state = np.empty((16, len(streams)), dtype=np.uint32)
    state[:4] = np.array([0x61707865, 0x3320646E, 0x79622D32, 0x6B206574], np.uint32)[:, None]
    state[4:12] = key[:, None]
    state[12], state[13] = counter & 0xFFFFFFFF, counter >> 32
    state[14] = (streams & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    state[15] = (streams >> np.uint64(32)).astype(np.uint32)
    x = state.copy()

    def quarter(a, b, c, d):
        for p, q, r, shift in ((a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)):
            x[p] += x[q]
            v = x[r] ^ x[p]
            x[r] = (v << np.uint32(shift)) | (v >> np.uint32(32 - shift))

    for _ in range(4):  # 8 rounds: a column and a diagonal round each time
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15)):
            quarter(a, b, c, d)
        for a, b, c, d in ((0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            quarter(a, b, c, d)
    return x + state


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
    from pytensor.compile.mode import Mode

    point = {}
    for name, value in start.items():
        rv = model[name]
        transform = model.rvs_to_transforms[rv]
        value_name = model.rvs_to_values[rv].name
        value = np.asarray(value, dtype=float)
        if transform is not None:
            # A few small ops: interpreted, since compiling them to C took over a second.
            forward = transform.forward(pt.as_tensor(value), *rv.owner.inputs)
            value = forward.eval(mode=Mode(linker="py", optimizer="fast_compile"))
        point[value_name] = value
    names, slices, _ = compiled.shape_info
    flat = np.empty(compiled.n_dim)
    for name, part in zip(names, slices, strict=True):
        if part.stop <= compiled.n_dim:
            flat[part] = np.asarray(point[name], dtype=float).ravel()
    return flat


def compiled_sampler(
    model, structure, data: dict, start, *, cache: bool = True, compile, var_names=None
):
    """A nutpie sampler for ``model``, reused across data sets of one structure.

    Parameters
    ----------
    model : pymc.Model
        From :func:`latentmix.bayes.model.build_model` for this data set.
    structure : ModelStructure
    data : dict
        This data set's container values (:func:`latentmix.bayes.model.model_data`).
    start : dict, Starts or None
        Where the chains start (untransformed ``weights``, ``means``, ``covariances``),
        each jittered by its seed (:func:`_started`); a :class:`Starts` starts chain c at its
        point c mod their number. None: the sampler of ``model`` itself, with its jittered
        support point; a reused sampler would start from an earlier data set's support
        point, so None is never served from the cache.
    cache : bool
        False compiles afresh and keeps nothing (in memory or on disk).
    compile : callable
        ``compile(model) -> CompiledPyMCModel`` (nutpie's compile with the sampler's
        settings), used when nothing is kept.
    var_names : list of str, optional
        The variables the trace keeps. None: the in-process cache only, through ``compile``.

    Returns
    -------
    compiled : CompiledPyMCModel
        With this data set's containers and starting point.
    source : str
        One of :data:`SOURCES`.
    """
    if not cache or start is None:
        compiled = compile(model)
        return _started(compiled, model, start, _n_rows(data)), "off" if not cache else "compiled"
    key = (structure, version_key(), None if var_names is None else tuple(var_names))
    with _LOCK:
        entry = _MEMORY.get(key)
        source = "memory"
        if entry is None:
            if var_names is None:
                entry, source = compile(model), "compiled"
            else:
                entry, source = _from_disk(model, structure, var_names)
            _MEMORY[key] = entry
    values = {}
    for name in entry.shared_data:
        if name in data:
            values[name] = data[name]
        elif name in model.dim_lengths and hasattr(model.dim_lengths[name], "get_value"):
            values[name] = model.dim_lengths[name].get_value()
        else:  # a container no value is known for: never reuse blindly
            raise ValueError(
                f"the compiled model has a data container {name!r} that no value was given "
                "for; call latentmix.bayes.cache.clear_memory() and clear_disk(), or pass "
                "cache=False."
            )
    compiled = entry.with_data(**values)
    return _started(compiled, model, start, _n_rows(data)), source


def _started(compiled, model, start, n_rows: float):
    """``compiled`` with every chain starting near ``start``, jittered per chain's seed.

    The jitter is normal with sd ``1 / sqrt(n_rows)`` in every unconstrained coordinate,
    about one posterior sd. At the mode itself the gradient vanishes, and nutpie sets its
    first mass matrix from the gradient: at n = 1e5 the first tuning steps took trajectories
    of about 170 gradients, and 300 iterations of two chains 111 s against 65 s jittered.

    With a :class:`Starts` of several points, chain c starts near point c mod their number,
    told by its seed (:func:`chain_seeds`), and ``start.chain_start`` records it; a seed
    not predicted starts near point 0. The jitter comes from the seed in both cases, so a
    run is reproduced by its sampler seed.
    """
    if start is None:
        return compiled
    points = getattr(start, "points", [start])
    flats = [flat_start(compiled, model, point) for point in points]
    scale = 1.0 / np.sqrt(max(float(n_rows), 1.0))
    chain_of = {}
    if len(flats) > 1:
        seeds = chain_seeds(start.seed, start.chains)
        chain_of = {int(s): c for c, row in enumerate(seeds) for s in row}

    def initial_point(seed=None):
        chain = chain_of.get(seed)
        index = 0 if chain is None else chain % len(flats)
        if chain is not None:
            start.chain_start[chain] = index
        flat = flats[index]
        return flat + scale * np.random.default_rng(seed).standard_normal(flat.shape)

    return dataclasses.replace(compiled, initial_point_func=initial_point)


def _n_rows(data: dict) -> float:
    """The data's weight in the likelihood: the sum of the observation weights, or n."""
    if data.get("sample_weight") is not None:
        return float(np.sum(data["sample_weight"]))
    return float(np.shape(data["x_data"])[0])


# --- the disk cache -------------------------------------------------------------------------


def _from_disk(model, structure, var_names):
    """Load the structure's sampler from the disk cache, or compile it and store it there.

    Returns ``(compiled, source)`` with ``source`` "disk" or "compiled". The compiled model
    carries ``model``'s container values; the caller swaps in its own.
    """
    import fcntl

    key = entry_key(structure, var_names)
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    with open(root / f"{key}.lock", "w") as lock:
        # A second process waits here for the first's compile, then loads it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            meta = _load_meta(entry, key)
            if meta is not None:
                callbacks = _load_callbacks(meta, entry, key)
                if callbacks is not None:
                    return _assemble(model, meta, *callbacks), "disk"
            shutil.rmtree(entry, ignore_errors=True)  # partial or stale: start again
            meta, callbacks = _compile(model, entry, key, var_names)
            _write_meta(entry, meta)
            return _assemble(model, meta, *callbacks), "compiled"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load_meta(entry: Path, key: str) -> dict | None:
    """The entry's meta.json, or None when it is missing, unreadable or of another key."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key or meta.get("format") != _FORMAT:
        return None
    return meta


def _write_meta(entry: Path, meta: dict) -> None:
    # Written last, through a temporary file: an entry with meta.json is complete.
    fd, tmp = tempfile.mkstemp(dir=entry, prefix=".meta-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(meta, f)
    os.replace(tmp, entry / "meta.json")


def _load_callbacks(meta: dict, entry: Path, key: str):
    """The two callbacks from numba's cache under ``entry``, or None if they do not load."""
    import numba

    def not_compiled(*args):  # never called: a cache hit does not type the callback
        raise RuntimeError("the cached sampler's inner function is missing")

    try:
        stub = numba.njit(not_compiled)
        callbacks = _callbacks(meta, entry, key, stub, stub)
    except Exception:  # any failure to load is a miss, compiled afresh
        return None
    if any(c.cache_hits != 1 for c in callbacks):
        return None
    return callbacks


def _compile(model, entry: Path, key: str, var_names):
    """Compile ``model`` with nutpie's graph functions; numba caches the callbacks."""
    from nutpie.compile_pymc import _make_functions, make_user_data
    from pymc.initial_point import make_initial_point_fn

    from latentmix.bayes.sample import quiet_compile

    point_fn = make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True)
    with quiet_compile():
        n_dim, n_expanded, logp_fn, expand_fn, _, shape_info = _make_functions(
            model,
            mode="NUMBA",
            compute_grad=True,
            join_expanded=True,
            pymc_initial_point_fn=point_fn,
            var_names=var_names,
        )
    shared = {}
    for var in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if var.name in shared and shared[var.name] is not var:
            raise ValueError(f"two data containers are named {var.name!r}; rename one.")
        shared[var.name] = var
    values = {name: np.array(var.get_value(), order="C") for name, var in shared.items()}
    user_data = make_user_data(shared, values)
    names, slices, shapes = shape_info
    meta = {
        "key": key,
        "format": _FORMAT,
        "n_dim": int(n_dim),
        "n_expanded": int(n_expanded),
        "containers": [[n, int(v.ndim), v.dtype.name] for n, v in values.items()],
        "logp_args": [var.name for var in logp_fn.get_shared()],
        "expand_args": [var.name for var in expand_fn.get_shared()],
        "itemsize": int(user_data.dtype.itemsize),
        "offsets": _offsets(user_data.dtype, list(values)),
        "shape_info": [
            list(names),
            [[int(part.start), int(part.stop)] for part in slices],
            [[int(n) for n in shape] for shape in shapes],
        ],
    }
    entry.mkdir(parents=True, exist_ok=True)
    with quiet_compile():  # numba compiles the graph's functions into the callbacks here
        callbacks = _callbacks(meta, entry, key, logp_fn.vm.jit_fn, expand_fn.vm.jit_fn)
    return meta, callbacks


def _record_dtype(containers) -> np.dtype:
    """The record of nutpie's ``user_data``: each container's address, size and shape."""
    return np.dtype(
        [
            (
                "shared",
                [
                    ("data", [(name, np.uintp) for name, _, _ in containers]),
                    ("size", [(name, np.uintp) for name, _, _ in containers]),
                    ("shape", [(name, np.uint, (ndim,)) for name, ndim, _ in containers]),
                ],
            )
        ]
    )


def _offsets(dtype: np.dtype, names) -> dict:
    """Each container's (address, size, shape) offsets in the record, in 8-byte words."""
    shared = dtype["shared"]
    base = dtype.fields["shared"][1]
    offsets = {}
    for name in names:
        offsets[name] = [
            (base + shared.fields[part][1] + shared[part].fields[name][1]) // 8
            for part in ("data", "size", "shape")
        ]
    return offsets


def _callback_source(meta: dict) -> str:
    """Python source of the logp and expand callbacks, with no arrays closed over."""
    kinds = {name: (ndim, dtype) for name, ndim, dtype in meta["containers"]}

    def unpack(names):
        lines = []
        for i, name in enumerate(names):
            address, size, shape = meta["offsets"][name]
            ndim, dtype = kinds[name]
            dims = "".join(f"np.intp(ud[{shape + j}]), " for j in range(ndim))
            lines.append(
                f"    a{i} = carray(as_pointer(ud[{address}]), (np.intp(ud[{size}]),), "
                f"np.{dtype}).reshape(({dims}))"
            )
        return lines, "".join(f", a{i}" for i in range(len(names)))

    n_dim, n_expanded, words = meta["n_dim"], meta["n_expanded"], meta["itemsize"] // 8
    logp_lines, logp_args = unpack(meta["logp_args"])
    expand_lines, expand_args = unpack(meta["expand_args"])
    # The callbacks' try blocks hold one call each: numba splits a try block at every call
    # that may raise, and the unpacking inside one made the SSA pass quadratic (a first
    # compile of faithful's model took 120 s instead of 30).
    return "\n".join(
        [
            "def logp_body(x_, out_, logp_, user_data_):",
            f"    ud = carray(user_data_, ({words},), np.uint64)",
            *logp_lines,
            f"    x = carray(x_, ({n_dim},))",
            f"    out = carray(out_, ({n_dim},))",
            "    logp = carray(logp_, ())",
            f"    logp_val, grad = inner_logp(x{logp_args})",
            "    logp[()] = logp_val",
            "    out[...] = grad",
            "    if not np.all(np.isfinite(out)):",
            "        return 3",
            "    if not np.isfinite(logp_val):",
            "        return 4",
            "    return 0",
            "",
            "",
            "def logp_callback(dim, x_, out_, logp_, user_data_):",
            f"    if dim != {n_dim}:",
            "        return -1",
            "    try:",
            "        return logp_body(x_, out_, logp_, user_data_)",
            "    except Exception:",
            "        return 1",
            "",
            "",
            "def expand_body(x_, out_, user_data_):",
            f"    ud = carray(user_data_, ({words},), np.uint64)",
            *expand_lines,
            f"    x = carray(x_, ({n_dim},))",
            f"    out = carray(out_, ({n_expanded},))",
            f"    (values,) = inner_expand(x{expand_args})",
            "    out[...] = values",
            "    return 0",
            "",
            "",
            "def expand_callback(dim, expanded, x_, out_, user_data_):",
            f"    if dim != {n_dim} or expanded != {n_expanded}:",
            "        return -1",
            "    try:",
            "        return expand_body(x_, out_, user_data_)",
            "    except Exception:",
            "        return -2",
            "",
        ]
    )


def _callbacks(meta: dict, entry: Path, key: str, inner_logp, inner_expand):
    """The numba C callbacks of the generated source, cached under ``entry``.

    The source depends only on ``meta``, so a later process rebuilds the same functions and
    numba finds their machine code in its index under ``entry``; ``inner_logp`` and
    ``inner_expand`` (PyTensor's numba functions) are only typed on a miss.
    """
    import numba
    from nutpie.compile_pymc import address_as_void_pointer

    _register_locator()
    env = {
        # numba records the module of the globals to rebuild the callbacks' environment.
        "__name__": __name__,
        "np": np,
        "carray": numba.carray,
        "as_pointer": address_as_void_pointer,
        "inner_logp": inner_logp,
        "inner_expand": inner_expand,
    }
    exec(compile(_callback_source(meta), f"<latentmix-{key}>", "exec"), env)
    for name in ("logp_body", "expand_body"):  # compiled into the callbacks' cached code
        env[name] = numba.njit(env[name])
    t = numba.types
    pointer = t.CPointer(t.double)
    signatures = {
        "logp_callback": t.int64(t.uint64, pointer, pointer, pointer, t.voidptr),
        "expand_callback": t.int64(t.uint64, t.uint64, pointer, pointer, t.voidptr),
    }
    callbacks = []
    for name, signature in signatures.items():
        _ENTRY_OF[env[name]] = (str(entry), key)
        callbacks.append(numba.cfunc(signature, cache=True)(env[name]))
    return callbacks


def _register_locator() -> None:
    """Point numba's cache at the entry directory for the generated callbacks."""
    if _LOCATOR:
        return
    from numba.core.caching import CacheImpl, _CacheLocator

    class EntryLocator(_CacheLocator):
        def __init__(self, path, key):
            self._path, self._key = path, key

        def ensure_cache_path(self):
            os.makedirs(self._path, exist_ok=True)

        def get_cache_path(self):
            return self._path

        def get_source_stamp(self):
            return self._key

        def get_disambiguator(self):
            return self._key[:16]

        @classmethod
        def from_function(cls, py_func, py_file):
            found = _ENTRY_OF.get(py_func)
            return None if found is None else cls(*found)

    CacheImpl._locator_classes.insert(0, EntryLocator)
    _LOCATOR.append(EntryLocator)


def _assemble(model, meta: dict, logp_callback, expand_callback):
    """A nutpie compiled model around the callbacks, with ``model``'s container values."""
    from nutpie.compile_pymc import (
        CompiledPyMCModel,
        _prepare_dims_and_coords,
        update_user_data,
    )

    names, parts, shapes = meta["shape_info"]
    shape_info = (names, [slice(a, b) for a, b in parts], [tuple(s) for s in shapes])
    shared_data = {}
    for name, _, dtype in meta["containers"]:
        if name in model.named_vars:
            value = model.named_vars[name].get_value()
        else:
            value = model.dim_lengths[name].get_value()
        value = np.array(value, dtype=dtype, order="C", copy=True)
        value.flags.writeable = False
        shared_data[name] = value
    record = _record_dtype(meta["containers"])
    if record.itemsize != meta["itemsize"]:
        raise ValueError("the cached sampler's container layout differs; call clear_disk().")
    user_data = update_user_data(np.zeros((), dtype=record), shared_data)
    dims, coords = _prepare_dims_and_coords(model, shape_info)

    def no_start(seed=None):
        raise RuntimeError("a cached sampler needs a starting point (compiled_sampler's start)")

    return CompiledPyMCModel(
        _n_dim=meta["n_dim"],
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_callback,
        compiled_expand_func=expand_callback,
        initial_point_func=no_start,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=meta["n_expanded"],
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
    )
