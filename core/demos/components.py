"""Gradio components the Spaces share (imported by the apps only: core itself never needs gradio)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import gradio as gr
from gradio import processing_utils

# Gradio's cache (GRADIO_TEMP_DIR) holds every image a Space returned: files older than an hour go, checked
# every 10 minutes, so the disk use of a busy Space stays bounded. Uploads above MAX_UPLOAD are refused by
# Gradio before they reach a handler (a 28 px classifier needs kilobytes, a photo a few MB).
DELETE_CACHE = (600, 3600)  # (how often, age in seconds)
MAX_UPLOAD = "10mb"


def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """Gradio's `processing_utils.save_pil_to_cache`, written once and atomically.

    The cache is content-addressed (a folder per hash of the encoded bytes), yet Gradio rewrites the file
    in place on every call: under load a second identical answer truncated the file while a first response
    was streaming it (a Content-Length mismatch, about 1 % of calls with 16 clients). Here a file that is
    there already holds these very bytes and is left alone; a new one is renamed into place whole.
    """
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if not path.exists():
        staged = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        staged.write_bytes(data)
        os.replace(staged, path)
    return str(path)


processing_utils.save_pil_to_cache = save_pil_to_cache  # every image a Space returns goes through it


def blocks(title: str) -> gr.Blocks:
    """The Blocks every Space is built in: its title, no analytics, the bounded cache."""
    return gr.Blocks(title=title, analytics_enabled=False, delete_cache=DELETE_CACHE)


def launch(demo: gr.Blocks) -> None:
    """Serve `demo` as every Space is served: uploads limited to MAX_UPLOAD."""
    # Offline-safe as is: no analytics (blocks), and Gradio 6's default theme serves its fonts itself.
    demo.launch(max_file_size=MAX_UPLOAD)


def whole_number_box(value: float | None = 0, **kwargs: Any) -> gr.Number:
    """A number box for whole numbers (seeds, counts, cells) that hands its handler exactly what was sent.

    `gr.Number(precision=0)` rounds 1.5 to 2 without a word and fails with Gradio's opaque "the upstream app
    has raised an exception" on text, null or NaN sent through the API. This box rounds and refuses nothing
    on the way in: the handler's `whole_number` / `parse_seed` (core.demos.common) says in one line what is
    wrong, with the same rule as the CLI. (An instance, not a subclass: Gradio writes a .pyi stub next to
    the module of every Component subclass it sees.)
    """
    kwargs.setdefault("minimum", 0)
    kwargs.pop("precision", None)
    box = gr.Number(value, precision=0, **kwargs)  # precision 0: the browser steps by whole numbers
    box.preprocess = lambda payload: payload  # type: ignore[method-assign]
    return box
