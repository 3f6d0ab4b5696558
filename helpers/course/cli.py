"""Command line: `python -m helpers course --profile cpu`, `python -m helpers prepare-model`."""

from __future__ import annotations

import argparse

from .profiles import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description="Fine-tuning myths course")
    sub = parser.add_subparsers(dest="command", required=True)
    course = sub.add_parser("course", help="run the notebooks with papermill")
    course.add_argument(
        "--profile", choices=PROFILES, default=None, help="default: gpu when CUDA is available, else cpu"
    )
    course.add_argument("--only", nargs="+", help="notebook names (or parts of them) to run, e.g. 00 quickstart")
    course.add_argument("--run-dir", help="folder for executed notebooks and results (default runs/<time>-<profile>)")
    course.add_argument(
        "--publish", action="store_true", help="copy the run's results into results/<profile>/ for the playbook"
    )
    prepare = sub.add_parser(
        "prepare-model", help="convert/cache a model so later loads are fast (default: the embedded SmolLM2)"
    )
    prepare.add_argument("name", nargs="?", default="smollm2-135m")
    playbook = sub.add_parser("playbook", help="regenerate the playbook pages from the result files")
    playbook.add_argument(
        "--check", action="store_true", help="fail if a page is stale or cites a missing or stale result"
    )
    playbook.add_argument(
        "--site", metavar="DIR", help="also build the static HTML site into DIR (open DIR/index.html)"
    )
    probe = sub.add_parser(
        "measure-training", help="(internal) train one configuration in this fresh process and write its record"
    )
    probe.add_argument("spec", help="JSON spec written by helpers.core.cost_probe.measure_training_cost")
    train = sub.add_parser("train", help="fine-tune on a JSONL file (one device, or several under `accelerate launch`)")
    from .train_command import add_arguments

    add_arguments(train)
    bench = sub.add_parser(
        "benchmark", help="training throughput and memory: the course default against a naive Trainer baseline"
    )
    bench.add_argument(
        "--profile", choices=PROFILES, default=None, help="default: gpu when CUDA is available, else cpu"
    )
    bench.add_argument("--run-dir", help="folder for the result (default runs/<time>-benchmark-<profile>)")
    bench.add_argument("--publish", action="store_true", help="copy the result into results/<profile>/")
    bench.add_argument(
        "--models", nargs="+", help="models instead of the profile's, e.g. random:Qwen2.5-1.5B or a hub id"
    )
    inference = sub.add_parser(
        "measure-inference", help="(internal) time one model's serving in this fresh process and write the result"
    )
    inference.add_argument("spec", help="JSON spec written by helpers.core.inference_cost.measure_inference_cost")
    args = parser.parse_args(argv)

    if args.command == "course":
        from .runner import run_course

        return run_course(args.profile, args.only, args.run_dir, args.publish)
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
    if args.command == "benchmark":
        from .benchmark import run as run_benchmark_command

        return run_benchmark_command(args.profile, args.run_dir, args.publish, args.models)
    if args.command == "measure-inference":
        from ..core.inference_cost import run_spec as run_inference_spec

        return run_inference_spec(args.spec)
    return 2
