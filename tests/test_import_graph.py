"""The package's layout: imports between keras_ae's subpackages only go down, in one fixed order,
and no modules import each other in a circle (docs/architecture.md).

Every `import` and `from ... import` statement of every module counts, those inside functions
too: importing something inside a function delays it, it does not make the dependency go away.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "keras_ae"

LAYERS = ("utils", "data", "models", "analysis", "visualization", "training", "serving",
          "commands")
"""keras_ae's subpackages, bottom to top: a module may import its own subpackage's modules and
those of the subpackages before its own, never those after."""

TOP = len(LAYERS)
"""The layer of the modules loose at the top of keras_ae (its `__init__` and `cli`): above every
subpackage, so nothing inside one may import them."""

MAX_LOOSE = 6


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The keras_ae modules that the module `name` imports, in any statement anywhere in it: for
    `from X import y`, X.y where that is a module, else X."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules
                          else source)
    return {target for target in found if target in modules and target != name}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imported(name, path, modules) for name, path in modules.items()}


def layer(name: str) -> int:
    """The rank of a module's subpackage in LAYERS; TOP for the modules loose at the top."""
    parts = name.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in LAYERS):
        return TOP
    if parts[1] not in LAYERS:
        raise AssertionError(f"{name}: keras_ae.{parts[1]} is not a subpackage in LAYERS")
    return LAYERS.index(parts[1])


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{source} imports {target}" for source, targets in edges.items()
                  for target in targets if layer(target) > layer(source))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One circle of imports through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def loose_modules(package: Path = PACKAGE) -> list[str]:
    return sorted(p.name for p in package.glob("*.py"))


def test_every_subpackage_has_a_layer():
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert subpackages == sorted(LAYERS)


def test_imports_only_go_down_the_layers():
    assert upward_imports(graph()) == []


def test_no_modules_import_each_other_in_a_circle():
    assert cycles(graph()) == []


def test_at_most_six_modules_are_loose_at_the_top():
    assert len(loose_modules()) <= MAX_LOOSE, loose_modules()


def test_the_checks_see_an_upward_import_and_a_circle(tmp_path):
    package = tmp_path / "keras_ae"
    for folder, text in {"utils": "from keras_ae.models import thing\n",
                         "models": "from ..utils import helper\n"}.items():
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
        (package / folder / "thing.py").write_text("")
        (package / folder / "helper.py").write_text(
            f"def later():\n    {text}" if folder == "utils" else text)
    (package / "__init__.py").write_text("")
    edges = graph(package)
    assert edges["keras_ae.utils.helper"] == {"keras_ae.models.thing"}  # inside a function too
    assert edges["keras_ae.models.helper"] == {"keras_ae.utils.helper"}  # relative
    assert upward_imports(edges) == ["keras_ae.utils.helper imports keras_ae.models.thing"]
    (package / "models" / "thing.py").write_text("import keras_ae.utils.helper\n")
    assert cycles(graph(package)) == [["keras_ae.models.thing", "keras_ae.utils.helper"]]


@pytest.mark.parametrize("name", ["data", "deep_clustering", "detect", "evaluate", "export",
                                  "features", "plots", "predict", "train"])
def test_short_module_names_still_import_from_keras_ae(name):
    import importlib

    import keras_ae

    module = getattr(keras_ae, name)
    assert module is importlib.import_module(module.__name__)
    assert module.__name__.rpartition(".")[2] == name


RUN_ACROSS_MODULES = ("bad_inputs", "benchmarks", "distributed", "docs", "end_to_end",
                      "examples", "fuzz_readers", "import_graph", "keras_user", "packaging")
"""Test files named after what they run rather than after one module (docs/architecture.md)."""


def unmatched_test_files(tests: Path, package: Path = PACKAGE) -> list[str]:
    """The tests/test_<name>.py files whose name is neither a module of the package (its stem,
    or `<subpackage>_<stem>`, `init` for the package itself) nor in RUN_ACROSS_MODULES."""
    names = {"init", *RUN_ACROSS_MODULES}
    for dotted in module_names(package):
        parts = dotted.split(".")[1:]
        if parts:
            names.add(parts[-1])
            names.add("_".join(parts))
    return sorted(path.name for path in tests.glob("test_*.py")
                  if path.stem.removeprefix("test_") not in names)


def test_test_files_mirror_the_modules(tmp_path):
    assert unmatched_test_files(Path(__file__).resolve().parent) == []
    for name in ("test_commands_detect.py", "test_detect.py", "test_init.py", "test_docs.py",
                 "test_training_core.py", "test_serving_train.py"):
        (tmp_path / name).write_text("")
    assert unmatched_test_files(tmp_path) == ["test_serving_train.py", "test_training_core.py"]
