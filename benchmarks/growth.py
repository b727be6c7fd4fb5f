"""Growth curves: a Progressive GAN's sample quality at the end of each stage, 4x4 up to its full size.

    python -m benchmarks.growth [MODEL ...] [--device cpu|cuda] [--out results/growth.jsonl]
    python -m benchmarks run --only growth                      # the same through the runner

A growing generator exports the snapshot taken at the end of every stage with
itself (`snapshots/stage_NNNNpx/`, see core.hub.export_run). Each stage, and
the finished model, is scored with the quality protocol at its own
resolution: as many images as the held-out split has, against the split the
model trained on brought to the same resolution (average pooling, as the
objective shows it the data), both enlarged back to the full size by
nearest neighbour for the domain feature extractor. So a stage is judged on
how well it draws images at its resolution, not on how blurry they are:
that makes the stages comparable in kind but not in number with the
quality benchmark's FID, which the finished model also has.

Rows (benchmark "growth") are named after the model, with the stage's size,
step and the real images shown up to it (from the model's training config)
in params.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks import fidelity, quality, run_scenarios
from core.errors import UserError
from core.hub import read_training, snapshot_folders
from core.inference import GeneratorPipeline, list_models, resolve_device, resolve_source
from core.objectives import OBJECTIVES
from core.objectives.progan import final_size
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, device_label
from core.train.batches import BatchSchedule
from core.train.config import load_training_config

BENCHMARK = "growth"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
METRICS = ("fid", "kid_mean", "kid_std", "precision", "recall")


@dataclass(frozen=True)
class Scenario:
    """One stage of one exported growing generator (`stage` None: the finished model itself)."""

    model: str  # an exported model folder
    stage: Path | None = None  # its snapshots/stage_NNNNpx folder
    seed: int = 0
    device: str = DEFAULT_DEVICE
    kid_subsets: int = 100
    n_generated: int | None = None  # None: as many as the held-out split has

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")


def growing_models(models: list[str]) -> list[str]:
    """The models among `models` that exported stage snapshots."""
    return [model for model in models if snapshot_folders(resolve_source(model))]


def scenarios(models: list[str], device: str = DEFAULT_DEVICE, **options) -> list[Scenario]:
    plan = []
    for model in growing_models(models):
        plan += [Scenario(model, stage, device=device, **options) for stage in snapshot_folders(resolve_source(model))]
        plan.append(Scenario(model, None, device=device, **options))
    return plan


def at_resolution(images: torch.Tensor, size: int, full: int) -> torch.Tensor:
    """uint8 images [N, C, S, S] brought to `size` px (average pooling when S is larger), then enlarged to `full`
    (nearest neighbour): real images at the full size and a stage's own at its size go through the same."""
    side = images.shape[-1]
    low = F.avg_pool2d(images.float(), side // size) if side > size else images.float()
    return F.interpolate(low, size=(full, full), mode="nearest").round().clamp(0, 255).to(torch.uint8)


def images_shown(model: Path, step: int) -> int:
    """Real images the model's training read in its first `step` steps (batch size per stage included)."""
    config = load_training_config(model)
    from core.models import MODELS

    schedule = OBJECTIVES.get(MODELS.get(config.model).objective).batch_schedule(config) or BatchSchedule.constant(config.batch_size)
    return schedule.images_before(step)


def run(scenario: Scenario) -> list[Row]:
    label = device_label(scenario.device)
    folder = resolve_source(scenario.model)
    name, dataset, data = Path(folder).name, "unknown", ""
    params: dict = {"seed": scenario.seed, "stage": scenario.stage.name if scenario.stage else "final"}
    try:
        device = resolve_device(scenario.device)
        config = load_training_config(folder)
        dataset = config.dataset
        source = scenario.stage or folder
        pipe = GeneratorPipeline.from_pretrained(source, device=device)
        full = final_size(config)
        step = (json.loads((scenario.stage / "snapshot.json").read_text())["step"] if scenario.stage
                else read_training(folder)["summary"]["steps"])
        params |= {"size": pipe.image_size, "step": step, "images_shown": images_shown(folder, step)}
        reference = quality.load_split(dataset, config.split, config.image_size, config.channels or pipe.channels, config.pad)
        heldout = quality.load_split(dataset, quality.HELDOUT_SPLITS.get(dataset, "test"), config.image_size,
                                     config.channels or pipe.channels, config.pad)
        n = scenario.n_generated or len(heldout)
        extractor = fidelity.resolve_extractor(fidelity.DOMAIN_EXTRACTORS[dataset])
        real = fidelity.reference_features(at_resolution(reference.images, pipe.image_size, full), extractor, device)
        generated = quality.generated_images(pipe, n, scenario.seed)
        candidate = fidelity.image_features(at_resolution(generated, pipe.image_size, full), extractor, device)
        scores = fidelity.score(candidate, real, kid_subsets=scenario.kid_subsets,
                                kid_subset_size=min(1000, n, len(reference)), seed=scenario.seed)
        params |= {"extractor": extractor, "n_generated": n, "n_real": len(reference)}
        data = (f"reference: {reference.describe()}, at {pipe.image_size} px; candidate: {n:,} generated images "
                f"at {pipe.image_size} px; both enlarged to {full} px")
    except Exception as err:  # noqa: BLE001 - a failed stage is recorded as rows; the benchmark goes on
        return [Row(BENCHMARK, name, dataset, metric, None, "", label, params, data, error=f"{type(err).__name__}: {err}")
                for metric in METRICS]
    return [Row(BENCHMARK, name, dataset, metric, scores[metric], "", label, params, data) for metric in METRICS]


def format_table(rows: list[Row]) -> str:
    cells: dict[tuple, dict[str, Row]] = {}
    for row in rows:
        cells.setdefault((row.model, row.params.get("size", "?"), row.params.get("stage")), {})[row.metric] = row
    lines = [["model", "stage", "size", "images shown", "FID", "KID", "precision", "recall"]]
    errors = []
    for (model, size, stage), metrics in cells.items():
        first = next(iter(metrics.values()))
        if first.error:
            errors.append(f"error: {model} {stage}: {first.error}")
            lines.append([model, str(stage), str(size), "-", *["error"] * 4])
            continue
        lines.append([model, str(stage), str(size), f"{first.params['images_shown']:,}",
                      f"{metrics['fid'].value:.2f}", f"{metrics['kid_mean'].value:.4f}",
                      f"{metrics['precision'].value:.3f}", f"{metrics['recall'].value:.3f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    return "\n".join(text + errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.growth", description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="exported models (default: every generator in pretrained/ with stages)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "growth.jsonl", help="JSON-lines file to append to")
    args = parser.parse_args(argv)
    try:
        models = args.models or [str(PRETRAINED_DIR / m) for m in list_models(PRETRAINED_DIR, kind="generator")]
        plan = scenarios(models, args.device, seed=args.seed)
        if not plan:
            raise UserError("none of these models exported stage snapshots (a Progressive GAN does)")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = run_scenarios(plan, run, args.out, BENCHMARK, unit="stage")
    print(format_table(rows))
    print(f"{len(rows)} rows appended to {args.out}")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
