"""The layout holds: layers import downwards, libraries stay in their shell, modules stay small.

Read from the source with `ast` (imports inside functions and under TYPE_CHECKING count too), so a
shortcut through a lazy import is caught like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "digest"
MAX_LINES = 400
PURE_LAYERS = ("render", "match", "sources", "deliver", "inbound")
SHELLS = ("cli", "web", "schedule")
# Third-party libraries and the only places allowed to import them.
CONFINED = {
    "sqlalchemy": ("store",),
    "alembic": ("store",),
    "click": ("cli",),
    "starlette": ("web", "cli"),
    "uvicorn": ("web", "cli"),
    "apscheduler": ("schedule",),
}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield ".".join(path.relative_to(ROOT).with_suffix("").parts), path


def unit(module: str) -> str:
    """The layer a module belongs to: its subpackage, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported(path: Path, module: str) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name
            # `from digest import x` names a module x too.
            yield from (f"{name}.{alias.name}" for alias in node.names if name == "digest")


def imports_by_module() -> dict[str, set[str]]:
    return {module: set(imported(path, module)) for module, path in modules()}


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for _m, path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_a_library_is_imported_only_where_it_belongs(library: str) -> None:
    allowed = CONFINED[library]
    offenders = sorted(
        module
        for module, names in imports_by_module().items()
        if unit(module) not in allowed
        and any(n == library or n.startswith(library + ".") for n in names)
    )
    assert offenders == []


def _layer_imports(module_names: set[str]) -> set[str]:
    return {unit(n) for n in module_names if n.startswith("digest.") and n.count(".") >= 1}


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_pure_layers_know_nothing_of_store_use_cases_or_shells(layer: str) -> None:
    forbidden = {"store", "app", *SHELLS}
    offenders = sorted(
        f"{module} -> {', '.join(sorted(_layer_imports(names) & forbidden))}"
        for module, names in imports_by_module().items()
        if unit(module) == layer and _layer_imports(names) & forbidden
    )
    assert offenders == []


def test_use_cases_call_no_shell() -> None:
    offenders = sorted(
        module
        for module, names in imports_by_module().items()
        if unit(module) == "app" and _layer_imports(names) & set(SHELLS)
    )
    assert offenders == []


@pytest.mark.parametrize("module", ["digest.models", "digest.errors"])
def test_the_ground_floor_imports_nothing_of_the_project(module: str) -> None:
    """The plain data and the error tree are what every layer may import: they import none."""
    names = imports_by_module()[module]
    assert sorted(n for n in names if n == "digest" or n.startswith("digest.")) == []


def test_no_import_cycle_between_layers() -> None:
    graph: dict[str, set[str]] = {}
    for module, names in imports_by_module().items():
        source = unit(module)
        if source == "digest":
            continue
        targets = _layer_imports(names) - {source, "digest"}
        graph.setdefault(source, set()).update(targets)
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in trail:
                cycle = trail[trail.index(target) :]
                if min(cycle) == cycle[0]:
                    cycles.append([*cycle, target])
            else:
                visit(target, [*trail, target])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


# The one module where a library's parse error may be turned into the project's own, and the
# places that do it another way, each with its reason.
TRANSLATION_POINT = "digest.errors"
OWN_TRANSLATION = {
    # mjml2html's ValueError carries a byte offset that the message turns into a template line.
    "digest.render.compile",
    # The subject template's fill errors (KeyError, IndexError, ValueError from str.format):
    # render's own module; `map_value_errors(also=(KeyError, IndexError))` words it the same.
    "digest.render.context",
}


def _catches_value_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        isinstance(kind, ast.Name | ast.Attribute)
        and (kind.id if isinstance(kind, ast.Name) else kind.attr) == "ValueError"
        for kind in kinds
    )


def _raises_something_else(handler: ast.ExceptHandler) -> bool:
    """A `raise X(...)` inside the handler, X not ValueError itself (pydantic validators must
    re-raise ValueError, which pydantic then reports through the settings' one error)."""
    for node in ast.walk(handler):
        if isinstance(node, ast.Raise) and node.exc is not None:
            called = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if not (isinstance(called, ast.Name) and called.id == "ValueError"):
                return True
    return False


def test_parse_errors_become_project_errors_only_through_map_value_errors() -> None:
    """`except ValueError: raise SomeError(...)` re-invents the translation with its own
    wording; `map_value_errors` is the one place that does it. Handlers that fall back to a
    default (a header that is not a number, a date format to try next) are control flow and
    stay."""
    offenders = sorted(
        f"{module}:{handler.lineno}"
        for module, path in modules()
        if module != TRANSLATION_POINT and module not in OWN_TRANSLATION
        for handler in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(handler, ast.ExceptHandler)
        and handler.type is not None
        and _catches_value_error(handler)
        and _raises_something_else(handler)
    )
    assert offenders == []
