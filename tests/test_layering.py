"""The package's rooms stay in order: core < data < experiments < course.

A module may import from its own room or a lower one, never a higher one, and never another module's
private (underscore) name. The imports are read from the source, so a lazy import inside a function
counts too.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "helpers"
LAYERS = ("core", "data", "experiments", "course")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _room(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import of the helpers package in the file."""
    package_parts = ["helpers", *path.relative_to(PACKAGE).parts[:-1]]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [alias.name for alias in node.names]
            if module.split(".")[0] == "helpers":
                found.append((node.lineno, module, names))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "helpers":
                    found.append((node.lineno, alias.name, []))
    return found


def _target_room(module: str, name: str) -> str | None:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    if len(parts) == 1 and name in LAYERS:  # `from helpers import core`
        return name
    return None


def layering_violations() -> list[str]:
    problems = []
    for path in _modules():
        room = _room(path)
        where = path.relative_to(PACKAGE.parent)
        for line, module, names in _imports(path):
            for name in names or [""]:
                target = _target_room(module, name)
                if room and target and LAYERS.index(target) > LAYERS.index(room):
                    problems.append(f"{where}:{line}: {room} imports {module} ({target} is a higher room)")
                if name.startswith("_") and not name.startswith("__"):
                    problems.append(f"{where}:{line}: imports the private name {name} from {module}")
    return problems


def test_no_lower_room_imports_a_higher_one_and_no_private_names_cross_modules():
    assert layering_violations() == []


def test_every_module_lives_in_a_room():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", "__main__.py"}]
    assert loose == [], f"modules outside core/, data/, experiments/, course/: {loose}"


@pytest.mark.parametrize(
    ("room", "source", "expected"),
    [
        ("core", "from ..data.sources import load_banking77\n", "core imports helpers.data.sources"),
        ("data", "def f():\n    from ..experiments import verdict\n", "data imports helpers.experiments"),
        ("experiments", "from ..core.models import _private\n", "private name _private"),
        ("core", "from helpers.course.profiles import PROFILES\n", "core imports helpers.course.profiles"),
    ],
)
def test_the_check_catches_each_kind_of_violation(tmp_path, monkeypatch, room, source, expected):
    fake = tmp_path / "helpers"
    for layer in LAYERS:
        (fake / layer).mkdir(parents=True)
        (fake / layer / "__init__.py").write_text("")
    (fake / room / "offender.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    problems = layering_violations()
    assert len(problems) == 1 and expected in problems[0], problems
