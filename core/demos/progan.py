"""What the Progressive GAN Space needs besides UI: samples, the growth strip and latent walks, as PIL images.

The growth strip draws one latent through the snapshot of every stage the
model exported (`snapshots/stage_NNNNpx/`, core.hub) and through the
finished model, each enlarged by nearest neighbour to the same display size,
so one sees every pixel of a stage split into four at the next.
"""

from __future__ import annotations

from PIL import Image

from core.demos.common import display_scale, enlarge, load, parse_seed
from core.errors import UserError
from core.hub import snapshot_folders
from core.images import make_grid, to_pil
from core.inference import resolve_source

GAP = 8  # pixels between the stages of a strip


def stages(source: str) -> list[str]:
    """The stage snapshots of the model at `source`, 4x4 first, then the model itself."""
    folder = resolve_source(source)
    return [str(snapshot) for snapshot in snapshot_folders(folder)] + [str(folder)]


def growth_strip(source: str, seed: float | None, scale: int | None = None) -> Image.Image:
    """One row: the image of `seed`'s latent at every stage, each shown at the finished model's display size."""
    seed = parse_seed(seed)
    final = load(source)
    folders = stages(source)
    if len(folders) < 2:
        raise UserError(f"{final.name} exported no stage snapshots, so it has no growth to show")
    size = final.image_size * (scale or display_scale(final))
    tiles = []
    for folder in folders:
        pipe = load(folder)
        tile = to_pil(make_grid(pipe.sample(1, seed), nrow=1, padding=0))
        tiles.append(enlarge(tile, size // pipe.image_size))
    strip = Image.new(tiles[-1].mode, (len(tiles) * size + (len(tiles) - 1) * GAP, size), color=0)
    for i, tile in enumerate(tiles):
        strip.paste(tile, (i * (size + GAP), 0))
    return strip



def stage_caption(source: str) -> str:
    """A one-line Markdown caption: the resolutions of the strip, left to right."""
    sizes = [load(folder).image_size for folder in stages(source)]
    return "Stages, left to right: " + " → ".join(f"{s}×{s}" for s in sizes) + " (the last is the finished model)."
