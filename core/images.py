"""Image conversions and grids shared by the trainer, the CLI, the apps and the benchmarks."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import UserError
from core.files import atomic_path

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
MAX_OUTPUT_PIXELS = 50_000_000  # a written image (grid times scale): 7,000 px square
MAX_UPLOAD_PIXELS = 40_000_000  # an upload larger than this is refused before it is decoded
UPLOAD_WORK_SIDE = 512  # big JPEG uploads are decoded at a reduced scale that still covers this side


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] floats in [-1, 1] -> [N, H, W, C] uint8."""
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


def make_grid(images: np.ndarray, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """[N, H, W, C] uint8 -> one [H', W', C] uint8 image, `nrow` images per row."""
    n, h, w, c = images.shape
    if nrow is not None and nrow < 1:
        raise UserError(f"images per row must be at least 1, got {nrow}")
    nrow = min(nrow or math.ceil(math.sqrt(n)), max(n, 1))  # never wider than the images there are
    rows = math.ceil(n / nrow)
    grid = np.zeros((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = padding + (i // nrow) * (h + padding), padding + (i % nrow) * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid


def to_pil(image: np.ndarray) -> Image.Image:
    """[H, W, C] uint8 (C = 1 or 3) -> PIL image."""
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write [H, W, C] uint8 as PNG (or JPEG / WebP, by the suffix), optionally enlarged (nearest) for small
    images, atomically. A directory, an unknown suffix or an image over MAX_OUTPUT_PIXELS is a UserError."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: give a file name such as {path / 'samples.png'}")
    if path.suffix.lower() not in IMAGE_FORMATS:
        raise UserError(f"cannot write {path.name!r}: use one of {', '.join(IMAGE_FORMATS)}")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise UserError(f"scale must be a whole number >= 1, got {scale!r}")
    height, width = image.shape[0] * scale, image.shape[1] * scale
    if height * width > MAX_OUTPUT_PIXELS:
        raise UserError(f"a {width:,} x {height:,} px image is too large to write (limit {MAX_OUTPUT_PIXELS:,} "
                        "pixels): lower the scale or the number of images")
    pil = to_pil(image)
    if scale > 1:
        pil = pil.resize((width, height), Image.NEAREST)
    with atomic_path(path) as tmp:
        pil.save(tmp, format=IMAGE_FORMATS[path.suffix.lower()])
    return path


# --------------------------------------------------------------------------- uploads


def describe_upload(upload: object, name: str | None = None) -> str:
    """How an error message names an upload: its file name, else "the upload"."""
    if name:
        return repr(Path(name).name)
    if isinstance(upload, (str, Path)):
        return repr(Path(upload).name)
    return "the upload"


def open_image(upload: str | Path | bytes | Image.Image, name: str | None = None, max_pixels: int = MAX_UPLOAD_PIXELS,
               work_side: int = UPLOAD_WORK_SIDE) -> Image.Image:
    """A decoded PIL image, upright (EXIF rotation applied), from a path, the file's bytes or a PIL image; an
    empty, unreadable, truncated or absurdly large upload is a one-line UserError. Big JPEGs are decoded at the
    smallest scale that still covers `work_side`."""
    what = describe_upload(upload, name)
    if isinstance(upload, Image.Image):
        image = upload
    else:
        if isinstance(upload, (bytes, bytearray)):
            if not upload:
                raise UserError(f"could not read {what} as an image: it is empty")
            source: io.BytesIO | Path = io.BytesIO(upload)
        else:
            source = Path(upload)
            if not source.is_file():
                raise UserError(f"could not read {what} as an image: no such file")
            if source.stat().st_size == 0:
                raise UserError(f"could not read {what} as an image: the file is empty")
        try:
            image = Image.open(source)  # reads the header only: the size is known before decoding
        except Image.DecompressionBombError:
            raise UserError(f"{what} is too large: at most {max_pixels // 1_000_000} megapixels, please") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise UserError(f"could not read {what} as an image (is it a PNG, JPEG, WebP, ...?)") from None
    width, height = image.size
    if width * height > max_pixels:
        raise UserError(
            f"{what} is too large ({width}x{height}, {width * height / 1e6:.0f} megapixels): "
            f"at most {max_pixels // 1_000_000} megapixels, please"
        )
    if width < 1 or height < 1:
        raise UserError(f"could not read {what} as an image: it has no pixels")
    if image.format == "JPEG":
        image.draft(image.mode, (work_side, work_side))  # decode big JPEGs at a reduced scale
    try:
        image.load()
        return ImageOps.exif_transpose(image) or image
    except (OSError, ValueError, SyntaxError, EOFError) as err:  # truncated or corrupt pixel data
        raise UserError(f"could not read {what} as an image ({err.__class__.__name__}: corrupt data)") from None
