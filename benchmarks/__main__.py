"""The benchmark runner: every benchmark under one profile, rows under results/, a summary, publishing.

    python -m benchmarks run [--profile quick|full]
                             [--only quality throughput robustness memory timeline growth serving loader translation
                                     clustering retrieval collection]
                             [--models NAME_OR_HUB_ID ...] [--runs RUN_DIR ...] [--keep-runs DIR]
                             [--device cpu|cuda] [--results results]
    python -m benchmarks summary [--results results]          # rewrite results/summary.md
    python -m benchmarks publish --repo-id you/fashion-gan-lab-results [--results results] [--private]

`run` (what `make bench` calls) plans each benchmark's scenarios for the
profile, runs them one by one and appends their rows, tagged with the run id
and the profile, to results/<benchmark>.jsonl as each scenario finishes (an
interrupted run keeps what it measured). A failing scenario becomes error
rows and the others still run. Then it draws results/robustness.png,
rewrites results/summary.md (the newest run of each benchmark; core.report)
and exits 1 if any row is an error or the quality sanity check fails.

Models: by default every model in pretrained/, each benchmark taking its
kind (generators: quality, throughput; classifiers: robustness; translators: translation); `--models`
takes folders, names in pretrained/ or Hub repo ids instead. The memory
benchmark builds its own models (COCO-GAN and a full-image GAN per resolution, and
COCO-GAN with fixed 64 / 32 px patches as the image grows).
The growth benchmark scores the stage snapshots that growing generators (ProGAN) export with them.
The timeline benchmark scores the snapshots of training runs (`--runs`, default:
every run under runs/ that kept some; none in a fresh clone). The collection
benchmark trains every family of the classic collection at the reference
collection's budget, so it runs only when asked for (`--only collection`);
`--keep-runs DIR` keeps its training runs, which are the shipped models' runs:

    python -m benchmarks run --only collection timeline --keep-runs runs/collection --runs runs/collection/gan ...
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from benchmarks import (
    clustering,
    collection,
    growth,
    loader,
    memory,
    quality,
    retrieval,
    robustness,
    run_scenarios,
    serving,
    throughput,
    timeline,
    translation,
)
from core import report
from core.errors import UserError
from core.files import write_text
from core.hub import push, read_config
from core.inference import list_models, resolve_source
from core.models import MODELS
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, append_rows, device_label

DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SUMMARY_FILE = "summary.md"


@dataclass(frozen=True)
class Profile:
    """How much each benchmark measures: keyword options for its scenarios."""

    name: str
    description: str
    quality: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    robustness: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    timeline: dict[str, Any] = field(default_factory=dict)
    collection: dict[str, Any] = field(default_factory=dict)
    serving: dict[str, Any] = field(default_factory=dict)
    loader: dict[str, Any] = field(default_factory=dict)
    growth: dict[str, Any] = field(default_factory=dict)
    translation: dict[str, Any] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)
    clustering: dict[str, Any] = field(default_factory=dict)


PROFILES = {
    # Goal: under 15 minutes end to end on 2 CPU cores.
    "quick": Profile(
        "quick",
        "2 CPU cores: full quality protocol, short throughput timings, robustness on the first 1,000 test images",
        # diffusion: three sampler step counts, 1,000 images each (every image costs a U-Net pass per step)
        quality={"extractors": (quality.DOMAIN,), "kid_subsets": 100, "diffusion_steps": (10, 25, 50),
                 "diffusion_n": 1000},
        throughput={"steps": 10, "warmup": 3, "repeats": 10, "diffusion_steps": (10, 25, 50)},
        robustness={"limit": 1000, "epsilons": (0.0, 0.05, 0.1, 0.2, 0.3), "pgd_steps": 10},
        memory={
            "resolutions": (64, 128, 256),
            "fixed_resolutions": (128, 256, 512, 1024),
            "batch_size": 8,
            "steps": 1,
            "warmup": 1,
        },
        collection={"epochs": 10, "networks": collection.NETWORKS},
        timeline={"diffusion_steps": 10},
        serving={"clients": (1, 16), "seconds": 8.0},
        loader={"sizes": (64, 128, 256), "workers": (0, 1, 2), "batches": 6, "train_steps": 4, "train_warmup": 1},
        translation={"diversity_images": 32, "kid_subsets": 100},
        retrieval={"identity_queries": 500, "repeats": 50, "warmup": 5},
        # one thread: on 2 shared cores, spinning OpenMP threads made K-Means and Canny 3-5x slower
        clustering={"data": "clothing", "split": "all", "k": 8, "seed": 0, "threads": 1},
    ),
    "full": Profile(
        "full",
        "a GPU: quality with every available extractor, long throughput timings, robustness on the whole test split",
        quality={"extractors": (quality.DOMAIN, "inception-if-present"), "kid_subsets": 100,
                 "diffusion_steps": (10, 25, 50, 250, 1000)},
        throughput={"steps": 30, "warmup": 5, "repeats": 20, "diffusion_steps": (10, 25, 50, 250, 1000),
                    "diffusion_repeats": 5},
        robustness={"limit": None, "epsilons": robustness.DEFAULT_EPSILONS, "pgd_steps": 10},
        memory={
            "resolutions": (64, 128, 256, 512, 1024),
            "fixed_resolutions": (128, 256, 512, 1024),
            "batch_size": 16,
            "steps": 5,
            "warmup": 2,
        },
        collection={"epochs": 10, "networks": collection.NETWORKS},
        timeline={"diffusion_steps": 50},
        serving={"clients": (1, 16), "seconds": 30.0},
        loader={"sizes": (64, 128, 256), "workers": (0, 1, 2, 4), "batches": 30, "train_steps": 20, "train_warmup": 5},
        translation={"diversity_images": None, "kid_subsets": 100},
        retrieval={"identity_queries": None, "repeats": 200, "warmup": 10},
        clustering={"data": "clothing", "split": "all", "k": 8, "seed": 0},
    ),
}


@dataclass(frozen=True)
class Benchmark:
    """One benchmark as the runner sees it: which models it takes, its scenarios, how to run and print them."""

    name: str
    kind: str | None  # "generator", "classifier" or "translator": the models it measures; None: it builds its own
    plan: Callable[[list[str], Profile, str, Path], list]
    run: Callable[..., list[Row]]
    table: Callable[[list[Row]], str]
    default: bool = True  # part of a plain `run` (the collection trains for an hour: only when asked for)


def plan_quality(models: list[str], profile: Profile, device: str, results: Path) -> list[quality.Scenario]:
    options = dict(profile.quality)
    extractors = [e for e in options.pop("extractors") if e != "inception-if-present"]
    if "inception-if-present" in profile.quality["extractors"]:
        from benchmarks.fidelity import INCEPTION, inception_weights

        if inception_weights() is not None:
            extractors.append(INCEPTION)
        else:
            print("quality: Inception weights not present, so no standard FID this run (domain extractors only)")
    return quality.scenarios(models, tuple(extractors), device=device, samples=results / "samples", **options)


def plan_throughput(models: list[str], profile: Profile, device: str, results: Path) -> list[throughput.Scenario]:
    # each inference backend the device has (CPU: torch and onnx), onnx for the models that have or can get a graph;
    # a diffusion model at each of the profile's sampler step counts
    return throughput.scenarios(models, device, throughput.default_backends(device), **profile.throughput)


def plan_robustness(models: list[str], profile: Profile, device: str, results: Path) -> list[robustness.Scenario]:
    return [
        robustness.Scenario(model, attack, mask, device=device, **profile.robustness)
        for model in models for attack in robustness.ATTACKS.names() for mask in (False, True)
    ]


def plan_memory(models: list[str], profile: Profile, device: str, results: Path) -> list[memory.Scenario]:
    return memory.scenarios(device=device, **profile.memory)


def plan_timeline(runs: list[str], profile: Profile, device: str, results: Path) -> list[timeline.Scenario]:
    return [timeline.Scenario(folder, device=device, **profile.timeline) for folder in timeline.snapshots(runs)]


def plan_collection(models: list[str], profile: Profile, device: str, results: Path) -> list[collection.Scenario]:
    options = dict(profile.collection)
    return collection.scenarios(networks=tuple(options.pop("networks")), device=device, samples=results / "samples",
                                **options)


def plan_serving(models: list[str], profile: Profile, device: str, results: Path) -> list[serving.Scenario]:
    options = dict(profile.serving)
    return [serving.Scenario(space, clients, options.get("seconds", 10.0))
            for space in serving.ENDPOINTS for clients in options.get("clients", (1, 16))]


def plan_growth(models: list[str], profile: Profile, device: str, results: Path) -> list[growth.Scenario]:
    return growth.scenarios(models, device=device, **profile.growth)


def plan_translation(models: list[str], profile: Profile, device: str, results: Path) -> list[translation.Scenario]:
    return translation.scenarios(models, device=device, **profile.translation)


def plan_clustering(models: list[str], profile: Profile, device: str, results: Path) -> list[clustering.Scenario]:
    return clustering.scenarios(**profile.clustering)  # CPU only: decoding, transforms and scikit-learn


def plan_retrieval(models: list[str], profile: Profile, device: str, results: Path) -> list[retrieval.Scenario]:
    return retrieval.scenarios(device=device, **profile.retrieval)


def plan_loader(models: list[str], profile: Profile, device: str, results: Path) -> list[loader.Scenario]:
    return loader.scenarios(device=device, **profile.loader)


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("quality", "generator", plan_quality, quality.run, quality.format_table),
        Benchmark("throughput", "generator", plan_throughput, throughput.run, throughput.format_table),
        Benchmark("robustness", "classifier", plan_robustness, robustness.run, robustness.format_table),
        # COCO-GAN (patches R/2, R/4 and fixed 64 / 32 px) against a full-image GAN by resolution: architectures
        Benchmark("memory", None, plan_memory, memory.run, memory.format_table),
        # snapshots of training runs (runs/*/snapshots), not shipped models
        Benchmark("timeline", "run", plan_timeline, timeline.run, timeline.format_table),
        # growing generators (ProGAN): FID at the end of each stage, from the stage snapshots exported with them
        Benchmark("growth", "generator", plan_growth, growth.run, growth.format_table),
        # trains every family of the classic collection from scratch at the reference's budget
        Benchmark("collection", None, plan_collection, collection.run, collection.format_table, default=False),
        # each Space's main endpoint served over HTTP with the shipped models, under 1 and 16 clients
        Benchmark("serving", None, plan_serving, serving.run, serving.format_table),
        # decoded images/s of a folder: source, streamed, against what a training step of dcgan-clothing-64 reads
        Benchmark("loader", None, plan_loader, loader.run, loader.format_table),
        # image-to-image translators on the held-out photos, next to the identity and unet-l1 baselines
        Benchmark("translation", "translator", plan_translation, translation.run, translation.format_table),
        # the clothing photos' domain extractor in a faiss index (exact, HNSW): recall@k, identity, build and query times
        Benchmark("retrieval", None, plan_retrieval, retrieval.run, retrieval.format_table),
        # K-Means of every clothing photo by silhouette, grayscale and edges: seconds, silhouette score, NMI
        Benchmark("clustering", None, plan_clustering, clustering.run, clustering.format_table),
    )
}


# ---------------------------------------------------------------------- run


def model_kind(source: str) -> str:
    """"generator" or "classifier", from the model's config.json (local folder, pretrained/ name or Hub id)."""
    family = read_config(resolve_source(source)).get("family", "<missing>")
    return MODELS.get(family).kind


def select_models(models: list[str] | None, kind: str) -> list[str]:
    if models is None:
        return [str(PRETRAINED_DIR / name) for name in list_models(PRETRAINED_DIR, kind=kind)]
    return [model for model in models if model_kind(model) == kind]


def new_run_id(profile: str) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{profile}"


def run_benchmarks(
    profile: Profile,
    only: list[str],
    models: list[str] | None,
    device: str,
    results: Path,
    runs: list[Path] | None = None,
) -> tuple[list[Row], dict[str, float]]:
    """Every selected benchmark's rows (also appended under `results`) and its wall-clock seconds."""
    run_id = new_run_id(profile.name)
    print(f"run {run_id}: profile {profile.name} ({profile.description}) on {device_label(device)}")
    all_rows: list[Row] = []
    seconds: dict[str, float] = {}
    for name in only:
        benchmark = BENCHMARKS[name]
        if benchmark.kind == "run":  # training runs with snapshots, not exported models
            chosen = list(runs) if runs is not None else timeline.default_runs()
        else:
            chosen = select_models(models, benchmark.kind) if benchmark.kind else []
        if benchmark.kind and not chosen:
            print(f"{name}: no {benchmark.kind}s to measure, skipped")
            continue
        start = time.perf_counter()
        rows = run_scenarios(
            benchmark.plan(chosen, profile, device, results), benchmark.run, results / f"{name}.jsonl", name,
            tag=lambda row: replace(row, run=run_id, params={**row.params, "profile": profile.name}),
        )
        seconds[name] = time.perf_counter() - start
        print(f"\n{name} ({seconds[name]:.0f} s):\n{benchmark.table(rows)}\n")
        all_rows += rows
    return all_rows, seconds


def finish(rows: list[Row], seconds: dict[str, float], results: Path) -> int:
    """Plot, sanity-check, summarise; the exit code."""
    problems = quality.sanity_check([row for row in rows if row.benchmark == "quality"])
    if problems:
        run_id = rows[0].run
        append_rows([Row("quality", "protocol", "all", "sanity_check", None, "", rows[0].device,
                         {"profile": rows[0].params.get("profile")}, error=problem, run=run_id)
                     for problem in problems], results / "quality.jsonl")
    for problem in problems:
        print(f"SANITY CHECK FAILED: {problem}")
    if any(row.benchmark == "quality" and row.value is not None for row in rows) and not problems:
        print("sanity check passed: real held-out < trained generator < untrained generator (FID), every dataset")
    robust = [row.to_dict() for row in rows if row.benchmark == "robustness" and row.value is not None]
    if robust:
        print(f"plot: {robustness.plot_curves(robust, results / 'robustness.png')}")
    summary = write_summary(results, seconds)
    print(f"summary: {summary}; total {sum(seconds.values()) / 60:.1f} min")
    return 1 if problems or any(row.error for row in rows) else 0


def write_summary(results: Path, seconds: dict[str, float] | None = None) -> Path:
    """results/summary.md from every row there (the newest run of each benchmark)."""
    text = report.summary_markdown(report.load_rows(results))
    if seconds:
        times = ", ".join(f"{name} {s / 60:.1f} min" for name, s in seconds.items())
        text += f"\n\nLast `python -m benchmarks run`: {times}; {sum(seconds.values()) / 60:.1f} min in all.\n"
    path = write_text(results / SUMMARY_FILE, text)
    return path


# ---------------------------------------------------------------------- publish

DATASET_CARD = """---
license: mit
pretty_name: Fashion GAN Lab benchmark results
tags:
- benchmark
- gan
- fashion
configs:
{configs}
---

# Fashion GAN Lab benchmark results

Rows written by Fashion GAN Lab's `python -m benchmarks run` (`make bench`): one JSON object per measurement, with the model, dataset, metric, value, unit, device, parameters, the data
it read, versions, git commit and timestamp; failed measurements are rows with an `error`.
The project's Streamlit dashboard reads this repo when `RESULTS_SOURCE` is set to its id.

{summary}
"""


def publish(results: Path, repo_id: str, private: bool = False) -> str:
    """Upload the results folder (rows, summary, plots, sample grids) to the Hub dataset repo `repo_id`."""
    files = sorted(results.glob("*.jsonl"))
    if not files:
        raise UserError(f"no result files (*.jsonl) in {results}: run `python -m benchmarks run` first")
    with tempfile.TemporaryDirectory(prefix="fgl-publish-") as staging:
        staging = Path(staging)
        for path in [*files, *results.glob("*.md"), *results.glob("*.png")]:
            shutil.copy2(path, staging / path.name)
        if (results / "samples").is_dir():
            shutil.copytree(results / "samples", staging / "samples")
        configs = "\n".join(f"- config_name: {p.stem}\n  data_files: {p.name}" for p in files)
        summary_file = results / SUMMARY_FILE
        summary = summary_file.read_text() if summary_file.is_file() else ""
        (staging / "README.md").write_text(DATASET_CARD.format(configs=configs, summary=summary))
        return push(staging, repo_id, repo_type="dataset", private=private)


# ---------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmarks (what `make bench` does)")
    run.add_argument("--profile", choices=PROFILES, default="quick", help="quick: 2 CPU cores; full: a GPU")
    run.add_argument("--only", nargs="+", choices=BENCHMARKS, help="some benchmarks (default: all but collection, "
                     "which trains every family of the classic collection and takes about an hour on 2 CPU cores)")
    run.add_argument("--models", nargs="+", help="model folders, names in pretrained/ or Hub repo ids")
    run.add_argument("--runs", nargs="+", type=Path, help="run folders with snapshots for the timeline (default: runs/*)")
    run.add_argument("--keep-runs", type=Path, metavar="DIR", help="collection: keep each training run in DIR/<model> "
                     "(the quick-preset runs that `python -m core export` ships; their snapshots feed the timeline)")
    run.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    run.add_argument("--results", type=Path, default=RESULTS_DIR, help="results folder (default results/)")
    summary = commands.add_parser("summary", help="rewrite results/summary.md from the rows there")
    summary.add_argument("--results", type=Path, default=RESULTS_DIR)
    publish_cmd = commands.add_parser("publish", help="upload results/ to a Hugging Face Hub dataset repo")
    publish_cmd.add_argument("--repo-id", required=True, help="user-or-org/name of the dataset repo")
    publish_cmd.add_argument("--results", type=Path, default=RESULTS_DIR)
    publish_cmd.add_argument("--private", action="store_true")
    args = parser.parse_args(argv)

    try:
        if args.command == "summary":
            print(f"wrote {write_summary(args.results)}")
            return 0
        if args.command == "publish":
            print(f"published: {publish(args.results, args.repo_id, args.private)}")
            return 0
        if args.device == "cuda" and not torch.cuda.is_available():
            raise UserError("CUDA is not available on this machine; use --device cpu")
        only = args.only or [name for name, benchmark in BENCHMARKS.items() if benchmark.default]
        profile = PROFILES[args.profile]
        if args.keep_runs is not None:
            profile = replace(profile, collection={**profile.collection, "runs": args.keep_runs})
        rows, seconds = run_benchmarks(profile, only, args.models, args.device, args.results, args.runs)
        if not rows:
            raise UserError("nothing was measured: no models of the kinds these benchmarks take")
        return finish(rows, seconds, args.results)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        if args.command == "publish":
            print(f"nothing was uploaded; the results stay in {args.results}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: the rows of every finished scenario are in {args.results}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
