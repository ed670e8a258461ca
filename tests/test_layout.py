"""The package layout (docs/ARCHITECTURE.md): folders that follow the data flow,
imports that point one way, no module too long to read.

Every ``import`` and ``from ... import`` in ``cfs_spiders/`` is read from the AST,
function-level ones included, relative imports resolved, so a cycle hidden inside a
function fails here as well.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cfs_spiders"
MAX_LINES = 600
# Data-only modules, allowed to be longer: the keyword rule table.
DATA_MODULES = {"cfs_spiders.normalize.rules"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(p): p
    for p in sorted(PACKAGE.rglob("*.py"))
    if "__pycache__" not in p.parts
}


def imports_of(name: str) -> set[str]:
    """Every module (of any package) that ``name`` imports, anywhere in it."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # ``from pkg import module`` imports the module too
            found.update(
                f"{target}.{a.name}"
                for a in node.names
                if f"{target}.{a.name}" in MODULES
            )
    return found


def internal_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports. Importing ``a.b.c`` runs the
    packages ``a`` and ``a.b`` too, so they count, except the module's own parent
    packages: Python has run those before the module starts."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        parts = name.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        deps = set()
        for target in imports_of(name):
            tparts = target.split(".")
            for i in range(1, len(tparts) + 1):
                prefix = ".".join(tparts[:i])
                if prefix in MODULES and prefix != name and prefix not in ancestors:
                    deps.add(prefix)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_scan_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The scanner itself: a cycle made only of a relative, function-level import
    is found (synthetic modules)."""
    graph = {"p.a": {"p.b"}, "p.b": set()}
    assert find_cycle(graph) is None
    graph["p.b"].add("p.a")
    assert find_cycle(graph) == ["p.a", "p.b", "p.a"]
    deps = imports_of("cfs_spiders.compare.run")
    assert {"cfs_spiders.compare.datapackage", "cfs_spiders.compare.report"} <= deps


def test_no_import_cycle() -> None:
    cycle = find_cycle(internal_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_top_level_and_subpackages() -> None:
    top = [p for p in PACKAGE.glob("*.py")]
    subpackages = [p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert len(top) <= 6, sorted(p.name for p in top)
    assert len(subpackages) >= 6, sorted(p.name for p in subpackages)


def test_no_code_module_over_600_lines() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and name not in DATA_MODULES
    }
    assert not long, long


_PACKAGES = {n for n, p in MODULES.items() if p.name == "__init__.py"}


def architecture_rules() -> dict[str, set[str]]:
    """folder -> the folders it may import, read from docs/ARCHITECTURE.md's table
    (rows ``| `folder/` | stage | `a/`, `b/` |``)."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rules = {}
    for line in text.splitlines():
        m = re.match(r"\|\s*`(\w+)/`\s*\|[^|]*\|([^|]*)\|", line)
        if m:
            rules[m.group(1)] = set(re.findall(r"`(\w+)/`", m.group(2)))
    return rules


def test_imports_follow_the_architecture_table() -> None:
    rules = architecture_rules()
    folders = {n.split(".")[1] for n in _PACKAGES if n.count(".") == 1}
    assert set(rules) == folders, "every folder has a row in docs/ARCHITECTURE.md"
    wrong = []
    for name, deps in internal_graph().items():
        if name.count(".") < 1 or name.split(".")[1] not in rules:
            continue
        here = name.split(".")[1]
        for dep in deps:
            if dep.count(".") < 1 or dep == "cfs_spiders":
                continue
            there = dep.split(".")[1]
            if there != here and there in folders and there not in rules[here]:
                wrong.append(f"{name} imports {dep}")
    assert not wrong, wrong


@pytest.mark.parametrize("folder", ["exports", "compare"])
def test_exports_and_compare_never_import_scrapy(folder: str) -> None:
    """Not directly, and not through any package module they import."""
    graph = internal_graph()
    for start in [n for n in MODULES if n.startswith(f"cfs_spiders.{folder}")]:
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            scrapy = {
                m for m in imports_of(name) if m.split(".")[0] in ("scrapy", "twisted")
            }
            assert not scrapy, f"{start} reaches {name}, which imports {sorted(scrapy)}"
            todo.extend(graph[name])


def test_vocabulary_doc_is_generated_from_vocab() -> None:
    """docs/VOCABULARY.md is what ``python -m cfs_spiders.config.vocabulary_doc``
    writes: a code added to vocab.py without regenerating it fails here."""
    from cfs_spiders.config import vocab, vocabulary_doc

    text = (ROOT / "docs" / "VOCABULARY.md").read_text(encoding="utf-8")
    assert text == vocabulary_doc.render(), "regenerate docs/VOCABULARY.md"
    for codes in (vocab.CALL_TYPE_CATEGORIES, vocab.DISPOSITIONS, vocab.CALL_SOURCES):
        assert all(f"`{c}`" in text for c in codes)


def test_no_docstring_points_outside_the_repository() -> None:
    """The vocabulary reference is docs/VOCABULARY.md, not a DOMAIN.md elsewhere.
    (The keyword rule table names its sources, DOMAIN.md among them: it is being
    rewritten on its own branch and left as it is here.)"""
    hits = [
        name
        for name, path in MODULES.items()
        if "DOMAIN.md" in path.read_text(encoding="utf-8") and name not in DATA_MODULES
    ]
    assert not hits, hits


def test_a_sqlite_crawl_never_imports_psycopg(tmp_path: Path) -> None:
    """psycopg is the ``[postgres]`` extra: a replayed crawl and export into SQLite
    run with it made unimportable."""
    import subprocess
    import sys

    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "psycopg":
            raise ImportError("psycopg blocked: SQLite-only install")
sys.meta_path.insert(0, Block())
from cfs_spiders.cli.main import main
db, out = {str(tmp_path / "cfs.sqlite")!r}, {str(tmp_path / "out")!r}
code = main(["--db", db, "--output", out, "crawl", "tx_dallas_police_active_calls",
             "--replay"])
code = code or main(["--db", db, "--output", out, "export"])
assert "psycopg" not in sys.modules
sys.exit(code)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "calls.csv").read_text().count("\n") > 1
