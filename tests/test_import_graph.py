"""The import graph of bdnex_core and its plugins, read from the source (ast): the layers of
docs/architecture.md hold only while a test says so.

Rules: no cycle between modules; the two front-ends (``cli``, ``web``) never import each other;
``api`` reaches ``cli`` through its one click module only; ``matching`` does no I/O (neither the
network, nor the database, nor the pipeline, even through another module); imports sit at the top of their module, a function-level one is the exception, with
its reason on a ``# lazy:`` comment; the package root keeps the project's faces, not its parts. What a plugin may import is
tests/test_plugin_api.py's rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO_ROOT

CORE = REPO_ROOT / "bdnex_core"
#: the one module of cli that api may import: where plugin commands meet click
API_CLICK_MODULE = "bdnex_core.cli.plugin_commands"

#: what matching may not reach: the network, the database, the pipeline (core modules and libraries)
MATCHING_FORBIDDEN_CORE = (
    "bdnex_core.bedetheque.client",
    "bdnex_core.bedetheque.service",
    "bdnex_core.bedetheque.catalogue",
    "bdnex_core.bedetheque.shared_limiter",
    "bdnex_core.bedetheque.wire",
    "bdnex_core.bedetheque.deadline",
    "bdnex_core.store",
    "bdnex_core.pipeline",
)
MATCHING_FORBIDDEN_LIBRARIES = {
    "requests",
    "urllib3",
    "curl_cffi",
    "http",
    "socket",
    "sqlite3",
    "sqlite_utils",
    "psycopg",
}

MAX_FUNCTION_LEVEL_IMPORTS = 20
MAX_ROOT_MODULES = 15  # besides __init__ and __main__


@dataclass(frozen=True)
class Import:
    module: str  # the module that imports
    target: str  # what it imports: a module of ours when the name is one, else the dotted name
    line: int
    in_function: bool
    type_only: bool  # under ``if TYPE_CHECKING``: never run


def _core_modules() -> dict[str, Path]:
    modules = {}
    for path in CORE.rglob("*.py"):
        parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _core_modules()


def _imports_of(name: str, path: Path) -> Iterator[Import]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def walk(node: ast.AST, in_function: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for statement in child.body:
                    yield from walk_one(statement, in_function, True)
                for statement in child.orelse:
                    yield from walk_one(statement, in_function, type_only)
            else:
                yield from walk_one(child, in_function, type_only)

    def walk_one(node: ast.AST, in_function: bool, type_only: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, in_function, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield Import(name, submodule if submodule in MODULES else base, node.lineno, in_function, type_only)
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from walk(node, inner, type_only)

    yield from walk(ast.parse(path.read_text("utf-8")), False, False)


IMPORTS = [found for name, path in sorted(MODULES.items()) for found in _imports_of(name, path)]


def _runtime_graph() -> dict[str, set[str]]:
    """Who imports whom when the code runs. Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``
    first: an edge to each of those packages too, unless the importer is inside it (its package was
    imported before it)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for found in IMPORTS:
        if found.type_only or found.target not in MODULES:
            continue
        parts = found.target.split(".")
        for end in range(1, len(parts) + 1):
            target = ".".join(parts[:end])
            if target in MODULES and target != found.module and not _in(found.module, target):
                graph[found.module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _where(found: Import) -> str:
    return f"{MODULES[found.module].relative_to(REPO_ROOT)}:{found.line}: {found.target}"


def test_the_reader_sees_every_import():
    """The reader itself: relative imports, submodules named in a ``from`` and the three kinds of place."""
    assert len(MODULES) > 100
    cli_imports = {found.target for found in IMPORTS if found.module == "bdnex_core.cli"}
    assert "bdnex_core.errors" in cli_imports and "click" in cli_imports
    assert any(found.type_only for found in IMPORTS)
    assert any(found.in_function for found in IMPORTS)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    graph = _runtime_graph()
    # a module of a package imports its package's __init__ with it only from outside the package
    assert "bdnex_core.archives" in graph["bdnex_core.pipeline.steps"]
    assert "bdnex_core.archives" not in graph["bdnex_core.archives.inplace"]
    assert _layer("bdnex_core.cli.tag") < _layer("bdnex_core.app.undo") < _layer("bdnex_core.pipeline.runner")
    assert _layer("bdnex_core.pipeline.runner") < _layer("bdnex_core.store.files") < _layer("bdnex_core.config")


# the layers of docs/architecture.md, top first: a module imports its own layer and those below it
LAYERS = (
    ("front-ends", ("bdnex_core.cli", "bdnex_core.web", "bdnex_core.api", "bdnex_core.__main__")),
    ("application", ("bdnex_core.app",)),
    ("pipeline", ("bdnex_core.pipeline", "bdnex_core.default_plugins", "bdnex_core.demo")),
    (
        "domain",
        (
            "bdnex_core.matching",
            "bdnex_core.bedetheque",
            "bdnex_core.store",
            "bdnex_core.db",
            "bdnex_core.archives",
            "bdnex_core.comicinfo",
            "bdnex_core.covers",
            "bdnex_core.service.notifications",
            "bdnex_core.service.upkeep",
            "bdnex_core.service.health",
        ),
    ),
)


def _layer(name: str) -> int:
    """0 for the front-ends ... 4 for the base (config, errors, states, paths...: what no layer lists)."""
    for rank, (_, packages) in enumerate(LAYERS):
        if any(_in(name, package) for package in packages):
            return rank
    return len(LAYERS)


def test_imports_run_down_the_layers():
    """The application imports no front-end, the pipeline no application, the domain neither (type
    annotations aside: they never run)."""
    wrong = [
        f"{_where(found)} ({LAYERS[_layer(found.module)][0] if _layer(found.module) < len(LAYERS) else 'base'} "
        f"-> {LAYERS[_layer(found.target)][0]})"
        for found in IMPORTS
        if not found.type_only and found.target in MODULES and _layer(found.target) < _layer(found.module)
    ]
    assert not wrong, "an import up the layers:\n" + "\n".join(wrong)


def test_no_cycle_between_modules():
    cycles = _cycles(_runtime_graph())
    assert not cycles, "import cycles (break each by moving what both need below them):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_front_ends_never_import_each_other():
    wrong = [
        _where(found)
        for found in IMPORTS
        if (_in(found.module, "bdnex_core.cli") and _in(found.target, "bdnex_core.web"))
        or (_in(found.module, "bdnex_core.web") and _in(found.target, "bdnex_core.cli"))
    ]
    assert not wrong, "cli and web are two front-ends over the same layers:\n" + "\n".join(wrong)


def test_api_reaches_cli_only_through_its_click_module():
    """Its imports, and the modules it names for PEP 562's first-use imports."""
    named = [
        node.value
        for node in ast.walk(ast.parse(MODULES["bdnex_core.api"].read_text("utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in MODULES
    ]
    assert "bdnex_core.app.operations" in named
    wrong = [
        _where(found)
        for found in IMPORTS
        if found.module == "bdnex_core.api" and _in(found.target, "bdnex_core.cli") and found.target != API_CLICK_MODULE
    ]
    wrong += [
        f"bdnex_core/api.py names {name}" for name in named if _in(name, "bdnex_core.cli") and name != API_CLICK_MODULE
    ]
    assert not wrong, f"api may import of cli only {API_CLICK_MODULE}:\n" + "\n".join(wrong)


def test_matching_does_no_io():
    """Neither directly nor through another module of ours (TYPE_CHECKING imports aside)."""
    graph = _runtime_graph()
    reached: dict[str, str] = {}  # module -> the matching module that leads to it
    todo = [(name, name) for name in MODULES if _in(name, "bdnex_core.matching")]
    while todo:
        name, origin = todo.pop()
        if name in reached:
            continue
        reached[name] = origin
        todo += [(target, origin) for target in graph[name]]
    wrong = [
        f"{name} (reached from {origin})"
        for name, origin in sorted(reached.items())
        if name.startswith(MATCHING_FORBIDDEN_CORE)
    ]
    wrong += [
        _where(found)
        for found in IMPORTS
        if found.module in reached
        and not found.type_only
        and found.target.split(".")[0] in MATCHING_FORBIDDEN_LIBRARIES
    ]
    assert not wrong, "matching must not reach the network, the database or the pipeline:\n" + "\n".join(wrong)


def _lazy_reason(path: Path, line: int) -> str | None:
    """The ``# lazy: reason`` comment on the import's line or the line above it."""
    lines = path.read_text("utf-8").splitlines()
    for text in (lines[line - 1], lines[line - 2] if line > 1 else ""):
        _, mark, reason = text.partition("# lazy:")
        if mark and reason.strip():
            return reason.strip()
    return None


def test_function_level_imports_are_few_and_say_why():
    function_level = sorted(
        {(found.module, found.line) for found in IMPORTS if found.in_function and not found.type_only}
    )
    unexplained = [
        f"{MODULES[module].relative_to(REPO_ROOT)}:{line}"
        for module, line in function_level
        if _lazy_reason(MODULES[module], line) is None
    ]
    assert not unexplained, "a function-level import says why on a '# lazy: reason' comment:\n" + "\n".join(unexplained)
    assert len(function_level) <= MAX_FUNCTION_LEVEL_IMPORTS, (
        f"{len(function_level)} function-level imports (at most {MAX_FUNCTION_LEVEL_IMPORTS}): import at the top"
    )


def test_the_package_root_keeps_few_modules():
    root = sorted(path.name for path in CORE.glob("*.py") if path.name not in ("__init__.py", "__main__.py"))
    assert len(root) <= MAX_ROOT_MODULES, f"{len(root)} modules at the package root: {', '.join(root)}"
