"""The structure rules of issue 9, checked on the source (no import of the code under test needed):

* no import cycle inside ``src/shoal`` (module-level and function-level imports alike);
* ``shoal.core`` imports no app (the apps are ``settings.INSTALLED_APPS`` under ``shoal.`` but core);
* no block of six or more lines copied between two modules of ``src/`` (migrations aside);
* no app uses another app's (or core's) private names (``from shoal.x.m import _name``, ``m._name``): an
  app calls what the other one offers publicly (a few older uses are listed, to be made public by their owners).

Each check is also run on a small made-up tree, so a checker that sees nothing cannot pass."""

from __future__ import annotations

import ast
import re
from collections import defaultdict, deque
from pathlib import Path

import pytest
from django.conf import settings

import shoal

SRC = Path(shoal.__file__).resolve().parent.parent
COPY_LINES = 6


# -- reading the source ------------------------------------------------------------------------------
def modules(src: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under ``src`` (migrations aside)."""
    found = {}
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if "migrations" in rel.parts:
            continue
        parts = rel.with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _dynamic_targets(node: ast.Call) -> list[str]:
    """``import_module("shoal.x")`` / ``import_string("shoal.x.y")`` with a literal argument."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in ("import_module", "import_string", "__import__") and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value]
    return []


def imported_names(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that ``module`` imports anywhere in its body (functions included)."""
    is_package = path.name == "__init__.py"
    raw = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            raw += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            raw += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        elif isinstance(node, ast.Call):
            raw += _dynamic_targets(node)
    targets = set()
    for name in raw:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module and not module.startswith(name + "."):  # a package's own parents
            targets.add(name)
    return targets


def import_graph(src: Path) -> dict[str, set[str]]:
    known = modules(src)
    return {name: imported_names(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per strongly connected component of more than one module."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(v):  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    found = []
    for component in components:
        start = min(component)
        came_from, queue = {start: None}, deque([start])
        while queue:
            v = queue.popleft()
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while came_from[path[-1]] is not None:
                        path.append(came_from[path[-1]])
                    found.append([start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start])
                    queue.clear()
                    break
                if w not in came_from:
                    came_from[w] = v
                    queue.append(w)
    return found


def shoal_apps() -> set[str]:
    return {app for app in settings.INSTALLED_APPS if app.startswith("shoal.") and app != "shoal.core"}


def core_imports_of_apps(graph: dict[str, set[str]], apps: set[str]) -> list[tuple[str, str]]:
    return sorted((module, target) for module, targets in graph.items()
                  if module == "shoal.core" or module.startswith("shoal.core.")
                  for target in targets if any(target == app or target.startswith(app + ".") for app in apps))


def _meaningful_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the lines that count for copying: no blank lines, comments,
    import statements or lines of closing brackets alone."""
    text = path.read_text()
    skip = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            skip.update(range(node.lineno, node.end_lineno + 1))
    kept = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = re.sub(r"\s+#.*$", "", line.strip())
        if number in skip or not stripped or stripped.startswith("#") or re.fullmatch(r"[)\]}:,]+", stripped):
            continue
        kept.append((number, stripped))
    return kept


def app_of(module: str) -> str:
    """``shoal.<app>`` of a module (``shoal.core`` for core's)."""
    return ".".join(module.split(".")[:2])


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def private_uses(src: Path) -> list[tuple[str, str]]:
    """(module, name used) for each private name of another app that a module imports or reads off a module
    it imported (``from shoal.a.m import _f``; ``from shoal.a import m`` then ``m._f``)."""
    known = modules(src)
    found = set()
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        aliases = {}  # local name -> module of another app
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[:len(package) - node.level + 1]
                    base = ".".join(package + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in known:
                        aliases[alias.asname or alias.name] = full
                    elif _private(alias.name) and app_of(base) != app_of(module):
                        found.add((module, full))
            elif isinstance(node, ast.Import):
                aliases.update({alias.asname: alias.name for alias in node.names if alias.asname and alias.name in known})
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _private(node.attr)
                    and node.value.id in aliases and app_of(aliases[node.value.id]) != app_of(module)):
                found.add((module, f"{aliases[node.value.id]}.{node.attr}"))
    return sorted(found)


# older uses of another app's private names, outside the apps that keep to the rule; the list only shrinks
PRIVATE_USES_KNOWN = {
    ("shoal.imports.mapping", "shoal.customers.cleaning._standard_enum_groups"),
    ("shoal.imports.pipeline", "shoal.customers.demo._first_id"),
    ("shoal.imports.pipeline", "shoal.customers.masking._mask_value"),
    ("shoal.imports.services", "shoal.customers.masking._mask_value"),
    ("shoal.pools.views_groups", "shoal.tags.views._rule_data"),
    ("shoal.pools.views_groups", "shoal.tags.views._rule_summary"),
}


def copied_blocks(src: Path, size: int = COPY_LINES) -> list[list[tuple[str, int]]]:
    """Places (file, first line) of each run of ``size`` meaningful lines found in two modules or more."""
    seen = defaultdict(list)
    for path in modules(src).values():
        lines = _meaningful_lines(path)
        for start in range(len(lines) - size + 1):
            block = tuple(text for _, text in lines[start:start + size])
            seen[block].append((str(path.relative_to(src)), lines[start][0]))
    return [places for places in seen.values() if len({file for file, _ in places}) > 1]


# -- the rules on src/shoal ---------------------------------------------------------------------------
def test_the_import_graph_of_src_shoal_has_no_cycle():
    graph = import_graph(SRC)
    assert len(graph) > 50 and sum(map(len, graph.values())) > 200  # the checker reads the real source
    assert "shoal.core.errors" in graph["shoal.customers.api"] | graph["shoal.segments.api"]
    found = cycles(graph)
    assert not found, "import cycles in src/shoal:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_core_imports_no_app():
    apps = shoal_apps()
    assert {"shoal.accounts", "shoal.customers", "shoal.segments", "shoal.schedules"} <= apps
    found = core_imports_of_apps(import_graph(SRC), apps)
    assert not found, "shoal.core must not import an app (register from the app instead):\n" + "\n".join(
        f"{module} imports {target}" for module, target in found)


def test_no_block_of_six_lines_is_copied_between_modules():
    found = copied_blocks(SRC)
    assert not found, f"blocks of {COPY_LINES} lines copied between modules (share them instead):\n" + "\n".join(
        ", ".join(f"{file}:{line}" for file, line in places) for places in found)


def test_no_app_uses_another_apps_private_names():
    found = private_uses(SRC)
    new = [use for use in found if use not in PRIVATE_USES_KNOWN]
    assert not new, "private names of another app (make them public there, with a docstring):\n" + "\n".join(
        f"{module} uses {name}" for module, name in new)


# -- the checkers themselves see what they must -------------------------------------------------------
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_checkers_find_a_cycle_through_a_function_level_import_and_core_importing_an_app(tmp_path):
    src = _tree(tmp_path, {
        "shoal/__init__.py": "",
        "shoal/core/__init__.py": "",
        "shoal/core/auth.py": "from . import errors\n",
        "shoal/core/errors.py": "def render():\n    from shoal.customers.api import router\n",
        "shoal/customers/__init__.py": "",
        "shoal/customers/api.py": "from shoal.core.auth import require\nrouter = None\n",
        "shoal/customers/migrations/0001_initial.py": "from shoal.customers import api\n",
        "shoal/segments/__init__.py": "from importlib import import_module\nimport_module('shoal.core.errors')\n",
    })
    graph = import_graph(src)
    assert graph["shoal.core.auth"] == {"shoal.core.errors"}  # relative import resolved
    assert graph["shoal.segments"] == {"shoal.core.errors"}  # import_module with a literal
    assert "shoal.customers.migrations.0001_initial" not in graph
    assert cycles(graph) == [["shoal.core.auth", "shoal.core.errors", "shoal.customers.api", "shoal.core.auth"]]
    assert core_imports_of_apps(graph, {"shoal.customers", "shoal.segments"}) == [
        ("shoal.core.errors", "shoal.customers.api")]


def test_the_checker_finds_private_names_imported_or_read_across_apps(tmp_path):
    src = _tree(tmp_path, {
        "shoal/__init__.py": "",
        "shoal/core/__init__.py": "",
        "shoal/core/db.py": "def _helper():\n    pass\n",
        "shoal/automation/__init__.py": "",
        "shoal/automation/runner.py": "from shoal.core.db import _helper\n\ndef _validated():\n    pass\n",
        "shoal/automation/views.py": "from . import runner\nrunner._validated()\n",  # its own app: allowed
        "shoal/strategies/__init__.py": "",
        "shoal/strategies/a.py": "from shoal.automation import runner\n\ndef f():\n    return runner._validated()\n",
        "shoal/strategies/b.py": "def f():\n    from shoal.automation.runner import _validated, __doc__\n",
        "shoal/strategies/c.py": "import shoal.automation.runner as r\nr._validated\nr.__name__\n",
    })
    assert private_uses(src) == [("shoal.automation.runner", "shoal.core.db._helper"),
                                 ("shoal.strategies.a", "shoal.automation.runner._validated"),
                                 ("shoal.strategies.b", "shoal.automation.runner._validated"),
                                 ("shoal.strategies.c", "shoal.automation.runner._validated")]


@pytest.mark.parametrize("blank_and_comments", [False, True])
def test_the_checker_finds_a_copied_block_whatever_its_blank_lines_and_comments(tmp_path, blank_and_comments):
    body = ["def f(rows):", "    total = 0", "    for row in rows:", "        if row.ok:",
            "            total += row.value", "    return total"]
    copy = [line + ("  # copied" if blank_and_comments else "") for line in body]
    if blank_and_comments:
        copy.insert(3, "")
        copy.insert(1, "    # a comment")
    src = _tree(tmp_path, {"shoal/__init__.py": "", "shoal/a.py": "import os\n\n" + "\n".join(body) + "\n",
                           "shoal/b.py": "x = 1\n\n\n" + "\n".join(copy) + "\n",
                           "shoal/c.py": "\n".join(body[:5]) + "\n"})  # five lines: not a copy
    assert copied_blocks(src) == [[("shoal/a.py", 3), ("shoal/b.py", 4)]]
