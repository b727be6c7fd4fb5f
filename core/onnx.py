"""ONNX export of every generator, translator and classifier, and an onnxruntime backend for the pipelines.

    python -m core export-onnx dcgan-fashion-mnist     # pretrained/dcgan-fashion-mnist/model.onnx + onnx.json
    pipe = GeneratorPipeline.from_pretrained("dcgan-fashion-mnist", backend="onnx")  # or BACKEND=onnx

`export_onnx` traces a model's network in eval mode (dropout off, batch norm on its running statistics) into
model.onnx with a dynamic batch axis, then measures it against PyTorch through the same pipelines users call,
at batch 1 and 64, and refuses to keep a graph that differs by more than one grey level on uint8 images
(classifiers: a different argmax, or probabilities more than 1e-4 apart). onnx.json beside it records the opset,
the named inputs and outputs and those parity figures; the model card renders them.

What the graph computes is what the family declares, never guessed from the network:

    generator   z [B, z_dim] (+ labels [B] when it takes labels) (+ codes [B, code_dim]: infoGAN) -> images
                [B, C, S, S] in [-1, 1], S the size it draws now (ProGAN: the stage it reached). COCO-GAN: whole
                images only; its parts, beyond-boundary and patch-guided generation stay on the torch backend.
    classifier  images [B, C, S, S] in [0, 1] -> logits [B, classes], features [B, feature_dim]
    translator  by its data mode: paired images -> translated; domains (StarGAN) images, target [B] ->
                translated; attributes (Fader) images, code [B, code_dim] -> translated; unpaired (CycleGAN,
                MUNIT) images, to_b (a flag, no batch axis) (+ style [B, style_dim]) -> translated, only the
                chosen direction run (an ONNX If)

A family whose network none of these fits (a diffusion model's iterative sampler) declares its own graph and
runtime (`ModelFamily.onnx_export`); any other is a one-line UserError. The runtime (`OnnxNetwork` and its kinds) is an
nn.Module without parameters that wraps an `onnxruntime.InferenceSession` (CPU execution provider, as many
threads as torch uses) behind the calls and attributes the pipelines read, so `GeneratorPipeline`,
`ClassifierPipeline` and `TranslatorPipeline` serve it as they serve the torch network.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from core.errors import UserError
from core.files import atomic_path, write_text
from core.models.base import LatentGenerator

if TYPE_CHECKING:
    from core.models.base import ModelFamily
# core.hub and core.inference are imported where they are used.

ONNX_FILE = "model.onnx"
RECORD_FILE = "onnx.json"
OPSET = 17  # InstanceNormalization, GridSample (16) and LayerNormalization (17); onnxruntime 1.x runs it everywhere
BACKENDS = ("torch", "onnx")
BACKEND_VARIABLE = "BACKEND"
BATCH_AXIS = "batch"
EXPORT_BATCH = 2  # the batch it is traced at; not 1, so nothing gets specialised to a single image
PARITY_BATCHES = (1, 64)
MAX_GREY_LEVELS = 1  # uint8 images may differ by one level where a value sits on a rounding boundary
MAX_PROBABILITY_DIFFERENCE = 1e-4
# What a generator graph knows how to feed besides z (ModelFamily.accepts); "parts" exports whole images only.
GENERATOR_INPUTS = frozenset({"labels", "codes", "parts"})
TORCH_ONLY_PARTS = ("parts, beyond-boundary and patch-guided generation run on the torch backend only "
                    "(model.onnx draws whole images): load the model with backend='torch' (BACKEND=torch)")
DTYPES = {"float32": (torch.float32, np.float32), "int64": (torch.int64, np.int64), "bool": (torch.bool, np.bool_)}
ORT_TYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(bool)": "bool"}


def resolve_backend(backend: str | None = None) -> str:
    """`backend`, else `$BACKEND`, else "torch"; anything but torch or onnx is a one-line UserError."""
    name = backend if backend is not None else os.environ.get(BACKEND_VARIABLE, "")
    name = str(name).strip().lower() or "torch"
    if name not in BACKENDS:
        where = "" if backend is not None else f" (from ${BACKEND_VARIABLE})"
        raise UserError(f"unknown backend {name!r}{where}: use torch or onnx (onnx needs model.onnx: "
                        "python -m core export-onnx MODEL)")
    return name


# ---------------------------------------------------------------------- what a graph computes


@dataclass(frozen=True)
class Port:
    """An input of model.onnx: its name, its shape after the batch axis, its element type."""

    name: str
    shape: tuple[int, ...] = ()  # () for one value per image (labels, domain ids)
    dtype: str = "float32"  # float32 | int64 | bool
    batched: bool = True  # False: one value for the whole call (an unpaired translator's direction flag)

    def example(self) -> Tensor:
        """A value to trace with: zeros (valid class ids, domain ids and codes), EXPORT_BATCH of them."""
        shape = (EXPORT_BATCH, *self.shape) if self.batched else self.shape
        return torch.zeros(shape, dtype=DTYPES[self.dtype][0])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "shape": [BATCH_AXIS, *self.shape] if self.batched else list(self.shape),
                "dtype": self.dtype}


@dataclass(frozen=True)
class Graph:
    """What model.onnx computes for one network: `module(*inputs)` -> `outputs`, traced once; or, with `switch`
    (a boolean input without a batch axis), `module` when it is true and `otherwise` when it is false, the two
    traced apart and joined by an ONNX If so that only the chosen one runs."""

    inputs: tuple[Port, ...]
    outputs: tuple[str, ...]
    module: nn.Module
    switch: str = ""
    otherwise: nn.Module | None = None

    @property
    def traced_inputs(self) -> tuple[Port, ...]:
        return tuple(port for port in self.inputs if port.name != self.switch)


class GeneratorGraph(nn.Module):
    """z (+ labels) (+ codes) -> images, the network called as GeneratorPipeline calls it."""

    def __init__(self, network: nn.Module, labels: bool, codes: bool):
        super().__init__()
        self.network, self.labels, self.codes = network, labels, codes

    def forward(self, z: Tensor, *extra: Tensor) -> Tensor:
        labels = extra[0] if self.labels else None
        if self.codes:
            return self.network(z, labels, codes=extra[-1])
        return self.network(z, labels)


class ClassifierGraph(nn.Module):
    """images -> (logits, features): both of ClassifierPipeline's calls in one graph (the shared trunk is merged by
    onnxruntime's common-subexpression pass)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.network(images), self.network.features(images)


class TranslateGraph(nn.Module):
    """images (+ target ids) -> translated, through the translator's `translate` (paired, domains)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: Tensor, target: Tensor | None = None) -> Tensor:
        return self.network.translate(images, target)


class EditGraph(nn.Module):
    """images, attribute code -> decoded images: a Fader network's forward, which its pipeline's edits call."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: Tensor, code: Tensor) -> Tensor:
        return self.network(images, code)


class DirectionGraph(nn.Module):
    """images (+ styles) -> the whole batch translated to domain `to` (unpaired: 1 is B, 0 is A).

    Traced through `translate` with every target equal, so the trace takes that direction's branch alone."""

    def __init__(self, network: nn.Module, to: int):
        super().__init__()
        self.network, self.to = network, to

    def forward(self, images: Tensor, style: Tensor | None = None) -> Tensor:
        target = torch.full((images.shape[0],), self.to, dtype=torch.long)
        return self.network.translate(images, target, style)


def generator_graph(network: nn.Module, family: ModelFamily) -> Graph:
    config = network.config
    labels = "labels" in family.accepts and config.num_classes > 0
    code_dim = config.code_dim if "codes" in family.accepts else 0
    inputs = [Port("z", (config.z_dim,))]
    if labels:
        inputs.append(Port("labels", (), "int64"))
    if code_dim:
        inputs.append(Port("codes", (code_dim,)))
    return Graph(tuple(inputs), ("images",), GeneratorGraph(network, labels, code_dim > 0))


def classifier_graph(network: nn.Module, family: ModelFamily) -> Graph:
    config = network.config
    images = Port("images", (config.channels, config.image_size, config.image_size))
    return Graph((images,), ("logits", "features"), ClassifierGraph(network))


def translator_graph(network: nn.Module, family: ModelFamily) -> Graph:
    """By the translator's data mode: the inputs TranslatorPipeline gives it (see the module docstring)."""
    config = network.config
    images = Port("images", (config.in_channels, config.image_size, config.image_size))
    outputs = ("translated",)
    if config.mode == "paired":
        return Graph((images,), outputs, TranslateGraph(network))
    if config.mode == "domains":
        return Graph((images, Port("target", (), "int64")), outputs, TranslateGraph(network))
    if config.mode == "attributes":
        return Graph((images, Port("code", (config.code_dim,))), outputs, EditGraph(network))
    if config.mode == "unpaired":
        styles = (Port("style", (network.style_dim,)),) if network.style_dim else ()
        return Graph((images, Port("to_b", (), "bool", batched=False), *styles), outputs,
                     DirectionGraph(network, 1), switch="to_b", otherwise=DirectionGraph(network, 0))
    raise UserError(f"{family.name}: no ONNX graph for translators of data mode {config.mode!r}")


# ---------------------------------------------------------------------- the runtime


class OnnxNetwork(nn.Module):
    """A model.onnx behind the interface its pipeline calls: no parameters, onnxruntime on the CPU.

    `family` and `config` are what the torch network has (the pipelines read both); inputs and outputs are
    tensors on the device of the first input, moved through the host.
    """

    def __init__(self, session: Any, family: ModelFamily, config: Any, graph: Graph):
        super().__init__()
        self.session = session
        self.family = family.name  # what core.inference.network_family reads
        self.config = config
        self.ports = {port.name: port for port in graph.inputs}
        self.output_names = graph.outputs
        self.output_shapes = {out.name: tuple(out.shape) for out in session.get_outputs()}

    def run(self, **feeds: Tensor | np.ndarray | bool) -> list[Tensor]:
        """The graph's outputs (in `output_names` order) for its inputs by name."""
        device = next((v.device for v in feeds.values() if isinstance(v, Tensor)), torch.device("cpu"))
        arrays = {}
        for name, value in feeds.items():
            dtype = DTYPES[self.ports[name].dtype][1]
            array = value.detach().cpu().numpy() if isinstance(value, Tensor) else np.asarray(value)
            arrays[name] = np.ascontiguousarray(array, dtype=dtype)
        outputs = self.session.run(list(self.output_names), arrays)
        return [torch.from_numpy(out).to(device) for out in outputs]

    def extra_repr(self) -> str:
        return f"family={self.family}, inputs={list(self.ports)}, outputs={list(self.output_names)}"


class OnnxGenerator(LatentGenerator, OnnxNetwork):
    """z [B, z_dim] (+ labels [B]) (+ codes [B, code_dim]) -> images [B, C, S, S]: a generator's model.onnx."""

    @property
    def output_size(self) -> int:
        """The side of the images the graph draws (a growing ProGAN: the stage it reached when exported)."""
        return int(self.output_shapes["images"][-1])

    def forward(self, z: Tensor, labels: Tensor | None = None, codes: Tensor | None = None, extra: int = 0,
                coords: Tensor | None = None) -> Tensor:
        if extra or coords is not None:
            raise UserError(f"{self.family}: {TORCH_ONLY_PARTS}")
        feeds: dict[str, Tensor] = {"z": z}
        if "labels" in self.ports:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            feeds["labels"] = labels
        if "codes" in self.ports:
            if codes is None:
                raise ValueError(f"this generator takes latent codes [B, {self.ports['codes'].shape[0]}]: pass codes")
            feeds["codes"] = codes
        return self.run(**feeds)[0]

    def recover_latent(self, macro_patch: Tensor) -> Tensor:
        raise UserError(f"{self.family}: {TORCH_ONLY_PARTS}")


class OnnxClassifier(OnnxNetwork):
    """images [B, C, S, S] in [0, 1] -> logits [B, classes]; `features` gives the embedding [B, feature_dim]."""

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def feature_dim(self) -> int:
        return int(self.output_shapes["features"][-1])

    def forward(self, images: Tensor) -> Tensor:
        return self.run(images=images)[0]

    def features(self, images: Tensor) -> Tensor:
        return self.run(images=images)[1]


class OnnxTranslator(OnnxNetwork):
    """A translator's model.onnx behind `translate(images, target, style)` (and a Fader network's
    `forward(images, code)` and `own_values`), with the torch translators' semantics."""

    @property
    def style_dim(self) -> int:
        return self.ports["style"].shape[0] if "style" in self.ports else 0

    def forward(self, images: Tensor, code: Tensor | None = None) -> Tensor:
        if self.config.mode != "attributes":
            return self.translate(images)
        if code is None or tuple(code.shape) != (images.shape[0], self.config.code_dim):
            shape = None if code is None else tuple(code.shape)
            raise ValueError(f"code must be [{images.shape[0]}, {self.config.code_dim}], got {shape}")
        return self.run(images=images, code=code)[0]

    def translate(self, images: Tensor, target: Tensor | None = None, style: Tensor | None = None) -> Tensor:
        mode = self.config.mode
        if mode == "paired":
            return self.run(images=images)[0]
        if mode == "attributes":
            return self._set_first_attribute(images, target)
        if target is not None:
            target = torch.as_tensor(target, device=images.device).long().reshape(-1)
            if target.shape[0] != images.shape[0]:
                raise ValueError(f"got {target.shape[0]} target ids for {images.shape[0]} images")
        if mode == "domains":
            if target is None:
                raise ValueError(f"a {self.family} translator needs the target class of each image (ids [B])")
            return self.run(images=images, target=target)[0]
        return self._unpaired(images, target, style)

    def _unpaired(self, images: Tensor, target: Tensor | None, style: Tensor | None) -> Tensor:
        """Each direction on its own images only, as the torch translators do; no target: all to B."""
        n = images.shape[0]
        if self.style_dim and style is None:
            style = images.new_zeros((n, self.style_dim))  # the prior's mean, as MUNIT's translate
        target = torch.ones(n, dtype=torch.long, device=images.device) if target is None else target
        if not bool(((target == 0) | (target == 1)).all()):
            raise ValueError(f"an unpaired translator's target ids are 0 (A) or 1 (B), got {sorted(set(target.tolist()))}")
        out = None
        for to in (1, 0):
            chosen = target == to
            if not bool(chosen.any()):
                continue
            feeds: dict[str, Any] = {"images": images[chosen], "to_b": to == 1}
            if self.style_dim:
                feeds["style"] = style[chosen]
            translated = self.run(**feeds)[0]
            if bool(chosen.all()):
                return translated
            if out is None:
                out = translated.new_empty((n, *translated.shape[1:]))
            out[chosen] = translated
        return out

    def own_values(self, images: Tensor) -> dict[str, Tensor]:
        """A Fader network's attribute values read from the pixels (the colour), computed in torch as its own are."""
        from core.data.attributes import garment_colors

        return {"color": garment_colors(images, self.config.color_names)} if "color" in self.config.attributes else {}

    def _set_first_attribute(self, images: Tensor, target: Tensor | None) -> Tensor:
        """A Fader network's `translate`: the first group's value set to `target`, the others kept as read."""
        from core.models.fader import attribute_code

        if target is None:
            raise ValueError(f"a Fader network's translate needs the target {self.config.groups[0][0]} of each image")
        values = {**self.own_values(images), self.config.groups[0][0]: target.to(images.device)}
        return self(images, attribute_code(self.config, values).to(images.device))


@dataclass(frozen=True)
class OnnxExport:
    """How a family's network becomes model.onnx and what serves the file: `graph(network, family)` says what it
    computes (traced at export; built around a meta-device network when loading, to check the file against
    config.json), and `runtime` is what the pipeline gets in place of the network."""

    graph: Callable[[nn.Module, ModelFamily], Graph]
    runtime: type[OnnxNetwork]


KIND_EXPORTS = {
    "generator": OnnxExport(generator_graph, OnnxGenerator),
    "classifier": OnnxExport(classifier_graph, OnnxClassifier),
    "translator": OnnxExport(translator_graph, OnnxTranslator),
}


def export_of(family: ModelFamily) -> OnnxExport:
    """The family's own ONNX export (`ModelFamily.onnx_export`, consulted first: a network the kind's graph cannot
    trace, as a diffusion model's iterative sampler, whose denoiser step it exports instead), else its kind's; a
    family that neither fits is a UserError."""
    if family.onnx_export is not None:
        return family.onnx_export()
    unknown = sorted(set(family.accepts) - GENERATOR_INPUTS)
    if family.kind not in KIND_EXPORTS or unknown:
        why = f"they take {', '.join(unknown)}, which" if unknown else f"they are {family.kind}s, which"
        raise UserError(f"{family.name} models cannot be exported to ONNX: {why} no graph here knows how to feed; "
                        "the family must declare its own export (ModelFamily.onnx_export)")
    return KIND_EXPORTS[family.kind]


# ---------------------------------------------------------------------- loading


def open_session(path: Path) -> Any:
    """An onnxruntime session for `path` on the CPU execution provider, with as many threads as torch uses."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError("the onnx backend needs onnxruntime (pip install onnxruntime); or use BACKEND=torch") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are about buffer reuse, not results
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime's own exception types (InvalidProtobuf, Fail, ...) derive from Exception only
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise UserError(f"{path} could not be loaded by onnxruntime ({type(err).__name__}: {reason}); re-export it: "
                        f"python -m core export-onnx {path.parent}") from None


class Declared:
    """A network built on the meta device (no memory, no weights) with the typed config it was built from: what a
    graph function reads of it when loading. The config is given, not read back, because a growing ProGAN's own
    `config` reads its stage from buffers, which a meta tensor cannot give."""

    def __init__(self, network: nn.Module, config: Any):
        self.network, self.config = network, config

    def __getattr__(self, name: str) -> Any:
        return getattr(self.network, name)


def load_onnx(folder: str | Path, family: ModelFamily, config: Any) -> OnnxNetwork:
    """The runtime for `folder`/model.onnx of a `family` model with typed `config` (config.json, already checked).

    The file's inputs must be those the config implies (names, shapes after the batch axis, types): a model.onnx
    left over from other weights or settings is a one-line UserError, as is a folder without one.
    """
    folder = Path(folder)
    path = folder / ONNX_FILE
    if not path.is_file():
        raise UserError(f"{folder} has no {ONNX_FILE} for the onnx backend: run `python -m core export-onnx {folder}` "
                        "first (or use BACKEND=torch)")
    export = export_of(family)
    with torch.device("meta"):
        graph = export.graph(Declared(family.exported_class(config), config), family)
    session = open_session(path)
    check_file(session, graph, path)
    return export.runtime(session, family, config, graph)


def check_file(session: Any, graph: Graph, path: Path) -> None:
    """`session`'s inputs and outputs are `graph`'s; else a UserError saying to re-export."""
    found = {i.name: (ORT_TYPES.get(i.type, i.type), tuple(i.shape)) for i in session.get_inputs()}
    expected = {p.name: (p.dtype, (BATCH_AXIS, *p.shape) if p.batched else p.shape) for p in graph.inputs}
    problem = ""
    if set(found) != set(expected):
        problem = f"its inputs are {sorted(found)}, the config's {sorted(expected)}"
    else:
        for name, (dtype, shape) in expected.items():
            if found[name][0] != dtype or len(found[name][1]) != len(shape) or found[name][1][1:] != shape[1:]:
                problem = f"input {name} is {found[name][0]} {dims(found[name][1])}, the config's {dtype} {dims(shape)}"
                break
    outputs = {o.name for o in session.get_outputs()}
    if not problem and not set(graph.outputs) <= outputs:
        problem = f"its outputs are {sorted(outputs)}, not {list(graph.outputs)}"
    if problem:
        raise UserError(f"{path} does not match {path.parent / 'config.json'} ({problem}): re-export it with "
                        f"python -m core export-onnx {path.parent}")


def dims(shape: tuple) -> str:
    """A shape as the cards write it: [batch, 3, 64, 64]."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


# ---------------------------------------------------------------------- exporting


def to_onnx(graph: Graph, opset: int = OPSET) -> bytes:
    """The serialised model.onnx of `graph`, with a dynamic batch axis on every batched input and output."""
    import onnx

    if not graph.switch:
        return trace(graph.module, graph.inputs, graph.outputs, opset).SerializeToString()
    chosen = trace(graph.module, graph.traced_inputs, graph.outputs, opset)
    other = trace(graph.otherwise, graph.traced_inputs, graph.outputs, opset)
    model = switched(graph, chosen, other)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def trace(module: nn.Module, inputs: tuple[Port, ...], outputs: tuple[str, ...], opset: int):
    """`module` traced in eval mode by torch's TorchScript exporter: fast (a tenth of a second for a small net)
    and, with `dynamic_axes`, free in the batch size as long as the network reads it from shapes (not len())."""
    import onnx

    module.eval()  # and left so: the exporter restores a module's mode on exit, which would put it in training
    buffer = io.BytesIO()
    examples = tuple(port.example() for port in inputs)
    dynamic = {port.name: {0: BATCH_AXIS} for port in inputs if port.batched} | {name: {0: BATCH_AXIS} for name in outputs}
    with warnings.catch_warnings():
        # the tracer's notes on shape checks that it freezes (they hold for any batch) and the exporter's deprecation
        warnings.simplefilter("ignore")
        torch.onnx.export(module, examples, buffer, dynamo=False, input_names=[port.name for port in inputs],
                          output_names=list(outputs), dynamic_axes=dynamic, opset_version=opset,
                          do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
        with torch.no_grad():
            results = module(*examples)
    model = onnx.load_from_string(buffer.getvalue())
    # Shape inference loses the sizes a reshape computes from the batch (COCO-GAN's merge of patches): the
    # outputs' other axes are what the trace gave, so the file says them (the runtime reads an image's size there).
    for output, result in zip(model.graph.output, results if isinstance(results, tuple) else (results,), strict=True):
        for dim, size in zip(list(output.type.tensor_type.shape.dim)[1:], result.shape[1:], strict=True):
            dim.dim_value = size
    return model


def switched(graph: Graph, chosen, other):
    """One model whose If node runs `chosen` when the switch input is true and `other` when it is false."""
    from onnx import TensorProto, compose, helper

    branches = []
    for prefix, model in (("when_true/", chosen), ("when_false/", other)):
        # every name but the shared inputs gets the branch's prefix, so the two bodies never collide
        body = compose.add_prefix_graph(model.graph, prefix, rename_inputs=False)
        branches.append(helper.make_graph(list(body.node), prefix.rstrip("/"), [], list(body.output),
                                          list(body.initializer), value_info=list(body.value_info)))
    fed = {value.name: value for value in chosen.graph.input}
    inputs = [helper.make_tensor_value_info(port.name, TensorProto.BOOL, []) if port.name == graph.switch
              else fed[port.name] for port in graph.inputs]
    outputs = list(chosen.graph.output)
    node = helper.make_node("If", [graph.switch], [out.name for out in outputs], then_branch=branches[0],
                            else_branch=branches[1])
    main = helper.make_graph([node], "switched", inputs, outputs)
    return helper.make_model(main, opset_imports=list(chosen.opset_import), ir_version=chosen.ir_version,
                             producer_name=chosen.producer_name, producer_version=chosen.producer_version)


def export_onnx(source: str | Path, network: nn.Module | None = None, opset: int = OPSET) -> dict[str, Any]:
    """Write model.onnx and onnx.json into the model folder `source` (a folder, or a name in pretrained/) for its
    network, or for `network` (a loaded or freshly built one, left in eval mode without gradients, as a pipeline
    leaves it); returns the record.

    The graph is kept only if it matches PyTorch at every batch of PARITY_BATCHES through the pipelines (see the
    module docstring); otherwise nothing is written and the figures are a UserError.
    """
    from core.inference import load_network, network_family

    folder = model_folder(source)
    if network is None:
        from core.hub import family_of, read_config

        network = load_network(folder, family_of(read_config(folder), folder).kind)
    family = network_family(network)
    export = export_of(family)
    network.eval().requires_grad_(False)
    graph = export.graph(network, family)
    data = to_onnx(graph, opset)
    with atomic_path(folder / ONNX_FILE) as tmp:
        tmp.write_bytes(data)
        session = open_session(tmp)
        served = export.runtime(session, family, network.config, graph)
        parity = measure_parity(family.kind, network, served)
        failed = [line for line in parity if not parity_holds(line)]
        if failed:
            raise UserError(f"{folder.name}: model.onnx differs from PyTorch ({describe_parity(failed)}), more than "
                            f"{MAX_GREY_LEVELS} grey level (classifiers: the same class, probabilities within "
                            f"{MAX_PROBABILITY_DIFFERENCE:g}); nothing written")
    import onnxruntime

    record = {
        "file": ONNX_FILE,
        "opset": opset,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "inputs": [port.describe() for port in graph.inputs],
        "outputs": [{"name": out.name, "shape": list(out.shape), "dtype": ORT_TYPES.get(out.type, out.type)}
                    for out in session.get_outputs()],
        "parity": parity,
        "torch_only": TORCH_ONLY_PARTS if "parts" in family.accepts else "",
        "exporter": f"torch.onnx (TorchScript exporter), torch {torch.__version__}",
        "onnxruntime": onnxruntime.__version__,
    }
    write_text(folder / RECORD_FILE, json.dumps(record, indent=2) + "\n")
    return record


def model_folder(source: str | Path) -> Path:
    """The local model folder `source` names: a folder, or a name in pretrained/ (export writes beside the weights,
    so a Hub download, a cache, is no place for it); else a UserError."""
    from core.paths import PRETRAINED_DIR

    folder = Path(source).expanduser()
    if not folder.is_dir() and (PRETRAINED_DIR / str(source)).is_dir():
        folder = PRETRAINED_DIR / str(source)
    if not (folder / "config.json").is_file():
        raise UserError(f"model {str(source)!r} not found: give an exported model's folder or a name in {PRETRAINED_DIR}")
    return folder


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """A model folder's onnx.json (what its export measured), or None when it has none; a damaged one is a UserError."""
    path = Path(folder) / RECORD_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err}); re-export: python -m core export-onnx {Path(folder)}") from None
    if not isinstance(record, dict) or not isinstance(record.get("parity"), list):
        raise UserError(f"{path} is not an ONNX export record; re-export: python -m core export-onnx {Path(folder)}")
    return record


# ---------------------------------------------------------------------- parity


def measure_parity(kind: str, network: nn.Module, served: OnnxNetwork) -> list[dict[str, Any]]:
    """PyTorch against onnxruntime through the pipeline of `kind`, one line per batch of PARITY_BATCHES: generators
    sample (seed 0, classes cycled), translators translate seeded uint8 photos (targets cycled, MUNIT's styles
    from seed 0), classifiers classify seeded uint8 images."""
    from core.inference import ClassifierPipeline, GeneratorPipeline, TranslatorPipeline

    pipelines = {"generator": GeneratorPipeline, "classifier": ClassifierPipeline, "translator": TranslatorPipeline}
    torch_pipe, onnx_pipe = (pipelines[kind](net, device="cpu") for net in (network, served))
    lines = []
    for batch in PARITY_BATCHES:
        rng = np.random.default_rng(batch)
        if kind == "generator":
            ours, theirs = torch_pipe.sample(batch, seed=0), onnx_pipe.sample(batch, seed=0)
        elif kind == "translator":
            photos = rng.integers(0, 256, (batch, torch_pipe.image_size, torch_pipe.image_size, 3), dtype=np.uint8)
            targets = [torch_pipe.targets[i % len(torch_pipe.targets)] for i in range(batch)] if torch_pipe.targets else None
            ours, theirs = (pipe.translate(photos, target=targets, seed=0) for pipe in (torch_pipe, onnx_pipe))
        else:
            shape = (batch, torch_pipe.image_size, torch_pipe.image_size, torch_pipe.channels)
            images = rng.integers(0, 256, shape, dtype=np.uint8)
            ours, theirs = torch_pipe.predict_proba(images), onnx_pipe.predict_proba(images)
            lines.append({"batch": batch, "argmax_agreement": float((ours.argmax(1) == theirs.argmax(1)).mean()),
                          "max_probability_difference": float(np.abs(ours - theirs).max())})
            continue
        difference = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
        lines.append({"batch": batch, "max_grey_level_difference": int(difference.max()),
                      "values_differing": float((difference > 0).mean())})
    return lines


def parity_holds(line: dict[str, Any]) -> bool:
    if "argmax_agreement" in line:
        return line["argmax_agreement"] == 1.0 and line["max_probability_difference"] <= MAX_PROBABILITY_DIFFERENCE
    return line["max_grey_level_difference"] <= MAX_GREY_LEVELS


def describe_parity(lines: list[dict[str, Any]]) -> str:
    """'batch 1: max 0 grey levels; batch 64: max 1 grey level (0.02 % of values)' and the classifiers' equivalent."""
    parts = []
    for line in lines:
        if "argmax_agreement" in line:
            parts.append(f"batch {line['batch']}: argmax agreement {100 * line['argmax_agreement']:.0f} %, "
                         f"max probability difference {line['max_probability_difference']:.1e}")
        else:
            levels = line["max_grey_level_difference"]
            share = f" ({100 * line['values_differing']:.2g} % of values)" if levels else ""
            parts.append(f"batch {line['batch']}: max {levels} grey level{'' if levels == 1 else 's'}{share}")
    return "; ".join(parts)
