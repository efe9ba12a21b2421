#!/usr/bin/env python3
"""Structure facts of the repository, read from the source's AST (no import runs).

Prints: product files over 400 lines, functions over 60 lines, import cycles (every import
statement counts, including those deferred inside functions), imports that go the wrong way
between layers (docs/architecture-layers.md), and the places that spell a Personalize ARN.

    .venv/bin/python -m tools.structure_facts [--json] [--check]

`--check` (what `make lint` gates on) prints only what breaks a rule and exits 1 when something
does: an import cycle, a wrong-way import, a product file or function over its size, a Personalize
ARN spelled outside the address book.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT_ROOTS = ("app.py", "config", "lambdas", "stacks", "tools")
SCANNED_ROOTS = (*PRODUCT_ROOTS, "benchmarks", "harness", "tests")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

ADDRESS_BOOK = "lambdas.personalize_resources.address_book"
# The CDK-free model of the app: the `config` package (validated configuration and what it is
# made of), and what is computed from it alone (the report's SQL, the cost estimate).
CONFIG_PACKAGE = "config"
CONFIG_MODULES = frozenset({"stacks.report_sql", "stacks.cost"})
# Programs that drive a synth: they may import anything of ours but tests.
ENTRY_MODULES = frozenset({"app", "tools.release", "tools.__main__"})

# Layer -> the layers it may import (its own included). Handlers and config are peers, as are
# stacks and tools: neither of a pair imports the other.
ALLOWED: dict[str, frozenset[str]] = {
    "address book": frozenset({"address book"}),
    "handlers": frozenset({"address book", "handlers"}),
    "config": frozenset({"address book", "config"}),
    "stacks": frozenset({"address book", "handlers", "config", "stacks"}),
    "tools": frozenset({"address book", "handlers", "config", "tools"}),
    "entry": frozenset({"address book", "handlers", "config", "stacks", "tools", "entry"}),
    # The development harness (simulator, fakes, players) drives the product but never the tests.
    "harness": frozenset({"address book", "handlers", "config", "stacks", "tools", "entry", "harness"}),
    "tests": frozenset({"address book", "handlers", "config", "stacks", "tools", "entry", "harness", "tests"}),
}
# Third-party packages a layer must not import: the Lambda runtime ships boto3 only, and only
# stacks (and what drives them) may load the CDK (jsii starts a node process).
CDK_PACKAGES = frozenset({"aws_cdk", "constructs", "cdk_nag"})
FORBIDDEN_PACKAGES: dict[str, frozenset[str]] = {
    "address book": frozenset({"*"}),
    "handlers": CDK_PACKAGES | {"yaml", "pydantic", "numpy", "duckdb", "scipy", "matplotlib", "tqdm"},
    "config": CDK_PACKAGES,
    "tools": CDK_PACKAGES,
}


def layer(module: str) -> str:
    if module == ADDRESS_BOOK:
        return "address book"
    if module in CONFIG_MODULES or module == CONFIG_PACKAGE or module.startswith(CONFIG_PACKAGE + "."):
        return "config"
    if module in ENTRY_MODULES or module.startswith("benchmarks."):
        return "entry"
    top = module.split(".", 1)[0]
    return {"lambdas": "handlers", "stacks": "stacks", "tools": "tools", "harness": "harness", "tests": "tests"}[top]


@dataclass
class Module:
    name: str
    where: str  # path from the repository root
    tree: ast.Module
    lines: int
    is_package: bool
    nodes: list[ast.AST] = field(default_factory=list)  # every node of the tree, walked once

    def __post_init__(self) -> None:
        self.nodes = self.nodes or list(ast.walk(self.tree))


@dataclass
class Facts:
    long_files: list[tuple[str, int]] = field(default_factory=list)
    long_functions: list[tuple[str, int]] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)
    wrong_way: list[str] = field(default_factory=list)
    personalize_arns: list[str] = field(default_factory=list)


def python_files(repo: Path, roots: Iterable[str]) -> Iterator[Path]:
    for root in roots:
        path = repo / root
        if path.is_file():
            yield path
        else:
            yield from sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def load_modules(repo: Path) -> dict[str, Module]:
    modules = {}
    for path in python_files(repo, SCANNED_ROOTS):
        relative = path.relative_to(repo).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        source = path.read_text()
        name = ".".join(parts)
        modules[name] = Module(name, str(path.relative_to(repo)), ast.parse(source, str(path)), len(source.splitlines()), relative.name == "__init__")
    return modules


def _type_checking_only(module: Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:`: annotations only, never run, so no edge."""
    guarded: set[int] = set()
    for node in module.nodes:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            guarded |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return guarded


def imported_names(module: Module, known: Iterable[str]) -> Iterator[tuple[str, int]]:
    """(imported name, line) for every import statement that runs, wherever it sits in the module
    (deferred imports included; those under `if TYPE_CHECKING:` are for annotations only)."""
    known = set(known)
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    guarded = _type_checking_only(module)
    for node in module.nodes:
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from package import module` imports the module; `from module import name` the module.
                yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base), node.lineno


def internal_target(name: str, known: set[str]) -> str | None:
    """The module of ours that `name` loads (its longest known prefix), or None for third party."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def import_graph(modules: dict[str, Module]) -> tuple[dict[str, set[str]], list[str]]:
    """Edges between our modules, and the imports that break the layer rules."""
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    wrong_way: set[str] = set()
    for module in modules.values():
        source_layer = layer(module.name)
        for name, line in imported_names(module, known):
            target = internal_target(name, known)
            where = f"{module.where}:{line}"
            if target is None:
                package = name.split(".", 1)[0]
                forbidden = FORBIDDEN_PACKAGES.get(source_layer, frozenset())
                if package in forbidden or ("*" in forbidden and package not in sys.stdlib_module_names):
                    wrong_way.add(f"{where} {source_layer} -> third-party {package}")
                continue
            if target == module.name:
                continue
            graph[module.name].add(target)
            if layer(target) not in ALLOWED[source_layer]:
                wrong_way.add(f"{where} {source_layer} -> {layer(target)} ({module.name} imports {target})")
    return graph, sorted(wrong_way)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def long_functions(module: Module) -> Iterator[tuple[str, int]]:
    for node in module.nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield f"{module.where}:{node.lineno} {node.name}", length


def docstring_nodes(module: Module) -> set[int]:
    ids = set()
    for node in module.nodes:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def personalize_arn_places(module: Module) -> Iterator[str]:
    """Code that spells a Personalize ARN: a string with `:personalize:` (an f-string part, a
    pattern) or a `format_arn(service="personalize")` call. Docstrings do not count."""
    docstrings = docstring_nodes(module)
    where = module.where
    for node in module.nodes:
        if isinstance(node, ast.JoinedStr):
            if any(isinstance(v, ast.Constant) and ":personalize:" in str(v.value) for v in node.values):
                yield f"{where}:{node.lineno}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if ":personalize:" in node.value and not _inside_joined_str(module, node):
                yield f"{where}:{node.lineno}"
        elif isinstance(node, ast.Call) and any(
            k.arg == "service" and isinstance(k.value, ast.Constant) and k.value.value == "personalize" for k in node.keywords
        ):
            yield f"{where}:{node.lineno}"


def _inside_joined_str(module: Module, target: ast.Constant) -> bool:
    return any(isinstance(node, ast.JoinedStr) and target in node.values for node in module.nodes)


def is_product(module: Module) -> bool:
    return layer(module.name) not in ("harness", "tests") and not module.name.startswith("benchmarks.")


def collect(repo: Path = REPO) -> Facts:
    modules = load_modules(repo)
    graph, wrong_way = import_graph(modules)
    product = [m for m in modules.values() if is_product(m)]
    return Facts(
        long_files=sorted(((m.where, m.lines) for m in product if m.lines > MAX_FILE_LINES), key=lambda f: -f[1]),
        long_functions=sorted((f for m in product for f in long_functions(m)), key=lambda f: -f[1]),
        cycles=cycles(graph),
        wrong_way=sorted(wrong_way),
        # This script names the pattern it looks for; it builds no ARN.
        personalize_arns=sorted(place for m in product if m.name != __spec__.name for place in personalize_arn_places(m)),
    )


def arn_modules(places: list[str]) -> list[str]:
    """The places grouped by module: one row per module that spells a Personalize ARN, its lines."""
    lines: dict[str, list[str]] = {}
    for place in places:
        where, line = place.rsplit(":", 1)
        lines.setdefault(where, []).append(line)
    return [f"{where} (lines {', '.join(numbers)})" for where, numbers in sorted(lines.items())]


def print_facts(facts: Facts) -> None:
    sections = [
        (f"product files over {MAX_FILE_LINES} lines", [f"{lines:5d}  {path}" for path, lines in facts.long_files]),
        (f"functions over {MAX_FUNCTION_LINES} lines", [f"{lines:5d}  {where}" for where, lines in facts.long_functions]),
        ("import cycles (deferred imports included)", [" <-> ".join(c) for c in facts.cycles]),
        ("wrong-way imports", facts.wrong_way),
        ("modules spelling a Personalize ARN", arn_modules(facts.personalize_arns)),
    ]
    for title, rows in sections:
        print(f"{title}: {len(rows)}")
        for row in rows:
            print(f"  {row}")


def violations(facts: Facts) -> list[str]:
    """One line per broken rule, each naming where and the rule (docs/architecture-layers.md)."""
    address_book = ADDRESS_BOOK.replace(".", "/") + ".py"
    return [
        *(f"import cycle: {' <-> '.join(cycle)}" for cycle in facts.cycles),
        *(f"wrong-way import: {arrow} (docs/architecture-layers.md)" for arrow in facts.wrong_way),
        *(f"{path}: {lines} lines, over {MAX_FILE_LINES}: split it by concern" for path, lines in facts.long_files),
        *(f"{where}: {lines} lines, over {MAX_FUNCTION_LINES}: name its steps" for where, lines in facts.long_functions),
        *(f"{place}: spells a Personalize ARN; build it with {ADDRESS_BOOK}" for place in facts.personalize_arns if not place.startswith(address_book + ":")),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a rule is broken (cycles, wrong-way imports, sizes, ARNs outside the address book)")
    args = parser.parse_args(argv)
    facts = collect()
    if args.check:
        broken = violations(facts)
        for line in broken:
            print(line, file=sys.stderr)
        return 1 if broken else 0
    if args.json:
        print(json.dumps(asdict(facts), indent=2))
    else:
        print_facts(facts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
