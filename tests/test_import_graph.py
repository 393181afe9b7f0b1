"""The package's imports form a tree: no module of python/fastdescent imports, directly or through
others, a module that imports it back.

The graph is read from the source with ``ast``, not by importing: every ``import`` and
``from ... import`` counts, at module level or inside a function (a lazy import only postpones the
cycle). Edges:

- ``from . import x, y``: to the submodules ``x`` and ``y`` where they are submodules, otherwise to
  the package (a name defined or re-exported in its ``__init__``);
- ``from .m import name`` / ``import pkg.m``: to ``m``, and to every package between the
  importer's own packages and ``m`` (importing ``pkg.sub.m`` runs ``pkg/sub/__init__``);
- a package's ``__init__`` importing its submodules: from the package to them.

The packages that contain a module are not counted as its imports (Python has already run their
``__init__`` when the module runs), so only an import that goes back up to a package for a name
re-exported there can close a cycle through an ``__init__``.
"""

import ast
import importlib.machinery
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "python" / "fastdescent"


def package_modules(package_dir):
    """Dotted name -> source path (None for extension modules) of every module in the package."""
    package_dir = Path(package_dir)
    root = package_dir.name
    suffixes = (".py", ".pyi", *importlib.machinery.EXTENSION_SUFFIXES)
    modules = {}
    for path in sorted(package_dir.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package_dir)
        if any(
            not (package_dir.joinpath(*rel.parts[: i + 1]) / "__init__.py").is_file()
            for i in range(len(rel.parts) - 1)
        ):
            continue  # not inside a (sub)package
        suffix = next(
            (s for s in sorted(suffixes, key=len, reverse=True) if path.name.endswith(s)), None
        )
        if suffix is None:
            continue
        stem = path.name[: -len(suffix)]
        parts = (root, *rel.parts[:-1]) + (() if stem == "__init__" else (stem,))
        name = ".".join(parts)
        if suffix == ".py":
            modules[name] = path
        else:
            modules.setdefault(name, None)  # compiled module or stub: imports nothing of ours
    return modules


def _resolve(name, modules):
    """The innermost known module that `name` (a dotted name in the package) lives in."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in modules else None


def import_graph(package_dir):
    """{module: {imported module: [line numbers]}} over the modules of the package."""
    package_dir = Path(package_dir)
    root = package_dir.name
    modules = package_modules(package_dir)
    graph = {name: {} for name in modules}
    for name, path in modules.items():
        if path is None:
            continue
        is_package = path.name == "__init__.py"
        # The package that relative imports in this module start from.
        here = name.split(".") if is_package else name.split(".")[:-1]
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        if is_package:
            ancestors.add(name)

        def add(target, line, name=name, ancestors=ancestors):
            target = _resolve(target, modules)
            if target is None:
                return
            parts = target.split(".")
            # Importing pkg.sub.m runs pkg/sub/__init__ first: an import of each package on the way
            # that is not already running (one that contains the importer).
            for i in range(1, len(parts) + 1):
                step = ".".join(parts[:i])
                if step != name and (step == target or step not in ancestors):
                    graph[name].setdefault(step, []).append(line)

        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == root or alias.name.startswith(root + "."):
                        add(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    if node.level - 1 > len(here) - 1:
                        continue  # beyond the top-level package
                    base = here[: len(here) - (node.level - 1)]
                    if node.module:
                        base = [*base, *node.module.split(".")]
                    base = ".".join(base)
                elif node.module == root or (node.module or "").startswith(root + "."):
                    base = node.module
                else:
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if alias.name != "*" and sub in modules else base, node.lineno)
    return graph


def find_cycles(graph):
    """Every elementary cycle [a, b, ..., a], each starting at its smallest module, sorted."""
    cycles = []
    for start in sorted(graph):
        # Cycles through start and larger modules only: each cycle is found once, from its minimum.
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        while stack:
            node, successors = stack[-1]
            for w in successors:
                if w == start:
                    cycles.append([*path, start])
                elif w > start and w not in path:
                    stack.append((w, iter(sorted(graph.get(w, ())))))
                    path.append(w)
                    break
            else:
                stack.pop()
                path.pop()
    return sorted(cycles)


def describe(cycle, graph, modules):
    """A cycle as its import statements, one line per edge."""
    root = modules[cycle[0].split(".")[0]].parent
    lines = []
    for a, b in zip(cycle, cycle[1:]):
        path = modules[a].relative_to(root).as_posix()
        where = ", ".join(f"{path}:{line}" for line in sorted(set(graph[a][b])))
        lines.append(f"  {a} imports {b}  ({where})")
    return " -> ".join(cycle) + "\n" + "\n".join(lines)


def test_package_imports_form_a_tree():
    modules = package_modules(PACKAGE_DIR)
    graph = import_graph(PACKAGE_DIR)
    assert "fastdescent._base" in graph and "fastdescent.cuda._trainer" in graph
    cycles = find_cycles(graph)
    report = "\n\n".join(describe(c, graph, modules) for c in cycles)
    assert not cycles, (
        f"import cycles in the package (shared helpers belong below the modules that use "
        f"them):\n\n{report}"
    )


# ---- the graph and cycle helpers on small synthetic packages ----


def write_package(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def edges(graph):
    return {(a, b) for a, targets in graph.items() for b in targets}


def test_graph_of_an_acyclic_package(tmp_path):
    pkg = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from . import _core, a\nfrom .b import f\n",
            "pkg/_core.pyi": "def g() -> None: ...\n",
            "pkg/a.py": "import os\nfrom .b import f\n\ndef lazy():\n    from .sub import c\n",
            "pkg/b.py": "from . import _core\nimport pkg.util\n",
            "pkg/util.py": "import numpy\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from .. import b\nfrom . import d\nfrom ..util import *\n",
            "pkg/sub/d.py": "from pkg import util\n",
            "pkg/notes/readme.py": "from .. import a\n",  # no __init__.py: not a module of pkg
        },
    )
    graph = import_graph(pkg)
    assert set(graph) == {
        "pkg",
        "pkg._core",
        "pkg.a",
        "pkg.b",
        "pkg.util",
        "pkg.sub",
        "pkg.sub.c",
        "pkg.sub.d",
    }
    assert edges(graph) == {
        ("pkg", "pkg._core"),
        ("pkg", "pkg.a"),
        ("pkg", "pkg.b"),
        ("pkg.a", "pkg.b"),
        ("pkg.a", "pkg.sub"),
        ("pkg.a", "pkg.sub.c"),  # lazy import counted
        ("pkg.b", "pkg._core"),
        ("pkg.b", "pkg.util"),
        ("pkg.sub.c", "pkg.b"),
        ("pkg.sub.c", "pkg.sub.d"),
        ("pkg.sub.c", "pkg.util"),
        ("pkg.sub.d", "pkg.util"),
    }
    assert graph["pkg.a"]["pkg.sub.c"] == [5]
    assert find_cycles(graph) == []


def test_cycle_through_a_lazy_import(tmp_path):
    pkg = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import f\n",
            "pkg/b.py": "def f():\n    from . import a\n",
            "pkg/c.py": "from . import a\n",
        },
    )
    graph = import_graph(pkg)
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]
    text = describe(["pkg.a", "pkg.b", "pkg.a"], graph, package_modules(pkg))
    assert "pkg.b imports pkg.a  (b.py:2)" in text


def test_cycle_through_a_name_reexported_by_the_package(tmp_path):
    pkg = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import A\nfrom .b import B\n",
            "pkg/a.py": "class A: ...\n",
            "pkg/b.py": "from . import A, a\n",  # A is the package's name, a a submodule
        },
    )
    graph = import_graph(pkg)
    assert edges(graph) == {
        ("pkg", "pkg.a"),
        ("pkg", "pkg.b"),
        ("pkg.b", "pkg"),
        ("pkg.b", "pkg.a"),
    }
    assert find_cycles(graph) == [["pkg", "pkg.b", "pkg"]]


@pytest.mark.parametrize(
    "text", ["import pkg.sub.m\n", "from pkg.sub.m import x\n", "from .sub import m\n"]
)
def test_importing_a_submodule_runs_its_package(tmp_path, text):
    pkg = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": text,
            "pkg/sub/__init__.py": "from .. import a\n",
            "pkg/sub/m.py": "x = 1\n",
        },
    )
    assert find_cycles(import_graph(pkg)) == [["pkg.a", "pkg.sub", "pkg.a"]]


def test_every_cycle_reported(tmp_path):
    pkg = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "from . import a, c\n",
            "pkg/c.py": "from . import a\n",
            "pkg/x.py": "from . import y\n",
            "pkg/y.py": "from . import x\n",
        },
    )
    assert find_cycles(import_graph(pkg)) == [
        ["pkg.a", "pkg.b", "pkg.a"],
        ["pkg.a", "pkg.b", "pkg.c", "pkg.a"],
        ["pkg.x", "pkg.y", "pkg.x"],
    ]
