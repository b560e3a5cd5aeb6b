"""Import rules of the expctl package, checked on its source with `ast` (nothing is imported).

Every import statement counts: at module level or inside a function (a lazy import is still a
dependency), `import x` and `from x import y`, relative imports resolved. `from pkg import name`
is an import of the module `pkg.name` when that is a module, of the module a package's lazy
`__getattr__` serves `name` from when the package lists it under `if TYPE_CHECKING:` (as
`expctl/__init__.py` does for `run`), and of `pkg` itself otherwise. Imports under
`if TYPE_CHECKING:` and inside a package's module-level `__getattr__` run only for those names,
so they are left out of the cycle check; every other rule counts them. Imports made with
`importlib.import_module(name)` are not seen; the subprocess tests (test_api, test_views,
test_compare, ...) check what the commands really load.

A "package" is the first component after `expctl.`: `expctl.runs.store` is in `runs`, and a
top-level module (`runner.py`, `api.py`, `errors.py`, ...) is a package of its own. Each failure
lists `path:line: what` for every offending import.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "expctl"

#: package -> the packages it may import: the only place the layering is written down. Read
#: from the bottom: `errors` imports nothing of expctl (nor do the YAML `templates`); the
#: numpy/matplotlib layers (`evaluation`, `spec`, `plots`, `runs`) import no Keras and nothing
#: of `models`, `training`, `runner` or `cli`; `views` reads run directories without
#: TensorFlow; `models` and `training` are the Keras layers; `runner` runs, resumes and
#: verifies one run; `sweep`, `biasvar` and `ablate` run many; `api` offers all of it as
#: functions; `cli` parses, calls and prints, and never touches the Keras internals (`models`,
#: `training`) or the data loaders; `expctl` is the package's lazy facade over `api`;
#: `__main__` is `python -m expctl`.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "version": set(),
    "masking": set(),
    "templates": set(),
    "interrupts": {"errors"},
    "progress": {"errors"},
    "evaluation": {"errors"},
    "spec": {"errors", "evaluation", "masking"},
    "plots": {"errors", "evaluation"},
    "data": {"errors"},
    "runs": {"errors", "interrupts", "masking", "spec", "version"},
    # export.onnx loads a run's model (models.io, safe mode) to convert it
    "export": {"errors", "masking", "models", "runs"},
    "reports": {"errors", "export", "runs", "version"},
    "views": {"errors", "evaluation", "plots", "runs", "spec"},
    # the local dashboard (`expctl ui`): a read-only web server over views and run directories
    "ui": {"errors", "evaluation", "plots", "runs", "spec", "views"},
    "models": {"errors"},
    "training": {"data", "errors", "evaluation", "interrupts", "models", "runs"},
    "runner": {
        "data",
        "errors",
        "evaluation",
        "export",
        "interrupts",
        "masking",
        "models",
        "plots",
        "progress",
        "reports",
        "runs",
        "spec",
        "training",
        "version",
    },
    "sweep": {
        "data",
        "errors",
        "masking",
        "models",
        "plots",
        "progress",
        "runner",
        "runs",
        "spec",
        "training",
    },
    "biasvar": {
        "data",
        "errors",
        "evaluation",
        "plots",
        "progress",
        "runner",
        "runs",
        "spec",
        "version",
    },
    "ablate": {"data", "errors", "evaluation", "plots", "runner", "runs", "spec"},
    # a run's model applied to new files: expctl predict / evaluate, expctl.predict
    "inference": {"data", "errors", "evaluation", "models", "plots", "runs", "training"},
    "api": {"ablate", "biasvar", "errors", "inference", "runner", "runs", "spec", "sweep", "views"},
    "cli": {
        "ablate",
        "api",
        "biasvar",
        "errors",
        "evaluation",
        "inference",
        "masking",
        "export",
        "interrupts",
        "plots",
        "progress",
        "reports",
        "runner",
        "runs",
        "spec",
        "sweep",
        "ui",
        "version",
        "views",
    },
    "expctl": {"api", "version"},
    "__main__": {"cli"},
}

#: Packages that never import TensorFlow or Keras (numpy, matplotlib and plain Python only).
KERAS_FREE = ("errors", "evaluation", "plots", "runs", "spec", "ui", "views")
KERAS = ("tensorflow", "keras", "tf_keras")
#: What `expctl/cli/` never imports itself: the commands call functions that do.
CLI_FORBIDDEN = ("optuna", *KERAS)

#: The files of a run directory: their names are known only to `expctl/runs/`.
RUN_FILES = (
    "status.json",
    "history.csv",
    "metrics.json",
    "predictions.npz",
    "spec.yaml",
    "data.json",
    "model.keras",
    "environment.json",
    "report.html",
    "sweep.csv",
    "best.yaml",
    "sweep.yaml",
)
#: A name counts as a whole word: "metrics.json" and "runs/x/metrics.json.tmp" do, not
#: "base_spec.yaml".
RUN_FILE_PATTERNS = {
    name: re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])") for name in RUN_FILES
}


# ------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Import:
    """One imported module (one per name of a `from` import), where and how it is imported."""

    path: Path  # the file holding the statement
    line: int
    importer: str  # dotted name of the importing module
    target: str  # dotted name of the imported module, resolved
    name: str | None  # the name a `from` import takes; None for `import x`
    runtime: bool  # False under `if TYPE_CHECKING:` or in a package's `__getattr__`


@dataclass(frozen=True)
class _Statement:
    path: Path
    line: int
    importer: str
    base: str  # the module named by the statement (`x.y` of `import x.y`/`from x.y import z`)
    name: str | None
    runtime: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """`expctl.runs.store` -> `runs`, `expctl.runner` -> `runner`, `expctl` -> `expctl`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def at(path: Path, line: int, what: str) -> str:
    """One violation, as `path:line: what`."""
    return f"{rel(path)}:{line}: {what}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _statements(path: Path, text: str | None = None) -> Iterator[_Statement]:
    """The import statements of a file under expctl/ (of ``text`` instead, when given)."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    if text is None:
        text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))

    def walk(node: ast.AST, runtime: bool) -> Iterator[_Statement]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from walk(child, False)
            for child in node.orelse:
                yield from walk(child, runtime)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield _Statement(path, node.lineno, module, alias.name, None, runtime)
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, is_package)
            for alias in node.names:
                yield _Statement(path, node.lineno, module, base, alias.name, runtime)
        else:
            for child in ast.iter_child_nodes(node):
                yield from walk(child, runtime)

    for stmt in tree.body:
        lazy_facade = (
            is_package and isinstance(stmt, ast.FunctionDef) and stmt.name == "__getattr__"
        )
        yield from walk(stmt, runtime=not lazy_facade)


@functools.cache
def source_files() -> tuple[Path, ...]:
    return tuple(sorted(SOURCE.rglob("*.py")))


@functools.cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in source_files()}


def _has_getattr(path: Path, text: str | None = None) -> bool:
    """Whether a package's `__init__` serves names lazily (a module-level `__getattr__`)."""
    if path.name != "__init__.py":
        return False
    tree = ast.parse(text if text is not None else path.read_text(encoding="utf-8"))
    return any(isinstance(s, ast.FunctionDef) and s.name == "__getattr__" for s in tree.body)


def _resolve(
    statements: list[_Statement], known: set[str], facades: set[str]
) -> tuple[Import, ...]:
    """Each statement's imported module (``known``: all module names; ``facades``: packages
    with a lazy `__getattr__`, whose `TYPE_CHECKING` imports say where each name comes from)."""
    lazy: dict[str, dict[str, str]] = {}
    for s in statements:
        if s.importer in facades and not s.runtime and s.name is not None:
            sub = f"{s.base}.{s.name}"
            lazy.setdefault(s.importer, {})[s.name] = sub if sub in known else s.base
    out = []
    for s in statements:
        target = s.base
        if s.name is not None:
            sub = f"{s.base}.{s.name}"
            if sub in known:
                target = sub
            elif s.name in lazy.get(s.base, {}):
                target = lazy[s.base][s.name]
        out.append(Import(s.path, s.line, s.importer, target, s.name, s.runtime))
    return tuple(out)


@functools.cache
def imports() -> tuple[Import, ...]:
    """Every import of every module under expctl/, resolved to the module it loads."""
    statements = [s for path in source_files() for s in _statements(path)]
    facades = {_module_name(path) for path in source_files() if _has_getattr(path)}
    return _resolve(statements, set(modules()), facades)


def internal_imports() -> list[Import]:
    """The imports of expctl modules by other expctl modules."""
    return [i for i in imports() if i.target == "expctl" or i.target.startswith("expctl.")]


def report(violations: list[str], rule: str) -> None:
    if violations:
        listed = "\n".join(sorted(set(violations)))
        pytest.fail(f"{rule} ({len(set(violations))}):\n{listed}", pytrace=False)


def _find_cycle(graph: dict[str, set[str]], nodes: set[str]) -> list[str]:
    """A shortest cycle through the smallest node of a strongly connected set, closed."""
    start = min(nodes)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt not in nodes:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    return [start, start]


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# --------------------------------------------------------------------------------------- rules


def test_every_package_has_a_place_in_the_layering() -> None:
    missing = {package_of(m): path for m, path in sorted(modules().items())}
    report(
        [
            at(path, 1, f"package {pkg!r} is not in ALLOWED: say what it may import")
            for pkg, path in missing.items()
            if pkg not in ALLOWED
        ],
        "packages missing from tests/test_architecture.py's ALLOWED",
    )


def test_the_layering_has_no_cycle() -> None:
    graph = {pkg: set(allowed) for pkg, allowed in ALLOWED.items()}
    cycles = [" -> ".join(_find_cycle(graph, c)) for c in _strongly_connected(graph)]
    assert not cycles, f"ALLOWED must point downward only; it has cycles: {cycles}"


def test_imports_follow_the_layering() -> None:
    violations = []
    for i in internal_imports():
        src, dst = package_of(i.importer), package_of(i.target)
        if src != dst and dst not in ALLOWED.get(src, set()):
            taken = "" if i.name is None or i.target.endswith(f".{i.name}") else f" for {i.name}"
            violations.append(at(i.path, i.line, f"{src} may not import {dst}: {i.target}{taken}"))
    report(violations, "imports outside the layering of ALLOWED")


def test_no_import_cycles_between_modules() -> None:
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for i in internal_imports():
        if i.runtime and i.target in modules() and i.target != i.importer:
            graph.setdefault(i.importer, set()).add(i.target)
            where.setdefault((i.importer, i.target), f"{rel(i.path)}:{i.line}")
    violations = []
    for component in _strongly_connected(graph):
        cycle = _find_cycle(graph, component)
        steps = ", ".join(f"{where[(a, b)]} -> {b}" for a, b in itertools.pairwise(cycle))
        first = where[(cycle[0], cycle[1])]
        violations.append(f"{first}: import cycle {' -> '.join(cycle)} ({steps})")
    report(violations, "import cycles (lazy imports count)")


def test_no_private_name_is_imported_from_another_package() -> None:
    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    violations = []
    for i in internal_imports():
        if package_of(i.importer) == package_of(i.target):
            continue
        if i.name is not None and private(i.name):
            violations.append(at(i.path, i.line, f"imports private {i.name} from {i.target}"))
        elif any(private(part) for part in i.target.split(".")):
            violations.append(at(i.path, i.line, f"imports private module {i.target}"))
    report(violations, "private names imported across packages")


def test_cli_imports_no_optuna_or_tensorflow() -> None:
    violations = [
        at(i.path, i.line, f"expctl/cli imports {i.target}")
        for i in imports()
        if package_of(i.importer) == "cli" and i.target.split(".")[0] in CLI_FORBIDDEN
    ]
    report(violations, "Optuna/TensorFlow/Keras imported by expctl/cli/")


def test_numpy_layers_import_no_keras() -> None:
    violations = [
        at(i.path, i.line, f"{package_of(i.importer)} imports {i.target}")
        for i in imports()
        if i.importer.startswith("expctl.")
        and package_of(i.importer) in KERAS_FREE
        and i.target.split(".")[0] in KERAS
    ]
    report(violations, f"TensorFlow/Keras imported by {', '.join(KERAS_FREE)}")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants of a module and of its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


def test_run_file_names_appear_only_in_runs() -> None:
    violations = []
    for path in source_files():
        if path.is_relative_to(SOURCE / "runs"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):  # f-strings' literal parts are Constant nodes too
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                for name, pattern in RUN_FILE_PATTERNS.items():
                    if pattern.search(node.value):
                        text = node.value if len(node.value) <= 60 else node.value[:57] + "..."
                        what = f"run file name {name!r} in the string {text!r}"
                        violations.append(at(path, node.lineno, what))
    report(violations, "run-directory file names outside expctl/runs/ (ask expctl.runs)")


def test_the_scanner_resolves_lazy_relative_and_type_only_imports() -> None:
    module = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from . import table\n"
        "from ..errors import DataError\n"
        "if TYPE_CHECKING:\n"
        "    from expctl.spec.schema import Spec\n"
        "def load():\n"
        "    import expctl.data.images as images\n"
        "    from expctl.data.files import _hidden\n"
        "    from expctl.data import prepare, sources\n"
    )
    package = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from expctl.data.dataset import prepare\n"
        "def __getattr__(name):\n"
        "    from expctl.data import dataset\n"
    )
    data = SOURCE / "data"
    statements = [
        *_statements(data / "example.py", module),
        *_statements(data / "__init__.py", package),
    ]
    assert _has_getattr(data / "__init__.py", package)
    found = [
        (i.line, i.target, i.name, i.runtime)
        for i in _resolve(statements, set(modules()), {"expctl.data"})
        if i.importer == "expctl.data.example"
    ]
    assert found == [
        (1, "__future__", "annotations", True),
        (2, "typing", "TYPE_CHECKING", True),
        (3, "expctl.data.table", "table", True),  # relative, and a module
        (4, "expctl.errors", "DataError", True),  # a name of a module
        (6, "expctl.spec.schema", "Spec", False),  # type-only
        (8, "expctl.data.images", None, True),  # lazy
        (9, "expctl.data.files", "_hidden", True),
        (10, "expctl.data.dataset", "prepare", True),  # served by the package's __getattr__
        (10, "expctl.data.sources", "sources", True),
    ]
    facade = [
        (i.line, i.runtime)
        for i in _resolve(statements, set(modules()), set())
        if i.importer == "expctl.data"
    ]
    assert facade == [(1, True), (3, False), (5, False)]


def test_run_file_names_are_matched_as_whole_words() -> None:
    def hits(text: str) -> list[str]:
        return [name for name, pattern in RUN_FILE_PATTERNS.items() if pattern.search(text)]

    assert hits("metrics.json") == ["metrics.json"]
    assert hits("runs/x/status.json.tmp") == ["status.json"]
    assert hits("a validation metric of history.csv, read at the best epoch") == ["history.csv"]
    assert hits("base_spec.yaml") == []
    assert hits("best.model.keras") == []
