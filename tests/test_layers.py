"""The layers of the package import only downwards.

DESIGN's rule: params/priors/validation (with the shared helpers matching, threads, progress,
jsonio) -> em -> estimator -> bayes -> compare -> report/studies/teach -> commands -> cli.
Two checks: importing ``latentmix.em`` (and each of its modules) in a fresh interpreter loads
none of the layers above it, and a static reading of the import statements of every file in
the lower layers finds nothing above them (this also catches imports inside functions).
"""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import latentmix.em

PACKAGE = Path(latentmix.em.__file__).resolve().parents[1]

#: The layers, lowest first; a module may import its own layer and those before it.
LAYERS = [
    {
        "latentmix.params",
        "latentmix.priors",
        "latentmix.validation",
        "latentmix.matching",
        "latentmix.threads",
        "latentmix.progress",
        "latentmix.jsonio",
    },
    {"latentmix.em"},
    {"latentmix.estimator"},
    {"latentmix.bayes", "latentmix.vb"},
    {"latentmix.compare", "latentmix.comparison"},
    {"latentmix.report", "latentmix.studies", "latentmix.teach", "latentmix.selection"},
    {"latentmix.commands"},
    {"latentmix.cli"},
]

ABOVE_EM = [
    "latentmix.estimator",
    "latentmix.bayes",
    "latentmix.vb",
    "latentmix.compare",
    "latentmix.comparison",
    "latentmix.report",
    "latentmix.studies",
    "latentmix.selection",
    "latentmix.teach",
    "latentmix.commands",
    "latentmix.cli",
]

EM_MODULES = ["latentmix.em"] + [
    f"latentmix.em.{m.name}" for m in pkgutil.iter_modules(latentmix.em.__path__)
]


def layer_of(module: str) -> int | None:
    """Index in LAYERS of the layer ``module`` belongs to (None outside the package)."""
    for i, layer in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in layer):
            return i
    return None


def test_importing_em_loads_nothing_above_it():
    # One fresh interpreter imports every em module: what one of them loads, all of them do,
    # so the union is empty exactly when each module alone loads nothing above em.
    code = (
        "import importlib, json, sys; "
        f"[importlib.import_module(m) for m in {EM_MODULES!r}]; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('latentmix'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout)
    above = [m for m in loaded if any(m == a or m.startswith(a + ".") for a in ABOVE_EM)]
    assert above == [], f"importing latentmix.em loaded {above}"
    assert set(EM_MODULES) <= set(loaded)


def imported_modules(path: Path, package: str):
    """Every latentmix module an ``import`` or ``from ... import`` in the file names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module
            yield node.lineno, name
            # ``from latentmix import estimator`` names the module in the alias.
            for alias in node.names:
                yield node.lineno, f"{name}.{alias.name}"


LOW_FILES = sorted(
    [p for p in (PACKAGE / "em").glob("*.py")]
    + [
        PACKAGE / f"{name}.py"
        for name in ("params", "priors", "validation", "matching", "threads", "progress", "jsonio")
    ]
)


@pytest.mark.parametrize("path", LOW_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_low_layers_import_nothing_above_them(path):
    module = "latentmix." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    own = layer_of(module)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    bad = []
    for lineno, name in imported_modules(path, package):
        if name == "latentmix" or not name.startswith("latentmix."):
            continue
        layer = layer_of(name)
        if layer is not None and layer > own:
            bad.append(f"line {lineno}: {name}")
    assert bad == [], f"{module} imports from above its layer: {bad}"


def test_the_static_check_sees_an_upward_import(tmp_path):
    """The check is not vacuous: an import of the estimator inside a function is caught."""
    path = tmp_path / "example.py"
    path.write_text("def f():\n    from latentmix.estimator import EMGaussianMixture\n")
    names = [name for _, name in imported_modules(path, "latentmix.em")]
    assert "latentmix.estimator" in names
    assert layer_of("latentmix.estimator") > layer_of("latentmix.em.fit")


def _modules_after(code: str, cwd) -> set[str]:
    """Top-level packages loaded by a fresh interpreter that runs ``code``."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


def test_importing_latentmix_loads_no_scientific_stack(tmp_path):
    # Every public name is lazy: the package itself costs nothing until a name is used.
    loaded = _modules_after("import latentmix", tmp_path)
    assert not loaded & {"numpy", "scipy", "sklearn", "pymc", "pytensor"}


def test_fit_never_imports_pymc(tmp_path):
    code = "from latentmix.cli import main\nmain(['fit', 'faithful', '-k', '2'])"
    loaded = _modules_after(code, tmp_path)
    assert "sklearn" in loaded  # the command did run EM
    assert not loaded & {"pymc", "pytensor", "nutpie", "arviz"}


@pytest.mark.walkthrough
def test_teach_never_imports_pymc(tmp_path):
    out = str(tmp_path / "w")
    code = (
        f"from latentmix.cli import main\nmain(['teach', 'acidity', '-k', '2', '--out', {out!r}])"
    )
    loaded = _modules_after(code, tmp_path)
    assert (tmp_path / "w" / "index.html").exists()
    assert not loaded & {"pymc", "pytensor", "nutpie"}
