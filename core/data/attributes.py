"""A garment's colour, named, from its own pixels: the attribute a Fader network slides and a shopper searches by.

    ids = garment_colors(images)          # uint8 [B, 3, H, W] (or float in [-1, 1]) -> colour ids [B]
    COLOR_NAMES[ids[0]]                   # "navy"
    ids = photo_colors(data)              # every photo of an ImageData, cached by a hash of its pixels

The steps, batched in torch and deterministic:

1. The garment's pixels: the silhouette mask of core.data.transforms (grayscale, blur, Otsu's threshold, the
   side that covers less of the border) inside the central box where the garment is photographed (`CENTRE`).
   On a busy background the mask can take nearly all or nearly none of that box; then the box stands in for
   it (`MASK_RANGE`).
2. K-Means in CIELAB (D65) on those pixels, `CLUSTERS` centres started from the means of the pixels' lightness
   terciles (no random start: the same photo always gets the same colour), `ITERATIONS` Lloyd steps.
3. The largest cluster is the garment's colour; its centre is named after the nearest entry of `NAMED_COLORS`
   by CIE76 distance in Lab.

The palette is the one shoppers filter by (a dozen names), not a colour science one: "navy" and "beige" are
there because clothing is often navy or beige.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import torch
from torch import Tensor

from core.data.transforms import _gray01, silhouette
from core.errors import UserError

# sRGB (0-255) of each named colour: the centre that a garment's dominant colour is compared with.
NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 28),
    "white": (240, 240, 236),
    "gray": (128, 128, 128),
    "navy": (35, 45, 85),
    "blue": (45, 95, 195),
    "red": (185, 35, 45),
    "pink": (230, 150, 180),
    "orange": (230, 125, 45),
    "yellow": (235, 205, 70),
    "green": (65, 130, 75),
    "purple": (115, 65, 145),
    "brown": (115, 75, 45),
    "beige": (210, 190, 155),
}
COLOR_NAMES: list[str] = list(NAMED_COLORS)
CLUSTERS = 3
ITERATIONS = 8
CENTRE = (0.2, 0.8)  # the garments are photographed centred: pixels outside this box (of each side) are left out
MASK_RANGE = (0.05, 0.97)  # a mask covering less or more of that box than this is not trusted: the box is used
WORKING_SIZE = 32  # larger images are area-averaged to this side first: the colour is the same, 4x faster at 64 px
CACHE_VERSION = 1  # bump when the steps above or the palette change, so cached colours are not reused

_D65 = (0.95047, 1.0, 1.08883)
_RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1], [..., 3] -> CIELAB (D65) [..., 3]: L in [0, 100], a and b about [-128, 127]."""
    rgb = rgb.float().clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ torch.tensor(_RGB_TO_XYZ, device=rgb.device).t()
    xyz = xyz / torch.tensor(_D65, device=rgb.device)
    delta = 6 / 29
    f = torch.where(xyz > delta**3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * delta**2) + 4 / 29)
    return torch.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], dim=-1)


def palette_lab(device: torch.device, names: list[str] | None = None) -> Tensor:
    rgb = [NAMED_COLORS[name] for name in names or COLOR_NAMES]
    return rgb_to_lab(torch.tensor(rgb, dtype=torch.float, device=device) / 255)


def unit_images(images: Tensor) -> Tensor:
    """uint8 [B, 3, H, W] or float in [-1, 1] -> float in [0, 1], at most WORKING_SIZE px a side."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise UserError(f"colours are read from RGB images [B, 3, H, W], got shape {tuple(images.shape)}")
    unit = images.float() / 255 if images.dtype == torch.uint8 else (images.float() + 1) / 2
    if max(unit.shape[-2:]) > WORKING_SIZE:
        unit = torch.nn.functional.adaptive_avg_pool2d(unit, WORKING_SIZE)
    return unit


def garment_mask(images: Tensor) -> Tensor:
    """The pixels the colour is read from, bool [B, H, W]: the silhouette, or the central half where it fails."""
    unit = unit_images(images)
    h, w = unit.shape[-2:]
    centre = torch.zeros((h, w), dtype=torch.bool, device=unit.device)
    centre[round(h * CENTRE[0]) : round(h * CENTRE[1]), round(w * CENTRE[0]) : round(w * CENTRE[1])] = True
    mask = silhouette(_gray01(unit * 2 - 1))[:, 0] & centre
    share = mask.float().sum(dim=(1, 2)) / centre.sum()
    untrusted = (share < MASK_RANGE[0]) | (share > MASK_RANGE[1])
    return torch.where(untrusted[:, None, None], centre, mask)


def dominant_lab(images: Tensor) -> Tensor:
    """The Lab centre [B, 3] of the largest K-Means cluster of each garment's pixels (see the module docstring)."""
    unit = unit_images(images)
    b = unit.shape[0]
    lab = rgb_to_lab(unit.permute(0, 2, 3, 1)).reshape(b, -1, 3)  # [B, P, 3]
    weight = garment_mask(images).reshape(b, -1).float()  # [B, P]
    # start: the mean of each lightness tercile of the garment's pixels
    lightness = torch.where(weight > 0, lab[..., 0], torch.nan)
    edges = torch.nanquantile(lightness, torch.linspace(0, 1, CLUSTERS + 1, device=lab.device)[1:-1], dim=1).t()  # [B, K-1]
    tercile = (lab[..., 0:1] > edges[:, None, :]).sum(-1)  # [B, P] in 0..K-1
    assign = torch.nn.functional.one_hot(tercile, CLUSTERS).float()
    for step in range(ITERATIONS + 1):
        member = assign * weight[..., None]  # [B, P, K]
        counts = member.sum(1)  # [B, K]
        centres = (member.transpose(1, 2) @ lab) / counts.clamp_min(1e-6)[..., None]  # [B, K, 3]
        if step == ITERATIONS:
            break
        distance = torch.cdist(lab, centres)  # [B, P, K]
        distance = torch.where(counts[:, None, :] > 0, distance, torch.inf)  # an empty cluster takes no pixels
        assign = torch.nn.functional.one_hot(distance.argmin(-1), CLUSTERS).float()
    return centres[torch.arange(b), counts.argmax(1)]


def check_names(names: list[str]) -> None:
    """A ValueError unless `names` are at least two different entries of NAMED_COLORS."""
    unknown = [n for n in names if n not in NAMED_COLORS]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"color names must be at least two different names of {', '.join(COLOR_NAMES)}; got {names!r}")


def name_colors(lab: Tensor, names: list[str] | None = None) -> Tensor:
    """Lab colours [B, 3] -> ids [B] of the nearest colour (CIE76) among `names` (default: all of COLOR_NAMES)."""
    return torch.cdist(lab.float(), palette_lab(lab.device, names)).argmin(1)


def garment_colors(images: Tensor, names: list[str] | None = None, batch_size: int = 512) -> Tensor:
    """The colour id [B] of each garment of images uint8 [B, 3, H, W] (or float in [-1, 1]): ids into `names`, a
    part of the palette (default: COLOR_NAMES, the whole of it)."""
    if names is not None:
        check_names(names)
    if not len(images):
        return torch.zeros(0, dtype=torch.long)
    with torch.no_grad():
        return torch.cat([name_colors(dominant_lab(images[i : i + batch_size]), names)
                          for i in range(0, images.shape[0], batch_size)])


def pixels_key(images: Tensor) -> str:
    """What a colour table is stored under: a hash of the pixels it was computed from and of the steps."""
    digest = hashlib.sha256(images.contiguous().cpu().numpy().tobytes())
    digest.update(repr((NAMED_COLORS, CLUSTERS, ITERATIONS, CENTRE, MASK_RANGE, WORKING_SIZE, CACHE_VERSION)).encode())
    return digest.hexdigest()[:20]


def photo_colors(data) -> Tensor:
    """The colour id [N] of every photo of an in-memory ImageData, computed once and cached under
    core.paths.cache_dir() by a hash of its pixels (so another split, size or folder gets its own)."""
    from core.data.folder import read_tensors, write_tensors
    from core.paths import cache_dir

    images = getattr(data, "images", None)
    if images is None:
        raise UserError(f"colours are computed from data in memory; {data.describe()} is streamed (use data_loading=memory)")
    cache = cache_dir() / f"colors-{pixels_key(images)}.safetensors"
    found = read_tensors(cache)
    if found is not None and "colors" in found[0] and len(found[0]["colors"]) == len(images):
        return found[0]["colors"]
    colors = garment_colors(images)
    write_tensors(cache, {"colors": colors}, {"names": ",".join(COLOR_NAMES)})
    return colors


def color_id(name: str) -> int:
    """The id of a colour name (case-insensitive); an unknown one is a UserError listing the palette."""
    key = str(name).strip().lower()
    if key not in NAMED_COLORS:
        raise UserError(f"unknown colour {name!r}; choose from: {', '.join(COLOR_NAMES)}")
    return COLOR_NAMES.index(key)


def color_counts(ids: Tensor) -> dict[str, int]:
    """How many of `ids` have each colour, in palette order (zeros included)."""
    counts = Counter(int(i) for i in ids)
    return {name: counts.get(i, 0) for i, name in enumerate(COLOR_NAMES)}
