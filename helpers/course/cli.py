"""Command line: `python -m helpers course --profile cpu`, `python -m helpers train ...`, `python -m helpers eval ...`.

A mistake in what the user passed (a missing, empty, non-UTF-8 or malformed data file, an unknown model,
a bad option value) prints one line, `error: ...`, and exits with status 2; `--debug` shows the traceback.
Warnings print as one line, `warning: ...` (with `--debug`, in Python's usual form, with the source line).
Heavy modules (torch, transformers) are imported only once a command runs, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .profiles import PROFILES
from .rehearsal import REHEARSED_TIERS
from .rehearsal import profile_name as rehearsal_profile

USER_ERROR_STATUS = 2


class UserError(Exception):
    """A mistake in a command's input or options: printed as one line (no traceback), exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `error: argument --steps: invalid positive int value: '0' (see ... --help)`."""

    def error(self, message: str):
        self.exit(USER_ERROR_STATUS, f"error: {message} (see `{self.prog} --help`)\n")


# The exceptions that are the user's to fix, by module. Looked up only in modules already imported (an error
# cannot come from a module that never loaded), so that a bad data file fails at once, before torch loads.
USER_ERRORS = {
    "helpers.core.tasks": "DataFileError",  # missing, unreadable, non-UTF-8, empty or malformed data files
    "helpers.core.models": "ModelNotAvailableError",  # unknown model names, missing folders
    "helpers.core.training": "NoTrainingExamplesError",  # every answer cut off by --max-length
}


def is_user_error(err: BaseException) -> bool:
    kinds = [UserError] + [getattr(sys.modules[m], name) for m, name in USER_ERRORS.items() if m in sys.modules]
    return isinstance(err, tuple(kinds))


def one_line(err: BaseException) -> str:
    """An error as one line: the first bad row of a data file (and how many more), other messages joined."""
    problems = getattr(err, "problems", None)
    if problems:
        more = f" [+{len(problems) - 1} more malformed row(s); --debug lists all]" if len(problems) > 1 else ""
        return problems[0] + more
    return " ".join(part.strip() for part in str(err).splitlines() if part.strip()) or type(err).__name__


class MissingKernelsFilter(logging.Filter):
    """Drops bitsandbytes' import-time warning that the optional `kernels` package (a faster CPU 4-bit
    matmul fetched from the Hugging Face hub) is not installed; every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        missing_kernels = any(isinstance(arg, ModuleNotFoundError) and arg.name == "kernels" for arg in args)
        return not (missing_kernels and str(record.msg).startswith("Failed to load CPU gemm_4bit_forward"))


def quiet_missing_kernels_warning() -> None:
    """Install the filter on the logger bitsandbytes.backends.cpu.ops uses, before bitsandbytes is imported."""
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    if not any(isinstance(f, MissingKernelsFilter) for f in logger.filters):
        logger.addFilter(MissingKernelsFilter())


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m helpers", description="Fine-tuning myths course")
    debug = Parser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[debug], **kwargs)  # --debug also after the command name

    course = command("course", help="run the notebooks with papermill")
    course.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="default: the GPU tier the card's memory fits (t4, gpu, full), else cpu",
    )
    course.add_argument("--only", nargs="+", help="notebook names (or parts of them) to run, e.g. 00 quickstart")
    course.add_argument("--run-dir", help="folder for executed notebooks and results (default runs/<time>-<profile>)")
    course.add_argument(
        "--publish", action="store_true", help="copy the run's results into results/<profile>/ for the playbook"
    )
    course.add_argument(
        "--rehearse",
        choices=REHEARSED_TIERS,
        help="run a GPU tier's code paths on this machine: the tier's grids and branches, tiny stand-in models and "
        "smoke-sized data (a plumbing check, never published)",
    )
    course.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run that stopped: keep the notebooks that finished in RUN_DIR, run the others there",
    )
    course.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="set a notebook parameter beyond the profile's defaults, e.g. --set model=smollm2-135m "
        "(repeatable; not with --publish)",
    )
    course.add_argument(
        "--no-kernel",
        action="store_true",
        help="run each notebook's cells in this process, without Jupyter (a bare machine); no executed copy is kept",
    )
    course.add_argument(
        "--plan",
        action="store_true",
        help="run nothing: print each notebook's fine-tunes, tokens, estimated minutes and peak memory",
    )
    course.add_argument(
        "--gpu", help="with --plan: the card to price on (T4, L4, A10G, A100, H100, ...; default: the tier's)"
    )
    prepare = command(
        "prepare-model", help="convert/cache a model so later loads are fast (default: the embedded SmolLM2)"
    )
    prepare.add_argument("name", nargs="?", default="smollm2-135m")
    playbook = command("playbook", help="regenerate the playbook pages from the result files")
    playbook.add_argument(
        "--check", action="store_true", help="fail if a page is stale or cites a missing or stale result"
    )
    playbook.add_argument(
        "--site", metavar="DIR", help="also build the static HTML site into DIR (open DIR/index.html)"
    )
    probe = command(
        "measure-training", help="(internal) train one configuration in this fresh process and write its record"
    )
    probe.add_argument("spec", help="JSON spec written by helpers.core.cost_probe.measure_training_cost")
    from . import eval_command, train_command  # both import their heavy modules only when they run

    train_command.add_arguments(
        command("train", help="fine-tune on a JSONL file (one device, or several under `accelerate launch`)")
    )
    eval_command.add_arguments(
        command("eval", help="score a model, or a base model with a trained adapter, on a JSONL file")
    )
    bench = command(
        "benchmark", help="training throughput and memory: the course default against a naive Trainer baseline"
    )
    bench.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="default: the GPU tier the card's memory fits (t4, gpu, full), else cpu",
    )
    bench.add_argument("--run-dir", help="folder for the result (default runs/<time>-benchmark-<profile>)")
    bench.add_argument("--publish", action="store_true", help="copy the result into results/<profile>/")
    bench.add_argument(
        "--eval",
        action="store_true",
        help="evaluation throughput instead: the course's generation path against the naive one, with agreement",
    )
    bench.add_argument(
        "--models", nargs="+", help="models instead of the profile's, e.g. random:Qwen2.5-1.5B or a hub id"
    )
    inference = command(
        "measure-inference", help="(internal) time one model's serving in this fresh process and write the result"
    )
    inference.add_argument("spec", help="JSON spec written by helpers.core.inference_cost.measure_inference_cost")
    return parser


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """warnings.formatwarning for the command line: `warning: ...` on one line, without the source line."""
    kind = "" if category is UserWarning else f"{category.__name__}: "
    return f"warning: {kind}{' '.join(str(message).split())}\n"


def main(argv: list[str] | None = None) -> int:
    import warnings

    args = build_parser().parse_args(argv)
    quiet_missing_kernels_warning()
    python_format = warnings.formatwarning
    if not args.debug:
        warnings.formatwarning = one_line_warning
    try:
        return _run(args)
    except Exception as err:
        if args.debug or not is_user_error(err):
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        return USER_ERROR_STATUS
    finally:
        warnings.formatwarning = python_format


def _run(args: argparse.Namespace) -> int:
    if args.command == "course" and args.plan:
        from .plan import print_plan

        return print_plan(args.profile, args.gpu, args.only)
    if args.command == "course":
        from .runner import run_course

        if args.resume and args.run_dir:
            raise UserError("--resume RUN_DIR already names the run folder; drop --run-dir")
        profile = args.profile
        if args.rehearse:
            if args.profile or args.publish:
                raise UserError("--rehearse TIER runs that tier's rehearsal profile: drop --profile and --publish")
            profile = rehearsal_profile(args.rehearse)
        from .runner import parse_overrides

        try:
            overrides = parse_overrides(args.set)
        except ValueError as err:
            raise UserError(str(err)) from None
        return run_course(
            profile,
            args.only,
            args.resume or args.run_dir,
            args.publish,
            resume=bool(args.resume),
            overrides=overrides,
            in_process=args.no_kernel,
        )
    if args.command == "prepare-model":
        from ..core.models import resolve

        folder, source, _ = resolve(args.name)
        print(f"{args.name} ({source}) ready at {folder}")
        return 0
    if args.command == "playbook":
        from .playbook import build, build_site

        for path in build(check=args.check):
            print(f"wrote {path}")
        print("playbook is up to date" if args.check else "done")
        if args.site:
            print(f"site built: {build_site(args.site)}")
        return 0
    if args.command == "measure-training":
        from ..core.cost_probe import run_spec

        return run_spec(args.spec)
    if args.command == "train":
        from .train_command import run as run_train

        return run_train(args)
    if args.command == "eval":
        from .eval_command import run as run_eval

        return run_eval(args)
    if args.command == "benchmark" and args.eval:
        from .eval_benchmark import run as run_eval_benchmark

        return run_eval_benchmark(args.profile, args.run_dir, args.publish, args.models)
    if args.command == "benchmark":
        from .benchmark import run as run_benchmark_command

        return run_benchmark_command(args.profile, args.run_dir, args.publish, args.models)
    if args.command == "measure-inference":
        from ..core.inference_cost import run_spec as run_inference_spec

        return run_inference_spec(args.spec)
    return USER_ERROR_STATUS
