"""`python -m helpers ...` child processes (cost probes) run this course's package, even from a project
whose own `helpers.py` or `helpers/` would shadow it."""

from helpers.core.cost_probe import run_helpers_command

DECOY = "raise SystemExit(7)  # a project's own helpers module\n"


def test_child_runs_the_course_package_next_to_decoys(tmp_path, monkeypatch):
    """A decoy helpers.py in the working directory and a decoy helpers/ package on PYTHONPATH: either one,
    if imported, exits with 7 and run_helpers_command raises."""
    (tmp_path / "helpers.py").write_text(DECOY)
    (tmp_path / "lib" / "helpers").mkdir(parents=True)
    for name in ("__init__.py", "__main__.py"):
        (tmp_path / "lib" / "helpers" / name).write_text(DECOY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "lib"))
    run_helpers_command(["measure-training", "--help"], "help", timeout=300)
