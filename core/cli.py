"""Command line: `python -m core {train,generate,translate,export,export-onnx,card,push,cluster,index,search,list}`.

Thin by design: parse, validate with a one-line message, print the resolved
config, then call the library.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path

from core.errors import UserError

EXAMPLES = """\
examples:
  python -m core train --recipe dcgan-fashion-mnist --preset quick --run-dir runs/dcgan-fashion-mnist
  python -m core train --recipe dcgan-clothing-64 --preset full --set batch_size=256 lr.G=1e-4
  python -m core train --resume runs/dcgan-fashion-mnist --steps 6000     # continue, longer
  python -m core train --recipe cocogan-clothing-64 --dataset folder:~/jewellery --set conditional=false
  python -m core train --recipe dcgan-clothing-64 --dataset hf:owner/name --set data_loading=stream workers=2
  python -m core train --recipe classifier-conv-adv-fashion-mnist --set adversarial_training.epsilon=0.2
  python -m core generate --model pretrained/dcgan-fashion-mnist --n 20 --label Sneaker --out sneakers.png
  python -m core generate --model pretrained/ddpm-fashion-mnist-32 --n 16 --steps 25 --out ddpm.png
  python -m core train --recipe pix2pix-edges2clothing-64 --dataset folder:~/shoes   # edges -> your own photos
  python -m core translate --model stargan-clothing-64 --input photo.jpg --target dress --out dress.png
  python -m core translate --model fader-clothing-64 --input tee.jpg --photo-class t-shirt --color red --strength 0.7
  python -m core translate --model munit-tshirt2longsleeve-64 --input tee.jpg --styles 6 --show-input --out styles.png
  python -m core export runs/dcgan-fashion-mnist --name dcgan-fashion-mnist
  python -m core export-onnx dcgan-fashion-mnist stargan-clothing-64   # model.onnx beside the weights, parity checked
  BACKEND=onnx python -m core generate --model dcgan-fashion-mnist --n 16 --out onnx.png   # served by onnxruntime
  python -m core card pretrained/dcgan-fashion-mnist        # refresh its metrics after `make bench`
  python -m core push pretrained/dcgan-fashion-mnist --repo-id you/dcgan-fashion-mnist
  python -m core push dist/spaces/dcgan --repo-id you/dcgan-demo --repo-type space
  python -m core cluster --data clothing --k 8 --select 0 --per-group 20   # silhouettes -> a pix2pix training folder
  python -m core index --data clothing --split train --kind both --out indexes/clothing-train   # a retrieval index
  python -m core search --image photo.jpg -k 10 --index indexes/clothing-train --out neighbours.png
  python -m core list
"""


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (plus where to look), not the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from core.clustering import FEATURE_KINDS
    from core.train.config import PRESETS, RECIPES

    parser = OneLineErrorParser(
        prog="python -m core",
        description="Fashion GAN Lab: train, sample, translate, export and publish generators, translators and classifiers.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a recipe (or resume a run)", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--recipe", choices=sorted(RECIPES), help="what to train")
    train.add_argument("--preset", choices=list(PRESETS), default="quick", help="budget: smoke (seconds), quick (minutes on CPU), full (GPU)")
    train.add_argument("--run-dir", type=Path, help="run folder (default: runs/NNNNN-RECIPE-PRESET); an existing one is resumed")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR with its saved config")
    train.add_argument("--dataset", metavar="DATA", help="train on this instead of the recipe's data: a built-in name, "
                       "folder:PATH (one subfolder per class, or a flat folder) or hf:OWNER/NAME[:CONFIG] "
                       "(or hf:/local/copy); the split is then train unless --set split=... says otherwise")
    train.add_argument("--steps", type=int, help="total steps (overrides the preset)")
    train.add_argument("--minutes", type=float, help="stop after this many minutes (state is saved)")
    train.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="override settings, e.g. batch_size=32 lr.G=1e-4")
    train.add_argument("--export", metavar="NAME", help="when done, export the model to pretrained/NAME")
    train.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    generate = commands.add_parser("generate", help="sample a PNG grid from an exported model", epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    generate.add_argument("--model", required=True, help="model folder, name in pretrained/, or Hub repo id")
    generate.add_argument("--n", type=int, default=16, help="number of images (default 16)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--label", nargs="+", help="class id(s) or name(s): one for all, or one per image")
    generate.add_argument("--steps", type=int, help="a diffusion model's sampler steps (default: its own)")
    generate.add_argument("--nrow", type=int, help="images per row")
    generate.add_argument("--scale", type=int, default=0, help="enlarge the grid by this factor (default: auto)")
    generate.add_argument("--out", type=Path, default=Path("samples.png"))
    generate.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")

    translate = commands.add_parser("translate", help="translate a photo with an exported image-to-image model")
    translate.add_argument("--model", required=True, help="model folder, name in pretrained/, or Hub repo id")
    translate.add_argument("--input", required=True, type=Path, nargs="+", metavar="IMAGE", help="photo(s), any size or mode")
    translate.add_argument("--out", type=Path, default=Path("translated.png"),
                           help="one image: the result; several (or --styles, --show-input): a grid, one input per row")
    translate.add_argument("--target", help="the output's domain: a class (StarGAN) or one of the two domains (CycleGAN, MUNIT)")
    translate.add_argument("--color", help="Fader networks: the colour to give the garment (red, navy, ...)")
    translate.add_argument("--photo-class", help="Fader networks: the photo's own class, kept when only --color is edited")
    translate.add_argument("--strength", type=float, default=1.0,
                           help="Fader networks: how far to slide the edited attributes (0: unchanged, 1: the target, up to 2)")
    translate.add_argument("--styles", type=int, default=1, help="MUNIT: outputs per input, each with its own style")
    translate.add_argument("--seed", type=int, default=0, help="MUNIT: the styles' seed")
    translate.add_argument("--show-input", action="store_true",
                           help="put the photo (and, for a paired model, the edges, mask or grayscale it sees) before the result")
    translate.add_argument("--scale", type=int, default=0, help="enlarge by this factor (default: auto)")
    translate.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")

    export = commands.add_parser("export", help="export a finished run to pretrained/NAME with a model card")
    export.add_argument("run_dir", type=Path)
    export.add_argument("--name", required=True, help="model name, e.g. dcgan-fashion-mnist")
    export.add_argument("--out-root", type=Path, help="parent folder (default: pretrained/)")
    export.add_argument("--note", action="append", default=[], metavar="TEXT",
                        help="a sentence for the card's Training section, e.g. how the data was prepared (repeatable)")

    onnx = commands.add_parser("export-onnx", help="write model.onnx (dynamic batch) beside exported models, its parity "
                               "with PyTorch in onnx.json", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    onnx.add_argument("models", nargs="*", metavar="MODEL", help="names in pretrained/ or model folders (with their "
                      "stage snapshots, which the ProGAN Space loads too)")
    onnx.add_argument("--all", action="store_true", help="every exported model in pretrained/")

    card = commands.add_parser("card", help="re-render an exported model's card with the latest results/ rows")
    card.add_argument("folders", type=Path, nargs="+", metavar="FOLDER")

    push = commands.add_parser("push", help="upload an exported model folder to the Hugging Face Hub")
    push.add_argument("folder", type=Path)
    push.add_argument("--repo-id", required=True, help="user-or-org/name")
    push.add_argument("--repo-type", choices=["model", "space", "dataset"], default="model",
                      help="space for a folder built by `make spaces`")
    push.add_argument("--private", action="store_true")

    cluster = commands.add_parser("cluster", help="K-Means of photos by silhouette (or grayscale, edges): a report, "
                                  "and a training folder of the images nearest one cluster", epilog=EXAMPLES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    cluster.add_argument("--data", required=True, help="clothing (the built-in photos) or a folder of images "
                         "(PATH or folder:PATH: one subfolder per class, or flat; with train/ ... subfolders, splits)")
    cluster.add_argument("--split", default="all", help="a split, or all of them (default all)")
    cluster.add_argument("--features", nargs="+", default=list(FEATURE_KINDS), metavar="KIND",
                         help=f"feature kinds, compared side by side: {', '.join(FEATURE_KINDS)} (default: all; "
                         "mask is the thesis's silhouette); --select uses the first")
    cluster.add_argument("--k", type=int, default=8, help="number of clusters (default 8)")
    cluster.add_argument("--seed", type=int, default=0, help="K-Means seed (default 0)")
    cluster.add_argument("--nearest", type=int, default=8, help="members shown per cluster in the grids (default 8)")
    cluster.add_argument("--out", type=Path, help="report folder (default: runs/NNNNN-cluster-DATA-kK)")
    cluster.add_argument("--select", type=int, metavar="CLUSTER", help="for every group, keep the images nearest "
                         "this cluster's centre (clusters are numbered by size, 0 the largest, as in the report)")
    cluster.add_argument("--per-group", type=int, default=1, metavar="N", help="images kept per group (default 1)")
    cluster.add_argument("--group-by", metavar="REGEX", help="groups are products: the regex's first group (or "
                         "match) in the file name, e.g. '^([0-9]+)_' (default: the class folder)")
    cluster.add_argument("--select-out", type=Path, metavar="DIR",
                         help="where the selection goes (default: OUT/selected-FEATURE-CLUSTER)")
    cluster.add_argument("--workers", type=int, default=0, help="decoding processes (0: automatic)")
    cluster.add_argument("--threads", type=int, default=0, help="CPU threads for the features and K-Means "
                         "(0: torch's default; 1 is far faster on an oversubscribed machine)")
    cluster.add_argument("--no-progress", action="store_true", help="no progress bars")

    index = commands.add_parser("index", help="embed a gallery of photos and build a retrieval index (faiss)",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    index.add_argument("--data", default="clothing", help="the gallery: clothing (the built-in photos) or folder:PATH "
                       "(default clothing)")
    index.add_argument("--split", default="train", help="the gallery's split (default train)")
    index.add_argument("--kind", choices=["exact", "hnsw", "both"], default="both", help="faiss index kind(s) (default both)")
    index.add_argument("--out", type=Path, help="index folder (default: indexes/DATA-SPLIT); an index there is rebuilt")
    index.add_argument("--extractor", default="classifier-clothing-64+color", help="what embeds the photos: a classifier "
                       "(folder, name in pretrained/), color (the garment's colours), pixels:16 (baseline), open_clip:MODEL/TAG "
                       "when installed with its weights, or parts joined by + (default classifier-clothing-64+color)")
    index.add_argument("--hnsw-m", type=int, default=32, help="HNSW links per node (default 32)")
    index.add_argument("--ef-construction", type=int, default=200, help="HNSW build breadth (default 200)")
    index.add_argument("--ef-search", type=int, default=128, help="HNSW search breadth stored with it (default 128)")
    index.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    index.add_argument("--no-progress", action="store_true", help="no progress bar")

    search = commands.add_parser("search", help="the gallery photos nearest a photo, from a retrieval index",
                                 epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    search.add_argument("--image", required=True, type=Path, nargs="+", metavar="IMAGE", help="photo(s), any size or mode")
    search.add_argument("-k", "--k", type=int, default=10, help="results per photo (default 10)")
    search.add_argument("--index", type=Path, default=Path("indexes/clothing-train"),
                        help="index folder (default indexes/clothing-train)")
    search.add_argument("--kind", choices=["exact", "hnsw"], help="which of its indexes (default: exact when it has one)")
    search.add_argument("--out", type=Path, help="also write a PNG grid: each photo, then its results")
    search.add_argument("--scale", type=int, default=0, help="enlarge the grid by this factor (default: auto)")
    search.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")

    commands.add_parser("list", help="recipes, presets, model families, losses, attacks, datasets and exported models")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the machine said no: disk full, permission denied, a file vanished
        print(f"error: {err.strerror or err}" + (f": {err.filename}" if err.filename else ""), file=sys.stderr)
        return 1
    except Exception as err:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"error: internal error ({type(err).__name__}: {first[:300]}); this is a bug, please report it "
              f"({DEBUG_VARIABLE}=1 shows the traceback)", file=sys.stderr)
        return 1


DEBUG_VARIABLE = "FGL_DEBUG"  # set: an unexpected exception shows its traceback instead of one line


# ---------------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    from core.train import TrainingInterrupted, train
    from core.train.config import config_from_dict, merge, parse_overrides, resolve_config

    overrides = parse_overrides(args.set)
    for key in ("steps", "minutes"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.steps is not None:
        overrides["epochs"] = 0  # --steps is the budget, whatever the recipe said in epochs
    if args.dataset is not None:
        overrides["dataset"] = args.dataset

    run_dir = args.resume or args.run_dir
    saved = run_dir / "config.json" if run_dir else None
    if args.resume and not (saved and saved.is_file()):
        raise UserError(f"cannot resume {args.resume}: it has no config.json (is it a run folder?)")
    if saved and saved.is_file():
        try:
            record = json.loads(saved.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"cannot resume {run_dir}: its config.json is not valid JSON ({err}); "
                            "start a new run or restore the file") from None
        if not isinstance(record, dict):
            raise UserError(f"cannot resume {run_dir}: its config.json is not a training config")
        record.pop("resolved_model_config", None)
        config = config_from_dict(merge(record, overrides))
        if args.recipe and args.recipe != config.recipe:
            raise UserError(f"{run_dir} is a run of {config.recipe!r}, not {args.recipe!r}; pick another --run-dir")
    elif args.recipe:
        if args.dataset is not None:
            # The recipe's split (a smoke preset's "validation") names a split of its own data, not of this one.
            overrides.setdefault("split", "train")
        config = resolve_config(args.recipe, args.preset, overrides)
        run_dir = run_dir or next_run_dir(Path("runs"), f"{args.recipe}-{args.preset}")
    else:
        raise UserError("say what to train: --recipe NAME (see `python -m core list`) or --resume RUN_DIR")

    from core.data.sources import check_name

    check_name(config.dataset)  # a mistyped folder: path fails here, in one line, before the config is printed
    # Under `accelerate launch` or torchrun every process runs this; only the first one talks and exports.
    main_process = os.environ.get("RANK", "0") == "0"
    say = print if main_process else (lambda *a, **k: None)
    say(f"run folder: {run_dir}")
    say(config.to_json())
    if args.dry_run:
        return 0
    command = "python -m core " + shlex.join(argv)
    try:
        result = train(config, run_dir, command=command, progress=not args.no_progress)
    except TrainingInterrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    from core.models import MODELS

    exported = run_dir / MODELS.get(config.model).exported
    say(f"done: {result.step} steps, {result.images_per_s:.0f} images/s; model in {exported}")
    if args.export and main_process:
        from core.hub import export_run

        print(f"exported to {export_run(run_dir, args.export)}")
    return 0


def cmd_generate(args: argparse.Namespace, argv: list[str]) -> int:
    from core.images import IMAGE_FORMATS, make_grid, save_png
    from core.inference import GeneratorPipeline, resolve_device
    from core.validation import check_seed, whole_number

    # every argument is checked before the model is loaded
    whole_number(args.n, "--n", 1, 1024)
    check_seed(args.seed, "--seed")
    if args.nrow is not None:
        whole_number(args.nrow, "--nrow", 1)
    whole_number(args.scale, "--scale", 0, 16)
    if args.out.is_dir():
        raise UserError(f"--out {args.out} is a folder: give a file name such as {args.out / 'samples.png'}")
    if args.out.suffix.lower() not in IMAGE_FORMATS:
        raise UserError(f"--out {args.out}: use one of {', '.join(IMAGE_FORMATS)}")
    device = resolve_device(args.device)
    pipe = GeneratorPipeline.from_pretrained(args.model, device=device)
    labels = args.label[0] if args.label and len(args.label) == 1 else args.label
    images = pipe.sample(args.n, seed=args.seed, labels=labels, steps=args.steps)
    scale = args.scale or max(1, 128 // pipe.image_size)
    path = save_png(make_grid(images, nrow=args.nrow), args.out, scale=scale)
    print(f"wrote {path} ({args.n} images from {pipe.name}, seed {args.seed})")
    return 0


def cmd_translate(args: argparse.Namespace, argv: list[str]) -> int:
    import numpy as np

    from core.images import IMAGE_FORMATS, make_grid, save_png
    from core.inference import TranslatorPipeline, resolve_device
    from core.validation import check_seed, whole_number

    whole_number(args.styles, "--styles", 1, 64)
    check_seed(args.seed, "--seed")
    whole_number(args.scale, "--scale", 0, 16)
    if args.out.is_dir():
        raise UserError(f"--out {args.out} is a folder: give a file name such as {args.out / 'translated.png'}")
    if args.out.suffix.lower() not in IMAGE_FORMATS:
        raise UserError(f"--out {args.out}: use one of {', '.join(IMAGE_FORMATS)}")
    pipe = TranslatorPipeline.from_pretrained(args.model, device=resolve_device(args.device))
    rows = []
    for path in args.input:
        photo = pipe.photos(path)
        if args.color or args.photo_class or args.strength != 1.0:  # a Fader network's sliders
            outputs = pipe.edit(photo, classes=args.photo_class, class_to=args.target, color_to=args.color,
                                class_strength=args.strength if args.target else 1.0,
                                color_strength=args.strength if args.color else 1.0)
        elif args.styles > 1:
            outputs = pipe.variations(photo[0], args.styles, args.seed, args.target)
        else:
            outputs = pipe.translate(photo, target=args.target, seed=args.seed)
        seen = [np.repeat(pipe.model_input(photo), 3, axis=-1)] if pipe.input_transform else []  # a paired model's edges ...
        shown = [photo, *seen] if args.show_input else []
        rows.append(np.concatenate([*shown, outputs]))
    grid = rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else make_grid(np.concatenate(rows), nrow=len(rows[0]))
    path = save_png(grid, args.out, scale=args.scale or max(1, 256 // pipe.image_size))
    target = "".join(f" to {value}" for value in (args.target, args.color) if value)
    print(f"wrote {path} ({len(args.input)} photo(s){target} through {pipe.name})")
    return 0


def cmd_export(args: argparse.Namespace, argv: list[str]) -> int:
    from core.hub import export_run
    from core.paths import PRETRAINED_DIR

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.name):
        raise UserError(f"model name {args.name!r} may use letters, digits, '.', '_' and '-' only")
    print(f"exported to {export_run(args.run_dir, args.name, args.out_root or PRETRAINED_DIR, notes=args.note)}")
    return 0


def cmd_export_onnx(args: argparse.Namespace, argv: list[str]) -> int:
    import time

    from core.hub import snapshot_folders
    from core.inference import list_models
    from core.onnx import ONNX_FILE, describe_parity, export_onnx, model_folder
    from core.paths import PRETRAINED_DIR

    if args.all == bool(args.models):
        raise UserError("name the models to export (names in pretrained/ or folders), or give --all")
    # every name is checked before the first export
    folders = [PRETRAINED_DIR / name for name in list_models()] if args.all else [model_folder(m) for m in args.models]
    failed = 0
    for folder in folders:
        for target in (folder, *snapshot_folders(folder)):
            label = target.name if target == folder else f"{folder.name}/{target.relative_to(folder).as_posix()}"
            start = time.perf_counter()
            try:
                record = export_onnx(target)
            except UserError as err:  # one model that cannot be exported does not stop the others
                print(f"error: {label}: {err}", file=sys.stderr)
                failed += 1
                continue
            print(f"{label}: wrote {target / ONNX_FILE} (opset {record['opset']}, {record['bytes'] / 1e6:.1f} MB, "
                  f"{time.perf_counter() - start:.1f} s); parity with torch: {describe_parity(record['parity'])}")
    return 1 if failed else 0


def cmd_card(args: argparse.Namespace, argv: list[str]) -> int:
    from core.hub import write_card

    for folder in args.folders:
        print(f"wrote {write_card(folder)}")
    return 0


def cmd_push(args: argparse.Namespace, argv: list[str]) -> int:
    from core.hub import push

    print(f"pushed: {push(args.folder, args.repo_id, repo_type=args.repo_type, private=args.private)}")
    return 0


def cmd_list(args: argparse.Namespace, argv: list[str]) -> int:
    from dataclasses import fields

    from core.data import DATASETS
    from core.data.modes import MODES
    from core.data.transforms import PAIRED_SOURCES
    from core.inference import list_models
    from core.losses import ADVERSARIAL_LOSSES, PENALTIES
    from core.models import MODELS
    from core.objectives import OBJECTIVES
    from core.robustness import ATTACKS
    from core.train.config import PRESETS, RECIPES, TRAIN_FIELDS
    from core.train.phases import STEP_HOOKS

    print("recipes:   ", ", ".join(sorted(RECIPES)))
    print("presets:   ", ", ".join(PRESETS))
    print("families:  ", ", ".join(f"{name} ({MODELS.get(name).objective})" for name in MODELS.names()))
    print("losses:    ", ", ".join(ADVERSARIAL_LOSSES.names()))
    print("penalties: ", ", ".join(PENALTIES.names()))
    print("step hooks:", ", ".join(STEP_HOOKS.names()))
    print("training settings:", ", ".join(sorted(TRAIN_FIELDS)))
    for name in OBJECTIVES.names():
        settings = ", ".join(f.name for f in fields(OBJECTIVES.get(name).Options)) or "none"
        print(f"  {name} objective settings: {settings}")
    print("attacks:   ", ", ".join(ATTACKS.names()))
    print("datasets:  ", ", ".join(DATASETS.names()))
    print("data modes:", ", ".join(MODES.names()), "(paired sources:", ", ".join(PAIRED_SOURCES.names()) + ")")
    print("exported:  ", ", ".join(list_models()) or "none yet")
    return 0


def cmd_cluster(args: argparse.Namespace, argv: list[str]) -> int:
    from core import clustering
    from core.train.config import RECIPES
    from core.validation import check_seed, whole_number

    # every argument is checked before anything is decoded
    kinds = clustering.check_kinds(args.features)
    whole_number(args.k, "--k", 2)
    check_seed(args.seed, "--seed")
    whole_number(args.nearest, "--nearest", 1, 64)
    whole_number(args.per_group, "--per-group", 1)
    whole_number(args.workers, "--workers", 0)
    whole_number(args.threads, "--threads", 0)
    if args.select is not None:
        clustering.check_cluster(args.select, args.k)
    elif args.group_by is not None or args.select_out is not None:
        raise UserError("--group-by and --select-out say how to select: give --select CLUSTER too")
    if args.group_by is not None:
        clustering.group_pattern(args.group_by)
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(args.data.removeprefix("folder:")).name or "data")
    out = args.out or next_run_dir(Path("runs"), f"cluster-{label}-k{args.k}")
    target = args.select_out or out / f"selected-{kinds[0]}-{args.select}"
    if args.select is not None:
        clustering.check_new_folder(target)
    photos = clustering.load_photos(args.data, args.split, workers=args.workers)
    clustering.check_k(args.k, len(photos))
    groups = clustering.group_keys(photos, args.group_by) if args.select is not None else None
    settings = {"data": args.data, "split": args.split, "features": kinds, "k": args.k, "seed": args.seed,
                "nearest": args.nearest, "command": "python -m core " + shlex.join(argv)}
    print(f"{photos.title}\nfeatures {', '.join(kinds)}; k {args.k}, seed {args.seed}; report in {out}")
    with clustering.cpu_threads(args.threads):
        results = clustering.cluster(photos, kinds, args.k, args.seed, progress=not args.no_progress)
    paths = clustering.write_report(photos, results, out, args.nearest, settings)
    print(clustering.table(results))
    print(f"wrote {', '.join(str(paths[kind]) for kind in kinds)}, {paths['json']} and {paths['markdown']}")
    if args.select is None:
        return 0
    result = results[0]
    chosen = clustering.select(result, args.select, groups, args.per_group)
    record = {**settings, "feature": result.kind, "cluster": args.select, "per_group": args.per_group,
              "group_by": args.group_by}
    notes = {i: {"group": groups[i], "distance": round(float(result.distances[i, args.select]), 4)} for i in chosen}
    folder = clustering.write_selection(photos, chosen, target, record, notes)
    recipe = next((name for name, r in RECIPES.items() if r["model"] == "pix2pix" and r.get("data_mode") == "paired"
                   and r.get("mode_options", {}).get("source") == result.kind), "pix2pix-mask2clothing-64")
    print(f"selected {len(chosen):,} images ({args.per_group} per group, {len({groups[i] for i in chosen}):,} groups) "
          f"nearest the centre of {result.kind} cluster {args.select} into {folder}; train on them with:\n"
          f"  python -m core train --recipe {recipe} --dataset folder:{folder}")
    return 0


def cmd_index(args: argparse.Namespace, argv: list[str]) -> int:
    from core import retrieval
    from core.data.sources import check_name
    from core.inference import resolve_device
    from core.validation import whole_number

    # every argument is checked before anything is decoded
    whole_number(args.hnsw_m, "--hnsw-m", 2, 256)
    whole_number(args.ef_construction, "--ef-construction", 1, 4096)
    whole_number(args.ef_search, "--ef-search", 1, 4096)
    check_name(args.data)
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(args.data.removeprefix("folder:")).name or "data")
    out = args.out or Path("indexes") / f"{label}-{args.split}"
    retrieval.check_out_folder(out)
    device = resolve_device(args.device)
    extractor = retrieval.make_extractor(args.extractor, device)
    settings = {"data": args.data, "split": args.split, "kind": args.kind, "extractor": extractor.name,
                "out": out.as_posix(), "hnsw_m": args.hnsw_m, "ef_construction": args.ef_construction,
                "ef_search": args.ef_search, "device": str(device)}
    print(json.dumps(settings))
    gallery = retrieval.load_gallery(args.data, args.split, image_size=extractor.image_size)
    index = retrieval.build_index(gallery, extractor, args.kind, out, hnsw_m=args.hnsw_m,
                                  ef_construction=args.ef_construction, ef_search=args.ef_search,
                                  progress=not args.no_progress)
    seconds = index.meta["build_seconds"]
    times = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    print(f"wrote {out}: {index.describe()} ({times})")
    return 0


def cmd_search(args: argparse.Namespace, argv: list[str]) -> int:
    from core import retrieval
    from core.images import IMAGE_FORMATS, save_png
    from core.inference import resolve_device
    from core.validation import whole_number

    whole_number(args.k, "-k", 1, 1000)
    whole_number(args.scale, "--scale", 0, 16)
    if args.out is not None and (args.out.is_dir() or args.out.suffix.lower() not in IMAGE_FORMATS):
        raise UserError(f"--out {args.out}: give an image file name such as neighbours.png")
    index = retrieval.RetrievalIndex.load(args.index, device=resolve_device(args.device))
    photos = retrieval.query_photos([str(path) for path in args.image], index.image_size)
    found = index.search(photos, k=args.k, kind=args.kind)
    print(f"index {args.index}: {index.describe()}; {found.kind} search")
    colors = retrieval.photo_color_names(photos)
    for number, path in enumerate(args.image):
        print(f"\n{path} (colour: {colors[number]})")
        print(retrieval.results_table(found.matches(number), index.meta["gallery"]["folder"]))
    if args.out is not None:
        scale = args.scale or max(1, 128 // index.thumbnails.shape[-1])
        print(f"\nwrote {save_png(index.grid(photos, found), args.out, scale=scale)}")
    return 0


COMMANDS = {"cluster": cmd_cluster, "index": cmd_index, "search": cmd_search, "train": cmd_train, "generate": cmd_generate, "translate": cmd_translate, "export": cmd_export, "export-onnx": cmd_export_onnx, "card": cmd_card, "push": cmd_push, "list": cmd_list}


def next_run_dir(root: Path, label: str) -> Path:
    """runs/00000-label, runs/00001-label, ... (StyleGAN-style numbered run folders)."""
    numbers = [int(p.name[:5]) for p in root.glob("[0-9][0-9][0-9][0-9][0-9]-*")] if root.is_dir() else []
    return root / f"{max(numbers, default=-1) + 1:05d}-{label}"
