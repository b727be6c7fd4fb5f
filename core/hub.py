"""Save, load, export and push models in Hugging Face Hub format.

An exported model is a folder: config.json (the family's typed config plus
its `family` name), model.safetensors, README.md (the model card rendered
from hub_cards/<kind>.md.j2), training.json (how it was trained) and, for
generators, samples.png and, when the run kept snapshots, timeline/epoch_NNN.png
(the same grid after each snapshot epoch).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from torch import nn

from core.errors import UserError
from core.files import write_text
from core.paths import HUB_CARDS_DIR, PRETRAINED_DIR, RESULTS_DIR
from core.report import growth_table as growth_table_of
from core.report import latest
from core.results import read_rows

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TRAINING_FILE = "training.json"
TIMELINE_DIR = "timeline"  # an exported generator's snapshot grids: timeline/epoch_NNN.png
# An exported generator's milestone snapshots (ProGAN: the end of each stage), each a loadable model folder
# with its sample grid, weights in float16 to keep the download small: snapshots/stage_0004px/ ...
SNAPSHOTS_DIR = "snapshots"


def save_model(model: nn.Module, folder: str | Path, family: str | None = None) -> Path:
    """Write a generator or classifier as config.json (with its family) + model.safetensors.

    `family` names the registered family; by default the network's own `family` attribute
    (networks shared by several families of the collection have none and need it said).
    """
    folder = Path(folder)
    family = family or getattr(model, "family", None)
    if not family:
        raise ValueError(f"say which family this {type(model).__name__} belongs to: save_model(..., family=NAME)")
    config = {**asdict(model.config), "family": family}
    model.save_pretrained(folder, config=config)
    # The Hub mixin drops a generic card; ours is rendered at export time.
    (folder / "README.md").unlink(missing_ok=True)
    return folder


MAX_CONFIG_BYTES = 1 << 20  # a model's config.json is a few hundred bytes
MAX_HEADER_BYTES = 1 << 24  # a safetensors header: a few KB per hundred tensors
SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def model_file(folder: str | Path, name: str) -> Path:
    """`folder/name`, a regular file inside `folder` (a link pointing out of it is refused); else a UserError."""
    folder = Path(folder)
    path = folder / name
    if not path.is_file():
        raise UserError(f"{folder} is not an exported model: it has no {name}")
    if path.is_symlink() and not path.resolve().is_relative_to(folder.resolve()):
        raise UserError(f"{path} is a link to a file outside the model folder; refusing to read it")
    return path


def read_config(folder: str | Path) -> dict[str, Any]:
    """An exported model's config.json: a JSON object, or a one-line UserError saying what is wrong."""
    path = model_file(folder, CONFIG_FILE)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UserError(f"{path} is {path.stat().st_size:,} bytes: too large for a model config")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise UserError(f"{path} must hold a JSON object of settings, got {type(config).__name__}")
    return config


def read_weights(folder: str | Path, expected: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """The tensors of `folder/model.safetensors`, once its header has been checked against the file's size
    and against `expected` (every tensor name and shape the config's network has), before any tensor is read.
    A corrupt, truncated or mismatching file is a one-line UserError."""
    import struct

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = model_file(folder, WEIGHTS_FILE)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise UserError(f"{path} is empty or truncated ({size} bytes): re-export or re-download the model")
        length = struct.unpack("<Q", head)[0]
        if length > min(size - 8, MAX_HEADER_BYTES):
            raise UserError(f"{path} is corrupt: its header claims {length:,} bytes in a {size:,}-byte file")
        try:
            header = json.loads(f.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{path} is corrupt: its header is not JSON (not a safetensors file?)") from None
    if not isinstance(header, dict):
        raise UserError(f"{path} is corrupt: its header is not a table of tensors")
    header.pop("__metadata__", None)
    data = size - 8 - length
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], [int(d) for d in entry["shape"]], entry["data_offsets"]
            if dtype not in SAFETENSORS_DTYPES or min(shape, default=0) < 0 or not 0 <= begin <= end <= data:
                raise ValueError
            if end - begin != math.prod(shape) * SAFETENSORS_DTYPES[dtype]:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{path} is corrupt or truncated: tensor {name!r} does not fit the file") from None
    missing, unexpected = sorted(set(expected) - set(header)), sorted(set(header) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise UserError(f"{path} does not match its {CONFIG_FILE}: {what} tensors (weights of another model?)")
    for name, shape in expected.items():
        if tuple(header[name]["shape"]) != tuple(shape):
            raise UserError(f"{path} does not match its {CONFIG_FILE}: {name} is {list(header[name]['shape'])} in the "
                            f"file, {list(shape)} for the config (a size setting such as z_dim or width differs)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise UserError(f"{path} could not be read ({err})") from None


def family_of(config: dict[str, Any], folder: str | Path = ""):
    """The registered ModelFamily an exported model's config.json (in `folder`) names; else a UserError."""
    from core.models import MODELS

    name = config.get("family")
    if not isinstance(name, str) or name not in MODELS:
        where = f"{Path(folder) / CONFIG_FILE} " if folder else ""
        raise UserError(f"{where}names no known model family (family: {name!r}); known: {', '.join(MODELS.names())}")
    return MODELS.get(name)


def export_run(run_dir: str | Path, name: str, out_root: str | Path = PRETRAINED_DIR, notes: Sequence[str] = ()) -> Path:
    """Copy a finished run's EMA network into `out_root/name` with a rendered model card.

    `notes` go to training.json and the card's Training section: what the run's files cannot say
    (say, that the data was a resized copy of the dataset).
    """
    run_dir = Path(run_dir)
    generator_dir = run_dir / exported_folder(run_dir)
    if not (generator_dir / WEIGHTS_FILE).is_file():
        raise UserError(f"{run_dir} has no finished model (expected {generator_dir / WEIGHTS_FILE}); train it to the end first")
    commands = (run_dir / "command.txt").read_text().splitlines() if (run_dir / "command.txt").exists() else []
    training = {
        "summary": json.loads((run_dir / "summary.json").read_text()),
        "config": json.loads((run_dir / "config.json").read_text()),
        "commands": [c for c in commands if c.strip()],
        "notes": [note.strip() for note in notes if note.strip()],
    }
    samples = sorted((run_dir / "samples").glob("step_*.png"))

    out = Path(out_root) / name
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for file in (CONFIG_FILE, WEIGHTS_FILE):
        shutil.copy2(generator_dir / file, tmp / file)
    if samples:
        shutil.copy2(samples[-1], tmp / "samples.png")
    # The training timeline: each snapshot's sample grid (same noise as samples.png), for cards and Spaces.
    for grid in sorted((run_dir / "snapshots").glob("epoch_*/samples.png")):
        (tmp / TIMELINE_DIR).mkdir(exist_ok=True)
        shutil.copy2(grid, tmp / TIMELINE_DIR / f"{grid.parent.name}.png")
    reached = read_config(generator_dir).get("current_size")
    for record in sorted((run_dir / "snapshots").glob("*/snapshot.json")):
        snapshot = json.loads(record.read_text())
        # a milestone of the stage the model ends in (the last step, or an earlier end of a run resumed for
        # longer) is that stage again: the exported model itself stands for it
        if "milestone" in snapshot and read_config(record.parent).get("current_size") != reached:
            export_snapshot(record.parent, tmp / SNAPSHOTS_DIR / record.parent.name)
    for write_format in family_of(read_config(tmp), tmp).exporters:
        write_format(tmp)
    (tmp / TRAINING_FILE).write_text(json.dumps(training, indent=2))
    write_card(tmp, name=name)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def exported_folder(run_dir: Path) -> str:
    """The folder of a run that holds its product: the network its family declares it exports (generator/,
    classifier/, translator/), named in the run's config.json."""
    from core.models import MODELS

    path = run_dir / "config.json"
    if not path.is_file():
        raise UserError(f"{run_dir} has no finished model: it is not a training run (no config.json)")
    try:
        model = json.loads(path.read_text()).get("model")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise UserError(f"{path} is not a training config") from None
    if not isinstance(model, str) or model not in MODELS:
        raise UserError(f"{path} names no known model family (model: {model!r})")
    return MODELS.get(model).exported


def export_snapshot(snapshot: Path, out: Path) -> Path:
    """A run's snapshot folder as a model folder under an export: its config, its weights with float32 tensors
    stored as float16 (a display and benchmark copy; loading casts them back), its grid and snapshot.json."""
    from safetensors.torch import load_file, save_file

    out.mkdir(parents=True)
    tensors = load_file(str(snapshot / WEIGHTS_FILE))
    save_file({k: v.half() if v.dtype == torch.float32 and v.dim() else v for k, v in tensors.items()},
              str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    for file in (CONFIG_FILE, "samples.png", "snapshot.json"):
        if (snapshot / file).is_file():
            shutil.copy2(snapshot / file, out / file)
    return out


def snapshot_folders(folder: str | Path) -> list[Path]:
    """An exported generator's milestone snapshots (snapshots/NAME/ with a model in it), in name order."""
    return sorted(p.parent for p in (Path(folder) / SNAPSHOTS_DIR).glob(f"*/{WEIGHTS_FILE}"))


def write_card(folder: str | Path, name: str | None = None, results_dir: str | Path = RESULTS_DIR) -> Path:
    """(Re)render an exported model's README.md from its files and the latest benchmark rows."""
    from core.onnx import read_record

    folder = Path(folder)
    name = name or folder.name
    if not (folder / TRAINING_FILE).is_file():
        raise UserError(f"{folder} has no {TRAINING_FILE}: export it from a run first (python -m core export)")
    training = read_training(folder)
    model = read_config(folder)
    family = family_of(model)
    train, options = resolved_training(training)
    metrics = latest_metrics(name, results_dir)
    if family.kind == "classifier":
        extra = _classifier_card(folder, model, options, metrics)
    elif family.kind == "translator":
        extra = _translator_card(folder, family, name, results_dir)
        metrics = [row for row in metrics if row["benchmark"] != "translation"]  # in their own table
    else:
        grids = sorted((folder / TIMELINE_DIR).glob("epoch_*.png"))
        stages = [f for f in snapshot_folders(folder) if (f / "samples.png").is_file()]
        extra = {"quality": quality_table(name, results_dir), "timeline": timeline_table(name, results_dir),
                 "timeline_grids": [{"epoch": int(g.stem.split("_")[1]), "file": g.name} for g in grids],
                 "growth": growth_table(name, results_dir),
                 "growth_grids": [{"name": f.name, "file": f"{SNAPSHOTS_DIR}/{f.name}/samples.png"} for f in stages]}
        # in their own tables
        metrics = [row for row in metrics if row["benchmark"] not in ("quality", "timeline", "growth")]
    card = render_card(
        f"{family.kind}.md.j2",
        name=name,
        model=model,
        family=family,
        summary=training["summary"],
        train=train,
        options=options,
        commands=training.get("commands", []),
        notes=training.get("notes", []),
        has_samples=(folder / "samples.png").is_file(),
        metrics=metrics,
        onnx=read_record(folder),  # what `python -m core export-onnx` measured, when it ran here
        **extra,
    )
    path = folder / "README.md"
    indexed = {"generator": "quality", "translator": "translation"}.get(family.kind)
    write_text(path, with_model_index(card, name, family.kind, metrics if family.kind == "classifier" else
                                      [r for r in latest_metrics(name, results_dir) if r["benchmark"] == indexed]))
    return path


# Where a dataset of the suite lives on the Hub (a card's `model-index` names datasets by Hub id); the
# others are named by the suite's registry name.
HUB_DATASETS = {"fashion-mnist": "zalando-datasets/fashion_mnist"}
DATASET_TITLES = {"fashion-mnist": "Fashion-MNIST", "clothing": "Clothing photos (clothing-dataset-small)"}
QUALITY_METRICS = {"fid": "FID", "kid_mean": "KID", "precision": "precision", "recall": "recall"}
# A translator's model-index: its translation rows (benchmarks.translation), one per metric and direction.
TRANSLATION_INDEX = {"fid": "FID", "kid_mean": "KID", "l1": "L1", "psnr": "PSNR", "ssim": "SSIM",
                     "colourfulness_gap": "colourfulness gap", "target_accuracy": "target accuracy",
                     "cycle_l1": "cycle L1", "diversity_l1": "diversity (L1)"}
TASKS = {"generator": ("unconditional-image-generation", "Image generation"),
         "classifier": ("image-classification", "Image classification"),
         "translator": ("image-to-image", "Image-to-image translation")}


def eval_results(name: str, kind: str, rows: list[dict[str, Any]]) -> list[Any]:
    """`huggingface_hub.EvalResult`s for a card's `model-index`, from the model's newest result rows:
    FID, KID, precision and recall per feature extractor (generators, benchmarks.quality); clean accuracy and
    robust accuracy per attack and epsilon on all pixels (classifiers, benchmarks.robustness)."""
    from huggingface_hub import EvalResult

    task_type, task_name = TASKS[kind]
    results = []
    def order(row: dict[str, Any]) -> tuple:
        params = row.get("params") or {}
        return (row["benchmark"], row["metric"], str(params.get("extractor", "")), str(params.get("attack", "")),
                float(params.get("epsilon") or 0))

    for row in sorted(rows, key=order):
        params, value, dataset = row.get("params") or {}, row.get("value"), row["dataset"]
        common = {"task_type": task_type, "task_name": task_name, "dataset_type": HUB_DATASETS.get(dataset, dataset),
                  "dataset_name": DATASET_TITLES.get(dataset, dataset), "metric_value": value}
        if kind == "generator" and row["benchmark"] == "quality" and row["metric"] in QUALITY_METRICS \
                and params.get("candidate", "trained") == "trained" and "extractor" in params:
            label = QUALITY_METRICS[row["metric"]]
            results.append(EvalResult(
                **common, dataset_split=params.get("reference_split"), metric_type=row["metric"].removesuffix("_mean"),
                metric_config=params["extractor"],
                metric_name=f"{label} ({params['extractor']}, {params.get('n_generated', 0):,} samples)"))
        elif kind == "translator" and row["benchmark"] == "translation" and row["metric"] in TRANSLATION_INDEX:
            # the model's own rows (an L1-only U-Net's are those of a baseline in the others' tables)
            direction = str(params.get("direction", ""))
            results.append(EvalResult(
                **common, dataset_split=params.get("input_split", "test"), metric_type=row["metric"].removesuffix("_mean"),
                metric_config=direction,
                metric_name=f"{TRANSLATION_INDEX[row['metric']]} ({direction}, {params.get('n_images', 0):,} test photos)"))
        elif kind == "classifier" and row["benchmark"] == "robustness" and row["metric"] == "accuracy" \
                and not params.get("mask") and "epsilon" in params:
            epsilon, attack = float(params["epsilon"]), str(params.get("attack", "?"))
            if epsilon == 0:
                if attack != "fgsm":  # every attack measures the same clean accuracy: say it once
                    continue
                results.append(EvalResult(**common, dataset_split="test", metric_type="accuracy",
                                          metric_name=f"clean accuracy ({params.get('n_images', 0):,} images)"))
            else:
                results.append(EvalResult(
                    **common, dataset_split="test", metric_type="robust_accuracy", metric_config=f"{attack}-eps{epsilon:g}",
                    metric_name=f"robust accuracy ({attack.upper()}, L-inf epsilon {epsilon:g})"))
    return results


def with_model_index(card: str, name: str, kind: str, rows: list[dict[str, Any]]) -> str:
    """`card` with its metadata re-written by `huggingface_hub.ModelCard`, `model-index` results included."""
    from huggingface_hub import ModelCard

    parsed = ModelCard(card)
    if parsed.data.tags:
        parsed.data.tags = list(dict.fromkeys(parsed.data.tags))  # "gan" is the family and the kind
    results = eval_results(name, kind, rows)
    if results:
        parsed.data.model_name = name
        parsed.data.eval_results = results
    return str(parsed)


ARCH_DESCRIPTIONS = {
    "dense": ("dense (multilayer perceptron)", "flatten -> {hidden} ReLU -> {num_classes}"),
    "conv": ("convolutional", ("5x5 conv 64{norm} -> ReLU, max-pool -> 5x5 conv 128{norm} -> ReLU, max-pool -> flatten "
             "-> {num_classes} ({padding} convolutions)")),
    "cnn": ("small VGG-style CNN", ("{stages} stages of two 3x3 conv + batch norm + ReLU (width {width}, doubling), max-pool -> "
            "global average pool -> {feature_dim}-d embedding -> {num_classes}")),
}


def read_training(folder: str | Path) -> dict[str, Any]:
    """An exported model's training.json (summary, config, commands, notes); a damaged one is a UserError."""
    path = Path(folder) / TRAINING_FILE
    if not path.is_file():
        raise UserError(f"{folder} has no {TRAINING_FILE}: export it from a run first (python -m core export)")
    try:
        training = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(training, dict) or not isinstance(training.get("summary"), dict):
        raise UserError(f"{path} is not a training record (it needs a 'summary' object)")
    return training


def resolved_training(training: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The training settings of a training.json as today's TrainConfig (older records upgraded) and its
    objective's options with every default filled in."""
    from core.models import MODELS
    from core.objectives import OBJECTIVES, make_options, options_dict
    from core.train.config import config_from_dict

    config = config_from_dict(training.get("config") or {})
    objective = OBJECTIVES.get(MODELS.get(config.model).objective)
    return config.to_dict(), options_dict(make_options(objective, config.options))


def _classifier_card(folder: Path, model: dict[str, Any], options: dict[str, Any], metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """What the classifier card shows besides the common fields: architecture, size, robustness table."""
    from safetensors.torch import load_file

    # Learned tensors only: BatchNorm's running statistics and step counters are not parameters.
    weights = load_file(folder / WEIGHTS_FILE)
    parameters = sum(t.numel() for key, t in weights.items() if not key.endswith(("running_mean", "running_var", "num_batches_tracked")))
    from core.models import Classifier

    title, layers = ARCH_DESCRIPTIONS[model["arch"]]
    adversarial = dict(options.get("adversarial_training") or {})
    described = ""
    if adversarial:
        attack = adversarial.pop("attack", "pgd")
        described = f"{attack.upper()} at epsilon {adversarial.pop('epsilon', 0.1)}" + (
            f" ({', '.join(f'{k}={v}' for k, v in adversarial.items())})" if adversarial else "")
    return {
        "arch_title": title,
        "arch_layers": layers.format(
            **model,
            norm=" + batch norm" if model.get("batch_norm") else "",
            padding="same-size" if model.get("conv_padding") else "valid",
        ),
        "parameters": parameters,
        "feature_dim": Classifier(model).feature_dim,
        "adversarial": described,
        "eval_split": options.get("eval_split", "test"),
        "robustness": robustness_table([r for r in metrics if r["benchmark"] == "robustness" and r["metric"] == "accuracy"]),
    }


# The translation table's metric columns, in order: (row metric, column title, format).
TRANSLATION_COLUMNS = (
    ("fid", "FID", "%.2f"), ("kid_mean", "KID", "%.4f"), ("l1", "L1", "%.4f"), ("psnr", "PSNR (dB)", "%.2f"),
    ("ssim", "SSIM", "%.3f"), ("lpips", "LPIPS", "%.3f"), ("colourfulness_gap", "colourfulness gap", "%.2f"),
    ("target_accuracy", "target accuracy (class, or colour)", "%.3f"), ("cycle_l1", "cycle L1", "%.4f"),
    ("diversity_l1", "diversity (L1)", "%.4f"),
)


def _translator_card(folder: Path, family, name: str, results_dir: str | Path) -> dict[str, Any]:
    """What the translator card shows besides the common fields: parameters, the bundle's parts, the table."""
    from safetensors import safe_open

    with safe_open(str(folder / WEIGHTS_FILE), "pt") as f:
        shapes = {key: f.get_slice(key).get_shape() for key in f.keys()}  # noqa: SIM118 (a safetensors handle is not a dict)
    counts = {key: math.prod(shape) for key, shape in shapes.items() if not key.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    components = [{"name": part, "parameters": sum(n for key, n in counts.items() if key.startswith(part + "."))}
                  for part in family.components]
    lines = translation_lines(name, results_dir)
    present = [(key, title, fmt) for key, title, fmt in TRANSLATION_COLUMNS if any(line.get(key) is not None for line in lines)]
    return {"parameters": sum(counts.values()), "components": components, "translation": lines,
            "translation_columns": [{"key": key, "title": title, "format": fmt} for key, title, fmt in present]}


def translation_lines(model: str, results_dir: str | Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """The model's translation table from the newest translation run: its lines and its tasks' baselines."""
    from core.report import translation_for, translation_table

    results_dir = Path(results_dir)
    rows = translation_for(read_rows(results_dir), model) if results_dir.is_dir() else []
    if not rows:
        return []
    return [{key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in line.items()}
            for line in translation_table(rows).to_dict("records")]


def robustness_table(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Robustness rows of one model pivoted to (attack, mask) lines x epsilon columns."""
    if not rows:
        return None
    epsilons = sorted({row["params"]["epsilon"] for row in rows})
    cells = {(row["params"]["attack"], bool(row["params"]["mask"]), row["params"]["epsilon"]): row["value"] for row in rows}
    lines = []
    for attack, mask in sorted({(a, m) for a, m, _ in cells}, key=lambda am: (am[0], am[1])):
        lines.append({
            "attack": attack,
            "mask": "garment only" if mask else "all",
            "values": [cells.get((attack, mask, eps)) for eps in epsilons],
        })
    newest = max(rows, key=lambda r: r.get("timestamp") or "")
    return {
        "epsilons": epsilons,
        "lines": lines,
        "data": newest.get("data") or "-",
        "seed": newest["params"].get("seed", "-"),
        "threshold": newest["params"].get("mask_threshold", "-"),
        "device": newest["device"],
        "commit": newest.get("commit") or "-",
    }


def latest_metrics(model: str, results_dir: str | Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """`model`'s successful rows from the newest run of each benchmark (core.report.latest), sorted."""
    results_dir = Path(results_dir)
    rows = read_rows(results_dir) if results_dir.is_dir() else []  # a damaged line is skipped with a warning
    mine = [row for row in latest(rows) if row["model"] == model and row.get("error") is None and row["value"] is not None]
    return sorted(mine, key=lambda r: (r["benchmark"], r["metric"], r["device"], json.dumps(r.get("params") or {}, sort_keys=True)))


def quality_table(model: str, results_dir: str | Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """The model's FID/KID/precision/recall per extractor, next to its baselines from the same run.

    One line per (candidate, extractor): the model, the real held-out split,
    and the untrained twin, as `python -m benchmarks.quality` measured them.
    """
    results_dir = Path(results_dir)
    rows = latest(read_rows(results_dir), "quality") if results_dir.is_dir() else []
    ok = [r for r in rows if r.get("error") is None and r["value"] is not None and "extractor" in (r.get("params") or {})]
    mine = [r for r in ok if r["model"] == model]
    lines: dict[tuple, dict[str, Any]] = {}
    for extractor, dataset, size in sorted({(r["params"]["extractor"], r["dataset"], r["params"].get("image_size")) for r in mine}):
        for row in ok:
            p = row["params"]
            same_protocol = (p["extractor"], row["dataset"], p.get("image_size")) == (extractor, dataset, size)
            is_baseline = p.get("candidate") == "real" or (p.get("candidate") == "untrained" and p.get("generator") == model)
            is_variant = p.get("candidate") == "trained" and p.get("generator") == model  # a diffusion model's other steps
            if same_protocol and (row["model"] == model or is_baseline or is_variant):
                line = lines.setdefault((extractor, row["model"]), {
                    "model": row["model"], "extractor": extractor, "candidate": p.get("candidate", "trained"),
                    "steps": p.get("sampling_steps") if p.get("candidate") != "real" else None,
                    "n_generated": p.get("n_generated"), "n_real": p.get("n_real"), "data": row.get("data") or "-",
                    "device": row["device"], "commit": row.get("commit") or "-",
                })
                line[row["metric"]] = row["value"]
    order = {"trained": 0, "real": 1, "untrained": 2}
    return sorted(lines.values(), key=lambda line: (line["extractor"], order.get(line["candidate"], 3), line["steps"] or 0))


def timeline_table(model: str, results_dir: str | Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """The model's training timeline from the newest timeline run: FID (and the other metrics) per snapshot epoch."""
    results_dir = Path(results_dir)
    rows = latest(read_rows(results_dir), "timeline") if results_dir.is_dir() else []
    epochs: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["model"] != model or row.get("error") is not None or row["value"] is None:
            continue
        params = row["params"]
        line = epochs.setdefault(int(params["epoch"]), {"epoch": int(params["epoch"]), "device": row["device"],
                                                        "data": row.get("data") or "-",
                                                        "images_seen": params.get("images_seen"),
                                                        "steps": params.get("sampling_steps"),
                                                        "n_generated": params.get("n_generated")})
        line[row["metric"]] = row["value"]
    return [epochs[e] for e in sorted(epochs)]


def growth_table(model: str, results_dir: str | Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """A growing model's growth curve from the newest growth run: FID (and the rest) at the end of each stage."""
    results_dir = Path(results_dir)
    rows = [row for row in latest(read_rows(results_dir), "growth") if row["model"] == model] if results_dir.is_dir() else []
    return growth_table_of(rows).to_dict("records")


def render_card(template: str, **context: Any) -> str:
    env = Environment(
        loader=FileSystemLoader(HUB_CARDS_DIR), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.get_template(template).render(**context)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def space_sdk(folder: Path) -> str:
    """The `sdk:` of a Space folder's README front matter (gradio, docker, static)."""
    readme = folder / "README.md"
    match = re.search(r"^sdk:\s*(\S+)", readme.read_text(), re.MULTILINE) if readme.is_file() else None
    if not match:
        raise UserError(f"{folder} is not a Space: its README.md has no 'sdk:' in the front matter")
    return match.group(1)


def push(folder: str | Path, repo_id: str, *, repo_type: str = "model", private: bool = False, token: str | None = None) -> str:
    """Upload `folder` to the Hub repo `repo_id`; returns the commit URL.

    Offline, or when the Hub cannot be reached, raises a UserError and uploads nothing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"nothing to push: {folder} is not a folder")
    if repo_type not in ("model", "space", "dataset"):
        raise UserError(f"repo type must be model, space or dataset, not {repo_type!r}")
    if "/" not in repo_id:
        raise UserError(f"repo id {repo_id!r} must look like 'user-or-org/name'")
    if hub_offline():
        raise UserError(
            f"cannot push {folder} to {repo_id}: the Hub is switched off (HF_HUB_OFFLINE=1). "
            "Set HF_TOKEN (or unset HF_HUB_OFFLINE) on a machine with internet and run the same command."
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    # A Space repo must be created with its SDK; the Space's README front matter names it.
    sdk = space_sdk(folder) if repo_type == "space" else None
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, space_sdk=sdk)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type)
    except (HfHubHTTPError, OSError) as err:
        # OSError covers connection failures (requests/httpx raise subclasses of it)
        raise UserError(f"could not push {folder} to {repo_id}: {err.__class__.__name__}: {err}") from None
    return str(getattr(commit, "commit_url", commit))
