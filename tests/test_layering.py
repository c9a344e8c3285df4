"""The package layering: hillmix imports no sibling; hillmix_sim not hillmix_opt; none the CLI.

Imports are read from the source (``import``, ``from ... import``, and
modules loaded by name at run time: ``importlib.import_module``,
``__import__``, ``runpy``, ``pkgutil.resolve_name``, or a string naming a
package above), and checked again at run time in a fresh process.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "hillmix": {"hillmix_sim", "hillmix_opt", "hillmix_cli"},
    "hillmix_sim": {"hillmix_opt", "hillmix_cli"},
    "hillmix_opt": {"hillmix_cli"},
}
# Calls that load a module named by their first argument.
_LOADERS = {"import_module", "__import__", "run_module", "find_spec", "resolve_name"}


def _top(name: str) -> str:
    return name.split(".")[0].split(":")[0]


def _loaded_name(node) -> str | None:
    """The module a loader call names, when it is a literal (or starts with one)."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in _LOADERS or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value)
    return None


def offences(source: str, forbidden: set) -> list[str]:
    """What in ``source`` reaches a forbidden package, one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call):
            loaded = _loaded_name(node)
            names = [loaded] if loaded else []
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A package named in code (PACKAGES = ("hillmix_opt",)) and loaded
            # later through a variable.
            text = node.value
            if text.isidentifier() or all(part.isidentifier() for part in text.split(".")):
                names = [text]
        found += [f"line {node.lineno}: {name}" for name in names if _top(name) in forbidden]
    return sorted(set(found))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_reach_upwards(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad += [
            f"{path.relative_to(ROOT)} {o}" for o in offences(path.read_text(), FORBIDDEN[package])
        ]
    assert not bad, bad


@pytest.mark.parametrize(
    "planted",
    [
        "from hillmix_cli import main",
        "import hillmix_cli._demo",
        "import importlib\nimportlib.import_module('hillmix_opt')",
        "from importlib import import_module\nimport_module('hillmix_sim.retail')",
        "__import__('hillmix_opt')",
        "import runpy\nrunpy.run_module('hillmix_cli')",
        "PACKAGES = ('hillmix', 'hillmix_sim')",
        "name = 'x'\nimport importlib\nimportlib.import_module(f'hillmix_opt.{name}')",
    ],
)
def test_the_check_catches_planted_imports(planted):
    # The check must be able to fail: each of these in hillmix/ is caught.
    assert offences(planted, FORBIDDEN["hillmix"])


def test_docstrings_and_messages_may_name_the_packages():
    source = '"""Pass a :class:`hillmix_opt.LinUCBStrategy`."""\nx = "see hillmix_opt docs"\n'
    assert not offences(source, FORBIDDEN["hillmix"])


_RUNTIME_PROBE = """
import json, sys
import hillmix, hillmix.utils
from hillmix.utils import all_estimators
all_estimators(hillmix)
hillmix.HillMixtureMMM().get_params()
def loaded(*tops):
    return sorted(m for m in sys.modules if m.split(".")[0] in tops)
after_base = loaded("hillmix_sim", "hillmix_opt", "hillmix_cli")
import hillmix_sim
after_sim = loaded("hillmix_opt", "hillmix_cli")
import hillmix_opt
after_opt = loaded("hillmix_cli")
print(json.dumps([after_base, after_sim, after_opt]))
"""


def test_no_package_loads_a_package_above_it_at_run_time():
    out = subprocess.run(
        [sys.executable, "-c", _RUNTIME_PROBE], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], [], []]
