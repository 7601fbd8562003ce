"""audit_core's import layers: no Prefect (nor the tasks and flows built on it), and no layer importing one
above it. The table below is the one statement of the layers; a module joins the composition in one line."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "audit_core"
FORBIDDEN = ("prefect", "tasks", "flows")

# The composition: modules that wire the layers together, each named exactly (the facade is the package).
COMPOSITION = (
    "audit_core",
    "audit_core.audit.run",
    "audit_core.audit.assemble",
    "audit_core.audit.write",
)
# Lowest first; a module may import its own layer and those below it. Each entry covers a package's modules.
LAYERS = (
    ("audit_core.core",),
    ("audit_core.stats",),
    ("audit_core.attacks", "audit_core.defenses", "audit_core.deploy"),  # deploy: the old serving path
    ("audit_core.config",),
    ("audit_core.data", "audit_core.targets"),
    ("audit_core.training",),
    ("audit_core.audit",),
    ("audit_core.tuning",),
    ("audit_core.results",),
    ("audit_core.gate",),
    ("audit_core.report",),
)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The layer of an audit_core module: the composition's, or that of its package in :data:`LAYERS`."""
    if module in COMPOSITION:
        return len(LAYERS)
    for index, packages in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in packages):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS or COMPOSITION in {__file__}")


def imports_of(module: str) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import in ``module``, inside functions too; ``from package
    import name`` counts as importing ``package.name`` when that is a module."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if submodule in MODULES else base))
    return found


def test_audit_core_never_imports_prefect_tasks_or_flows():
    bad = [
        f"{module}:{line} imports {name}"
        for module in MODULES
        for line, name in imports_of(module)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert not bad, "\n".join(bad)


def test_no_module_imports_a_layer_above_its_own():
    above = [
        f"{module}:{line} (layer {layer_of(module)}) imports {name} (layer {layer_of(name)})"
        for module in MODULES
        for line, name in imports_of(module)
        if name.split(".")[0] == "audit_core" and layer_of(name) > layer_of(module)
    ]
    assert not above, "\n".join(above)


@pytest.mark.slow  # imports all of torch, sklearn, weasyprint...: about 20 s on 2 busy cores
def test_importing_every_audit_core_module_loads_no_prefect():
    code = (
        "import importlib, sys\n"
        f"for name in {sorted(MODULES)!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[]"
