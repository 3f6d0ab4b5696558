import re
import tomllib

from helpers.core.paths import REPO_ROOT


def pins_from_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(d.split("==") for d in deps)


def test_every_requirement_is_pinned():
    for dep in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        assert "==" in dep, dep


def test_environment_yml_uses_the_same_pins():
    env_pins = dict(
        re.findall(r"^\s*- ([A-Za-z0-9_.-]+)==([^\s]+)\s*$", (REPO_ROOT / "environment.yml").read_text(), re.M)
    )
    assert env_pins == pins_from_pyproject()
    assert pins_from_pyproject()["torch"] == "2.13.0"


def test_ci_runs_the_readme_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
    assert "make course" in readme
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "bash scripts/setup.sh" in makefile and "-m pytest" in makefile and "-m helpers course" in makefile
