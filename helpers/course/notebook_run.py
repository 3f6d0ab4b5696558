"""What every course notebook does around its experiment: settings, results folder, plot style, timer,
figures and the result record.

    nb = NotebookRun.start("01_data_size", globals())  # after the `parameters` cell
    cfg = nb.cfg                                        # the profile's defaults, with the cell's overrides
    nb.save_figure(fig, "01_data_size_intake.png")      # smoke watermark + save beside the record
    nb.finish(models=..., datasets=..., metrics=..., verdicts=..., headline=...)

`start` reads `profile`, `results_dir` and every parameter the profile defines
(helpers/course/profiles.py) from the notebook's namespace; a parameter left at None takes the default.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

from ..core import plots, records
from ..experiments import verdict
from . import profiles


class NotebookRun:
    def __init__(self, experiment: str, cfg: SimpleNamespace, results_dir: str | Path):
        self.experiment = experiment
        self.cfg = cfg
        self.results_path = Path(results_dir)
        self.started = time.perf_counter()
        self.record: dict | None = None

    @classmethod
    def start(cls, experiment: str, namespace: Mapping, show: bool = True) -> NotebookRun:
        """Settings from the notebook's parameters in `namespace` (its globals()); applies the plot style,
        starts the timer and prints the settings."""
        if experiment not in profiles.EXPERIMENT_SETTINGS:
            raise ValueError(f"unknown experiment {experiment!r}: known {sorted(profiles.EXPERIMENT_SETTINGS)}")
        notebook = profiles.EXPERIMENT_SETTINGS[experiment]
        names = profiles.parameter_names(notebook)
        missing = [name for name in ("profile", "results_dir", *names) if name not in namespace]
        if missing:
            raise NameError(f"{experiment}: the parameters cell does not define {missing}")
        overrides = {name: namespace[name] for name in names}
        run = cls(experiment, profiles.settings(notebook, namespace["profile"], **overrides), namespace["results_dir"])
        plots.apply_style()
        if show:
            print(run.cfg)
            print(expected_run_time(experiment, run.cfg.profile))
        return run

    @property
    def profile(self) -> str:
        return self.cfg.profile

    @property
    def artifacts_path(self) -> Path:
        """A folder for the run's large files (adapters), beside the results folder."""
        return self.results_path.parent / "artifacts" / self.experiment

    def seconds(self) -> float:
        """Seconds since start."""
        return time.perf_counter() - self.started

    def save_figure(self, fig, name: str) -> Path:
        """Save `fig` as `name` in the results folder, watermarked on the smoke profile (once)."""
        plots.smoke_watermark(fig, self.profile)
        return plots.save_figure(fig, self.results_path / name)

    def finish(
        self,
        *,
        models: list[dict],
        datasets: list[dict],
        metrics: dict,
        verdicts: list = (),
        headline=None,
        timings: dict | None = None,
        parameters: dict | None = None,
        extra: dict | None = None,
    ) -> Path:
        """Write the result record (results_dir/<experiment>.json) and print where.

        parameters: the settings plus these (values the run chose or fixed, e.g. a system prompt).
        timings: besides notebook_seconds, which is filled in. verdicts: Verdict objects (corrected here
        as one family, verdict.family, with the first model on their scale lines) or dicts.
        headline: {"label": ..., "value": ...}, a Verdict (its claim and status), or None.
        """
        found = [v for v in verdicts if isinstance(v, verdict.Verdict)]
        if found:
            verdict.family(found, model=models[0] if models else None)
        self.record = records.build_record(
            experiment=self.experiment,
            profile=self.profile,
            parameters={**vars(self.cfg), **(parameters or {})},
            models=models,
            datasets=datasets,
            seeds=self.cfg.seeds,
            metrics=metrics,
            timings={"notebook_seconds": round(self.seconds(), 1), **(timings or {})},
            headline=_headline(headline),
            verdicts=[v.to_dict() if hasattr(v, "to_dict") else v for v in verdicts],
            extra=extra,
        )
        path = records.write_record(self.record, self.results_path, self.experiment)
        print("wrote", path)
        return path


def _headline(headline) -> dict:
    if headline is None:
        return {}
    if isinstance(headline, Mapping):
        return dict(headline)
    return {"label": headline.claim, "value": headline.status}


def expected_run_time(experiment: str, profile: str) -> str:
    """How long this notebook took in the published run of its profile, and on what, so a learner knows
    what to expect before the long cells start; the published run may have had other settings."""
    import json

    from ..core.paths import RESULTS_DIR

    path = RESULTS_DIR / profile / f"{experiment}.json"
    if not path.is_file():
        return f"Expected run time: no published {profile} run of {experiment} to estimate from."
    record = json.loads(path.read_text())
    seconds = record.get("timings", {}).get("notebook_seconds")
    if not seconds:
        return f"Expected run time: the published {profile} run did not record its duration."
    machine = records.machine_description(record.get("device", {}))
    return (
        f"Expected run time: about {max(1, round(seconds / 60))} min, as the published {profile} run took on "
        f"{machine} ({record.get('created_utc', '')[:10]}); other settings or machines differ."
    )
