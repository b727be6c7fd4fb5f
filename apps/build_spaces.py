"""Assemble every Space under apps/ into a self-contained folder, ready to push to the Hub.

    python -m apps.build_spaces [--space NAME ...] [--out dist/spaces] [--models-root pretrained]
                                [--results-root results] [--hub-models user/a,user/b]

A Space is a folder under apps/ with app.py and README.md. Its build,
dist/spaces/<name>/, holds the Space's own files, a copy of core/ (so
`python app.py` runs there as is; `core = [...]` in space.toml ships only
those files of it), the models listed in the Space's space.toml
(`models = [...]`), copied whole to pretrained/<model>/ (their model.onnx and
onnx.json too when `make onnx` wrote them: BACKEND=onnx serves those), and the benchmark result
files it lists (`results = [...]`, names or glob patterns in results/ such
as "*.jsonl" or "samples/*.png"), copied to results/, and the built files it
lists (`assets = [...]`, paths under the project such as an index folder),
copied to the same paths when they exist.
With --hub-models (for one --space) the build ships no weights: the Space
loads those Hub repos instead (see core.demo).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tomllib
from pathlib import Path

from core.errors import UserError
from core.hub import CONFIG_FILE, WEIGHTS_FILE
from core.paths import PRETRAINED_DIR, PROJECT_ROOT, RESULTS_DIR

APPS_DIR = Path(__file__).resolve().parent
SPACE_CONFIG = "space.toml"
MODEL_SOURCE_FILE = "model_source.txt"  # the file core.demo.MODEL_SOURCE_FILE reads in a built Space
SKIP_CACHE = shutil.ignore_patterns("__pycache__", "*.pyc")
# Plus repo-only files a Space does not need (the package marker makes app.py importable in tests).
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py", SPACE_CONFIG)
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def find_spaces(apps_dir: Path = APPS_DIR) -> list[Path]:
    """The Space folders under `apps_dir`: those with both app.py and README.md."""
    return sorted(p for p in apps_dir.iterdir() if (p / "app.py").is_file() and (p / "README.md").is_file())


def space_config(space: Path) -> dict:
    config = space / SPACE_CONFIG
    return tomllib.loads(config.read_text()) if config.is_file() else {}


def shipped_models(space: Path) -> list[str]:
    """The model names a Space ships, from its space.toml (none without one)."""
    return list(space_config(space).get("models", []))


def shipped_results(space: Path) -> list[str]:
    """The result files (names or glob patterns in results/) a Space ships, from its space.toml."""
    return list(space_config(space).get("results", []))


def shipped_assets(space: Path) -> list[str]:
    """Built files or folders (paths under the project) a Space ships when they exist, from its space.toml."""
    return list(space_config(space).get("assets", []))


def shipped_core(space: Path) -> list[str] | None:
    """The files of core/ a Space ships, from its space.toml; None (no `core` key) ships the whole package."""
    files = space_config(space).get("core")
    return None if files is None else list(files)


def parse_hub_models(spec: str) -> list[str]:
    """`user/a,user/b` -> repo ids, each checked to look like `owner/name`."""
    repo_ids = [item.strip() for item in spec.split(",") if item.strip()]
    if not repo_ids:
        raise UserError("--hub-models needs at least one Hub repo id, e.g. you/dcgan-fashion-mnist")
    for repo_id in repo_ids:
        if not HUB_ID.match(repo_id):
            raise UserError(f"--hub-models: {repo_id!r} is not a Hub repo id like 'owner/name'")
    return repo_ids


def build_space(
    space: Path,
    out_root: Path,
    models_root: Path = PRETRAINED_DIR,
    hub_models: list[str] | None = None,
    results_root: Path = RESULTS_DIR,
) -> Path:
    """Assemble `space` into `out_root/<name>` (replacing an earlier build) and return that folder."""
    models = [] if hub_models else shipped_models(space)
    # Check every model first, so a missing one leaves no half-built Space behind
    for name in models:
        if not ((models_root / name / CONFIG_FILE).is_file() and (models_root / name / WEIGHTS_FILE).is_file()):
            raise UserError(
                f"Space {space.name!r} ships model {name!r}, but {models_root / name} is not an exported model; "
                f"export it (python -m core export RUN --name {name}), pass --models-root, or use --hub-models"
            )
    core_files = shipped_core(space)
    for name in core_files or []:
        if not (PROJECT_ROOT / "core" / name).is_file():
            raise UserError(f"Space {space.name!r} ships core/{name} (space.toml), but {PROJECT_ROOT / 'core' / name} "
                            "does not exist")
    out = out_root / space.name
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(space, out, ignore=SKIP)
    if core_files is None:
        shutil.copytree(PROJECT_ROOT / "core", out / "core", ignore=SKIP_CACHE)
    for name in core_files or []:
        (out / "core" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / "core" / name, out / "core" / name)
    for name in models:
        shutil.copytree(models_root / name, out / "pretrained" / name, ignore=SKIP_CACHE)
    for pattern in shipped_results(space):
        # Optional: a Space shows "no results yet" rather than failing when a benchmark has not run.
        for path in sorted(results_root.glob(pattern)):
            if path.is_file():
                target = out / "results" / path.relative_to(results_root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    for name in shipped_assets(space):
        # Optional too: a Space that can build its asset on first start says so when it does
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=SKIP_CACHE)
        elif source.is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out / name)
        else:
            print(f"note: Space {space.name!r} lists {name} in its assets, which is not built: it is left out")
    if hub_models:
        (out / "README.md").write_text(with_hub_models((out / "README.md").read_text(), hub_models))
        (out / MODEL_SOURCE_FILE).write_text(",".join(hub_models) + "\n")
    return out


def with_hub_models(readme: str, repo_ids: list[str]) -> str:
    """The README with `models` (links the Space to them on the Hub) and `preload_from_hub`
    (downloads them when the Space is built) added to its front matter, and the MODEL_SOURCE it runs with."""
    if not readme.startswith("---\n") or "\n---\n" not in readme[3:]:
        raise UserError("the Space README.md must start with YAML front matter between '---' lines")
    end = readme.index("\n---\n", 3)
    listing = "".join(f"  - {repo_id}\n" for repo_id in repo_ids)
    front = readme[: end + 1] + f"models:\n{listing}preload_from_hub:\n{listing}"
    note = (
        f"\n## Variables\n\nThis build loads its models from the Hub: `MODEL_SOURCE={','.join(repo_ids)}` "
        f"(baked into `{MODEL_SOURCE_FILE}`; a `MODEL_SOURCE` Space variable overrides it).\n"
    )
    return front + readme[end + 1 :].rstrip("\n") + "\n" + note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.build_spaces", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "dist" / "spaces", help="where the Space folders go")
    parser.add_argument("--models-root", type=Path, default=PRETRAINED_DIR, help="where the exported models are")
    parser.add_argument("--results-root", type=Path, default=RESULTS_DIR, help="where the benchmark results are")
    parser.add_argument("--space", nargs="+", metavar="NAME", help="build only these Spaces (default: all)")
    parser.add_argument(
        "--hub-models", help="comma-separated Hub repo ids to load instead of shipping weights (with one --space)"
    )
    args = parser.parse_args(argv)
    try:
        spaces = find_spaces()
        if args.space:
            known = {space.name: space for space in spaces}
            unknown = [name for name in args.space if name not in known]
            if unknown:
                raise UserError(f"unknown Space(s) {', '.join(unknown)}; known: {', '.join(known)}")
            spaces = [known[name] for name in args.space]
        hub_models = parse_hub_models(args.hub_models) if args.hub_models is not None else None
        if hub_models and len(spaces) > 1:
            raise UserError("--hub-models lists one Space's models: name that Space with --space")
        for space in spaces:
            out = build_space(space, args.out, args.models_root, hub_models, args.results_root)
            run = space_config(space).get("run", "python app.py")
            print(f"built {out}  (run: cd {out} && {run})")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
