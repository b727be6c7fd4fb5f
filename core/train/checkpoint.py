"""Full training state on disk without pickle: tensors in safetensors, structure in JSON.

`save_state` flattens any nest of dicts, lists, tuples, tensors and plain
scalars (optimizer states, RNG states, step counters) into one
`state.safetensors` plus one `state.json`, written to a temporary folder and
swapped in atomically, so a crash mid-write never leaves a torn checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

TENSORS_FILE = "state.safetensors"
STRUCTURE_FILE = "state.json"


def flatten(obj: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split `obj` into a JSON-able skeleton and a flat {key: tensor} dict."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, torch.Tensor):
            key = f"t{len(tensors)}"
            # safetensors refuses shared or non-contiguous storage
            tensors[key] = node.detach().cpu().contiguous().clone()
            return {"__tensor__": key}
        if isinstance(node, dict):
            # keep key types: optimizer states are keyed by int
            return {"__dict__": [[k, walk(v)] for k, v in node.items()]}
        if isinstance(node, tuple):
            return {"__tuple__": [walk(v) for v in node]}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise TypeError(f"cannot checkpoint a {type(node).__name__}")

    return walk(obj), tensors


def unflatten(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `flatten`."""
    if isinstance(skeleton, list):
        return [unflatten(v, tensors) for v in skeleton]
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__tuple__" in skeleton:
            return tuple(unflatten(v, tensors) for v in skeleton["__tuple__"])
        return {k: unflatten(v, tensors) for k, v in skeleton["__dict__"]}
    return skeleton


def save_state(state: dict[str, Any], folder: Path) -> None:
    """Atomically write `state` to `folder` (replacing what was there)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    skeleton, tensors = flatten(state)
    save_file(tensors, str(tmp / TENSORS_FILE))
    (tmp / STRUCTURE_FILE).write_text(json.dumps(skeleton))
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        # A crash after the last swap and before its clean-up leaves a stale .old: the current folder is
        # complete, so the stale copy goes (os.replace cannot rename onto a non-empty folder).
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def load_state(folder: Path) -> dict[str, Any] | None:
    """The state saved in `folder`, or None when there is none.

    Falls back to the previous checkpoint if a crash hit between the two renames.
    """
    folder = Path(folder)
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / STRUCTURE_FILE).is_file() and (candidate / TENSORS_FILE).is_file():
            skeleton = json.loads((candidate / STRUCTURE_FILE).read_text())
            return unflatten(skeleton, load_file(str(candidate / TENSORS_FILE)))
    return None
