"""Sample quality of the shipped generators: FID, KID and precision/recall (torch-fidelity).

    python -m benchmarks.quality [--models NAME ...] [--extractors domain inception-v3-compat ...]
                                 [--n-generated N] [--kid-subsets 100] [--seed 0] [--device cpu|cuda]
                                 [--steps 10 25 50] [--diffusion-n N]
                                 [--no-baselines] [--out results/quality.jsonl] [--samples results/samples]

The protocol, per generator (default: every generator in pretrained/):
- **reference**: the real split the generator was trained on (the whole
  split), loaded at the generator's size and channels;
- **candidate**: `--n-generated` images of the generator (default: as many as
  the dataset's held-out split), latents from torch-fidelity's RNG seeded
  with `--seed`, class labels cycled so every class gets an equal share;
- **features**: the dataset's domain extractor (the suite's classifier
  trained on it; works offline) and/or "inception-v3-compat" (standard FID,
  when its weights file is present); see benchmarks.fidelity;
- **baselines** next to each generator: `real-<split>-split` (real held-out
  images as the candidate: what a perfect generator could score, since FID is
  not 0 between two finite samples) and `<generator>-untrained` (the same
  architecture with random weights, seeded: what no training scores).

The held-out split is the test split, except for the clothing photos: their
`test` folder is measurably another distribution than `train` and
`validation` (classifier-clothing-64 features, FID test-vs-train 18.3,
test-vs-validation 18.6, but validation-vs-train 6.8; KID 0.11 vs 0.006), so
the baseline uses `validation`, which matches what the generator learnt.

A diffusion model (DDPM) is scored at each of `--steps` sampler step counts (each its own row
set, named `model@Nsteps` except at its default), with `--diffusion-n` images: every image costs a
network pass per step, so on a CPU fewer images (KID is unbiased in the sample size; FID is not, so
compare FIDs at equal image counts only).

Rows appended to `--out`: fid, kid_mean, kid_std, precision, recall, each with
the extractor, n_real, n_generated, split and seed in params. Patch-based
generators (COCO-GAN) and their baselines also get `seam_ratio` (see
`seam_ratio()`): how much sharper pixel steps are across the micro-patch grid
than elsewhere; real images score about 1, visible seams well above it. `--samples`
gets an 8x8 grid of each generator (seed 0), for the dashboard. A failing
scenario gives error rows and the others still run (exit code 1).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from benchmarks import fidelity, run_scenarios
from core.data import ImageData, load_dataset
from core.errors import UserError
from core.hub import read_config
from core.images import make_grid, save_png
from core.inference import GeneratorPipeline, list_models, load_network, resolve_device, resolve_source
from core.paths import PRETRAINED_DIR, RESULTS_DIR
from core.results import Row, device_label
from core.train.config import load_training_config

BENCHMARK = "quality"
DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
CANDIDATES = ("trained", "untrained", "real")
DOMAIN = "domain"  # --extractors shorthand: the dataset's own classifier
# The real baseline's split per dataset (default "test"); see the module docstring for why.
HELDOUT_SPLITS = {"clothing": "validation"}


@dataclass(frozen=True)
class Scenario:
    """One candidate image set scored against a generator's real training split, with one extractor."""

    model: str  # a generator folder, a name in pretrained/, or a Hub repo id
    candidate: str = "trained"  # "trained": the generator; "untrained": its architecture, random weights; "real": held-out split
    extractor: str = DOMAIN  # "domain", "inception-v3-compat", or a classifier (folder, name, Hub id)
    n_generated: int | None = None  # None: as many as the dataset's held-out split
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    prc_neighborhood: int = 3
    device: str = DEFAULT_DEVICE
    batch_size: int = 256
    samples: Path | None = None  # folder for the candidate's sample grid (generators only)
    steps: int | None = None  # a diffusion model's sampler steps (None: its default; GANs: must stay None)

    def __post_init__(self) -> None:
        if self.candidate not in CANDIDATES:
            raise ValueError(f"candidate must be one of {CANDIDATES}, got {self.candidate!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.n_generated is not None and self.n_generated < 2:
            raise ValueError(f"n_generated must be at least 2, got {self.n_generated}")
        if self.kid_subsets < 1 or self.kid_subset_size < 2 or self.prc_neighborhood < 1:
            raise ValueError("need kid_subsets >= 1, kid_subset_size >= 2 and prc_neighborhood >= 1")

    @property
    def generator_name(self) -> str:
        return Path(self.model).name

    @property
    def name(self) -> str:
        """The row's model name: the generator, its untrained twin, or the real baseline."""
        if self.candidate == "real":
            return "real-heldout-split"  # renamed to real-<split>-split by run(), which knows the dataset
        return self.generator_name if self.candidate == "trained" else f"{self.generator_name}-untrained"


def run(scenario: Scenario, progress: bool = False) -> list[Row]:
    """Five rows (fid, kid_mean, kid_std, precision, recall) for one scenario; a failure gives error rows."""
    label = device_label(scenario.device)
    params = {
        "role": "model" if scenario.candidate == "trained" else "baseline",
        "candidate": scenario.candidate,
        "generator": scenario.generator_name,
        "seed": scenario.seed,
        "kid_subsets": scenario.kid_subsets,
        "prc_neighborhood": scenario.prc_neighborhood,
    }
    dataset, data, name = "unknown", "", scenario.name
    try:
        device = resolve_device(scenario.device)
        generator = load_network(scenario.model, "generator")
        dataset, split, size, pad = generator_data(scenario.model)
        config = generator.config
        if scenario.candidate == "untrained":
            generator = untrained_copy(generator, scenario.seed)
        pipe = GeneratorPipeline(generator, scenario.model, device)
        steps = pipe.use_steps(scenario.steps) if scenario.candidate != "real" else None  # a GAN given steps: error
        if steps:  # a diffusion model: what an image costs is part of the scenario
            params["sampling_steps"] = steps
            if scenario.candidate == "trained":
                name = steps_name(name, steps, config.sampling_steps)
        reference_split = load_split(dataset, split, size, config.channels, pad)
        heldout_split = HELDOUT_SPLITS.get(dataset, "test")
        heldout = load_split(dataset, heldout_split, size, config.channels, pad)
        if scenario.candidate == "real":
            # A padded geometry (COCO-GAN's Fashion-MNIST at 32 px) gets its own baseline row, named apart
            name = f"real-{heldout_split}-split" + (f"-padded-{config.image_size}px" if pad else "")
        extractor = fidelity.resolve_extractor(
            fidelity.DOMAIN_EXTRACTORS.get(dataset, "") if scenario.extractor == DOMAIN else scenario.extractor
        )
        if not extractor:
            raise UserError(f"no domain extractor for dataset {dataset!r}; pass one with --extractors")
        n = scenario.n_generated or len(heldout)
        if scenario.candidate == "real" and n > len(heldout):
            raise UserError(f"the real {heldout_split} split has {len(heldout):,} images, fewer than the {n:,} asked for")
        params |= {"extractor": extractor, "reference_split": split, "heldout_split": heldout_split,
                   "n_real": len(reference_split),
                   "n_generated": n, "image_size": config.image_size,
                   "kid_subset_size": min(scenario.kid_subset_size, n, len(reference_split))}
        data = f"reference: {reference_split.describe()}; candidate: " + (
            f"{heldout.describe()}, first {n:,}" if scenario.candidate == "real" else f"{n:,} generated images"
        )
        reference = fidelity.reference_features(reference_split.images, extractor, device, scenario.batch_size)
        if scenario.candidate == "real":
            candidate = fidelity.reference_features(heldout.images[:n], extractor, device, scenario.batch_size).features
        else:
            candidate = fidelity.generator_features(pipe, extractor, n, scenario.seed, device, scenario.batch_size)
            if scenario.samples is not None:
                save_samples(pipe, scenario.samples / f"{name}.png")
        scores = fidelity.score(
            candidate, reference, kid_subsets=scenario.kid_subsets, kid_subset_size=scenario.kid_subset_size,
            prc_neighborhood=scenario.prc_neighborhood, seed=scenario.seed,
        )
        metrics = dict(fidelity.METRICS)
        micro_size = getattr(config, "micro_size", None)
        if micro_size:  # generation by parts: are the parts' borders visible?
            m = min(n, SEAM_IMAGES)
            images = (heldout.images[:m] if scenario.candidate == "real"
                      else generated_images(pipe, m, scenario.seed, scenario.batch_size))
            scores[SEAM_RATIO], metrics[SEAM_RATIO] = seam_ratio(images, micro_size), ""
        judge = LABEL_CLASSIFIERS.get(dataset)
        if pipe.num_classes and judge and not pad:  # does a class-conditional generator draw the class it is asked for?
            images, labels = ((heldout.images[:n], heldout.labels[:n]) if scenario.candidate == "real"
                              else (generated_images(pipe, n, scenario.seed, scenario.batch_size), None))
            scores[CONDITIONAL_ACCURACY] = conditional_accuracy(images, judge, device, labels)
            metrics[CONDITIONAL_ACCURACY] = ""
            params["label_classifier"] = judge
    except Exception as err:  # noqa: BLE001 - any failure is recorded as rows; the benchmark goes on
        message = f"{type(err).__name__}: {err}"
        return [Row(BENCHMARK, name, dataset, metric, None, unit, label, params, data, error=message)
                for metric, unit in fidelity.METRICS.items()]
    return [Row(BENCHMARK, name, dataset, metric, scores[metric], unit, label, params, data)
            for metric, unit in metrics.items()]


def steps_name(model: str, steps: int, default: int) -> str:
    """How a diffusion model's rows are named at `steps` sampler steps: the model itself at its default steps
    (what `sample()` gives), else `model@Nsteps`, so tables and charts show each cost as its own line."""
    return model if steps == default else f"{model}@{steps}steps"


def generator_data(source: str) -> tuple[str, str, int, int]:
    """(dataset, split, image size, padding) a generator was trained on, from its training.json."""
    config = load_training_config(resolve_source(source))
    return config.dataset, config.split, config.image_size, config.pad


_SPLITS: dict[tuple, ImageData] = {}  # loaded once per process: every scenario of a dataset shares them


def load_split(dataset: str, split: str, image_size: int, channels: int, pad: int = 0) -> ImageData:
    key = (dataset, split, image_size, channels, pad)
    if key not in _SPLITS:
        _SPLITS[key] = load_dataset(dataset, split, image_size=image_size, channels=channels, pad=pad)
    return _SPLITS[key]


def untrained_copy(generator: nn.Module, seed: int) -> nn.Module:
    """The same architecture (and family) with freshly initialised weights, seeded, without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        copy = type(generator)(generator.config).eval()
    copy.family = generator.family
    return copy


def save_samples(pipe: GeneratorPipeline, path: Path, n: int = 64, seed: int = 0) -> Path:
    """An 8x8 grid of the generator's images (classes cycled), enlarged to at least 256 px per row."""
    grid = make_grid(pipe.sample(n, seed), nrow=8)
    return save_png(grid, path, scale=max(1, 256 // (8 * pipe.image_size)))


CONDITIONAL_ACCURACY = "conditional_accuracy"
# The classifier that judges whether a conditional generator drew the class it was asked for, per dataset.
LABEL_CLASSIFIERS = {"fashion-mnist": "classifier-conv-fashion-mnist", "clothing": "classifier-clothing-64"}


def conditional_accuracy(images: torch.Tensor, classifier: str, device: torch.device, labels: torch.Tensor | None = None,
                         batch_size: int = 512) -> float:
    """Share of images [N, C, H, W] uint8 that `classifier` assigns to their class: `labels`, or for generated
    images (labels None) the cycled class i mod K they were drawn for."""
    from core.inference import ClassifierPipeline

    judge = ClassifierPipeline.from_pretrained(classifier, device=device)
    if labels is None:
        labels = torch.arange(len(images)) % judge.num_classes
    return judge.accuracy(images, labels, batch_size)


SEAM_RATIO = "seam_ratio"
SEAM_IMAGES = 1000  # images per seam measurement


def seam_ratio(images: torch.Tensor, micro_size: int) -> float:
    """Mean |difference| of neighbouring pixels straddling a micro-patch border over that of all other neighbours.

    images [N, C, H, W] (any range). Horizontal and vertical neighbours both
    count. 1.0 means the grid lines are as smooth as anywhere else, as in real
    images; seams between independently drawn patches push it above 1.
    """
    images = images.float()
    steps_x = (images[..., :, 1:] - images[..., :, :-1]).abs()  # [..., H, W - 1]: column j steps from j to j + 1
    steps_y = (images[..., 1:, :] - images[..., :-1, :]).abs()
    across_x = torch.arange(1, images.shape[-1], device=images.device) % micro_size == 0
    across_y = torch.arange(1, images.shape[-2], device=images.device) % micro_size == 0
    across = torch.cat([steps_x[..., across_x].flatten(), steps_y[..., across_y, :].flatten()])
    within = torch.cat([steps_x[..., ~across_x].flatten(), steps_y[..., ~across_y, :].flatten()])
    if not len(across) or not within.mean() > 0:
        raise UserError(f"no micro-patch borders of {micro_size} px inside {tuple(images.shape[-2:])} images, or flat images")
    return (across.mean() / within.mean()).item()


def generated_images(pipe: GeneratorPipeline, n: int, seed: int, batch_size: int = 256) -> torch.Tensor:
    """n images of the generator (classes cycled, codes drawn), uint8 [n, C, H, W], on the CPU."""
    images = pipe.generate(pipe.latents(n, seed), pipe.labels(None, n), pipe.codes(None, n, seed), batch_size)
    return torch.from_numpy(images).permute(0, 3, 1, 2)


def generator_scores(pipe: GeneratorPipeline, dataset: str, reference: ImageData, n: int, seed: int = 0,
                     device: torch.device | str = "cpu", batch_size: int = 256, kid_subsets: int = 100,
                     kid_subset_size: int = 1000, prc_neighborhood: int = 3) -> dict[str, float]:
    """The quality protocol for one generator, as a function: FID, KID, precision and recall of `n` of its
    images against `reference` in the dataset's domain-extractor features, plus the conditional accuracy of
    a class-conditional generator. What the collection and timeline benchmarks score their runs with."""
    device = torch.device(device)
    extractor = fidelity.resolve_extractor(fidelity.DOMAIN_EXTRACTORS[dataset])
    real = fidelity.reference_features(reference.images, extractor, device, batch_size)
    candidate = fidelity.generator_features(pipe, extractor, n, seed, device, batch_size)
    scores = fidelity.score(candidate, real, kid_subsets=kid_subsets, kid_subset_size=min(kid_subset_size, n, len(reference)),
                            prc_neighborhood=prc_neighborhood, seed=seed)
    judge = LABEL_CLASSIFIERS.get(dataset)
    if pipe.num_classes and judge:
        scores[CONDITIONAL_ACCURACY] = conditional_accuracy(generated_images(pipe, n, seed, batch_size), judge, device)
    return scores


# ---------------------------------------------------------------------- scenarios and the sanity check


def scenarios(
    models: list[str],
    extractors: tuple[str, ...] = (DOMAIN,),
    baselines: bool = True,
    diffusion_steps: tuple[int, ...] = (),
    diffusion_n: int | None = None,
    **options,
) -> list[Scenario]:
    """Each generator with each extractor, plus (once per dataset geometry and extractor) the baselines.

    A diffusion model is scored once per sampler step count in `diffusion_steps` (none given: its default),
    with `diffusion_n` images when given (its images cost that many network passes each); its untrained twin
    once, at the fewest steps. A model whose config or training.json cannot be read gets no baselines: its
    own scenario records the error.
    """
    out: list[Scenario] = []
    real_seen: set[tuple] = set()
    baseline_options = {k: v for k, v in options.items() if k != "samples"}
    # Patch-based generators first: a real baseline shared by a geometry then also gets their seam ratio.
    for model in sorted(models, key=lambda model: _micro_size(model) is None):
        geometry = _geometry(model) if baselines else None
        diffusion = takes_steps(model)
        steps = tuple(sorted(diffusion_steps)) if diffusion and diffusion_steps else (None,)
        own = {**options, "n_generated": diffusion_n or options.get("n_generated")} if diffusion else options
        for extractor in extractors:
            out += [Scenario(model, "trained", extractor, **{**own, "steps": s}) for s in steps]
            if geometry is None:
                continue
            untrained = {**baseline_options, **({"n_generated": own["n_generated"], "steps": steps[0]} if diffusion else {})}
            out.append(Scenario(model, "untrained", extractor, **untrained))
            if (geometry, extractor) not in real_seen:
                real_seen.add((geometry, extractor))
                out.append(Scenario(model, "real", extractor, **baseline_options))
    return out


def _geometry(model: str) -> tuple | None:
    """What the real baseline depends on (dataset, split, size, channels); None when unreadable."""
    try:
        dataset, split, size, pad = generator_data(model)
        config = read_config(resolve_source(model))
    except Exception:  # noqa: BLE001 - the model's own scenario will record the real error as rows
        return None
    return dataset, split, size, pad, config.get("channels")


def takes_steps(model: str) -> bool:
    """Whether `model` is a diffusion model (its family takes sampler steps); False when unreadable."""
    from core.models import MODELS

    try:
        family = read_config(resolve_source(model)).get("family")
    except Exception:  # noqa: BLE001 - the model's own scenario will record the real error as rows
        return False
    return family in MODELS and "steps" in MODELS.get(family).accepts


def _micro_size(model: str) -> int | None:
    """A patch-based generator's micro-patch size; None for whole-image generators and unreadable configs."""
    try:
        return read_config(resolve_source(model)).get("micro_size")
    except Exception:  # noqa: BLE001 - the model's own scenario will record the real error as rows
        return None


def sanity_check(rows: list[Row]) -> list[str]:
    """Violations of: FID(real held-out vs train) < FID(any trained generator) < FID(its untrained twin).

    Compared within one dataset and extractor. Returns human-readable
    problems (empty when the protocol behaves).
    """
    problems = []
    fids = [r for r in rows if r.metric == fidelity.FID and r.value is not None]
    groups: dict[tuple, dict[str, dict[str, float]]] = {}
    for row in fids:
        key = (row.dataset, row.params.get("extractor"))
        groups.setdefault(key, {}).setdefault(row.params["candidate"], {})[row.params["generator"]] = row.value
    for (dataset, extractor), by_candidate in groups.items():
        real = min(by_candidate.get("real", {}).values(), default=None)
        for generator, fid in by_candidate.get("trained", {}).items():
            if real is not None and not real < fid:
                problems.append(f"{dataset}/{extractor}: real-vs-real FID {real:.3g} is not below {generator}'s {fid:.3g}")
            untrained = by_candidate.get("untrained", {}).get(generator)
            if untrained is not None and not fid < untrained:
                problems.append(f"{dataset}/{extractor}: {generator} FID {fid:.3g} is not below its untrained {untrained:.3g}")
    return problems


def format_table(rows: list[Row]) -> str:
    """One line per (dataset, extractor, model), sorted by FID; errors listed below."""
    cells: dict[tuple, dict[str, Row]] = {}
    for row in rows:
        cells.setdefault((row.dataset, row.params.get("extractor", "?"), row.model), {})[row.metric] = row
    header = ["dataset", "extractor", "model", "n gen", "FID", "KID x1e3", "precision", "recall"]
    lines = [header]
    errors = {}

    def fid_of(key: tuple) -> float:
        row = cells[key].get(fidelity.FID)
        return row.value if row is not None and row.value is not None else float("inf")

    for key in sorted(cells, key=lambda k: (k[0], k[1], fid_of(k))):
        metrics = cells[key]
        any_row = next(iter(metrics.values()))
        if any_row.error:
            errors[(key[2], any_row.error)] = None
            lines.append([*key, "-", "error", "error", "error", "error"])
            continue
        kid = f"{metrics['kid_mean'].value * 1e3:.2f} ± {metrics['kid_std'].value * 1e3:.2f}"
        lines.append([*key, f"{any_row.params['n_generated']:,}", f"{metrics['fid'].value:.3f}", kid,
                      f"{metrics['precision'].value:.3f}", f"{metrics['recall'].value:.3f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    text += [f"error: {model}: {message}" for model, message in errors]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="generator folders, names in pretrained/ or Hub ids (default: every generator there)")
    parser.add_argument("--extractors", nargs="+", default=[DOMAIN],
                        help=f"'{DOMAIN}' (the dataset's classifier, default), '{fidelity.INCEPTION}', or classifier folders/names")
    parser.add_argument("--n-generated", type=int, help="generated images per model (default: the size of the held-out split)")
    parser.add_argument("--steps", type=int, nargs="+", default=[],
                        help="diffusion models: sampler step counts to score (default: each model's own)")
    parser.add_argument("--diffusion-n", type=int, help="diffusion models: generated images (default: --n-generated)")
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baselines", action="store_true", help="skip the real-vs-real and untrained baselines")
    parser.add_argument("--device", choices=DEVICES, default=DEFAULT_DEVICE, help="default: cuda if available")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "quality.jsonl", help="JSON-lines file to append to")
    parser.add_argument("--samples", type=Path, default=RESULTS_DIR / "samples", help="folder for the sample grids")
    args = parser.parse_args(argv)

    models = args.models or [str(PRETRAINED_DIR / name) for name in list_models(PRETRAINED_DIR, kind="generator")]
    if not models:
        parser.error(f"no generators in {PRETRAINED_DIR}; pass --models")
    try:
        plan = scenarios(models, tuple(args.extractors), not args.no_baselines, tuple(args.steps), args.diffusion_n,
                         n_generated=args.n_generated,
                         kid_subsets=args.kid_subsets, seed=args.seed, device=args.device, samples=args.samples)
    except ValueError as err:
        parser.error(str(err))
    rows = run_scenarios(plan, run, args.out, BENCHMARK)
    print(format_table(rows))
    problems = sanity_check(rows)
    for problem in problems:
        print(f"SANITY CHECK FAILED: {problem}")
    print(f"{len(rows)} rows appended to {args.out}")
    return 1 if problems or any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
