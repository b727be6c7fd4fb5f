"""Fader networks (Lample et al. 2017): reconstruction, and a latent that a discriminator cannot read attributes from.

With x an image, y its attribute values (one id per group: class, colour), E the encoder, D the decoder and C the
latent discriminator (one softmax per group):

    L_C = sum over groups of CE(C(E(x)), y)                                  (C learns to read y from the latent)
    L_E,D = rec_weight * |D(E(x), y) - x|^2 + lambda_t * sum over groups of CE(C(E(x)), y')

where y' is, per image and group, a value drawn uniformly among the *other* values (the paper's flip: the
encoder is pushed to make the latent say a wrong value, not merely an uncertain one). lambda_t ramps linearly
from 0 to `latent_weight` over the first `latent_ramp` steps, as in the paper (it ramps 0 to 1e-4 over 500k
steps; this suite's runs are thousands of steps, so both are set per recipe). The draws use the global torch RNG
of the batch's device, which the checkpoint keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.models.fader import FaderConfig, attribute_code, split_logits
from core.objectives.base import (
    PREVIEW_COLUMNS,
    Batch,
    Logs,
    Objective,
    Phase,
    check_weight,
    detached,
    preview_rows,
    register_objective,
    unwrap,
)
from core.objectives.stargan import other_classes

PREVIEW_COLORS = ("red", "blue", "white")  # colour edits shown in the sample grid, when they are in the palette


@dataclass(frozen=True)
class FaderOptions:
    rec_weight: float = 1.0  # the reconstruction's mean squared error
    latent_weight: float = 1e-3  # lambda: the encoder's term against the latent discriminator, after the ramp
    latent_ramp: int = 1000  # steps over which lambda grows from 0 (0: the full weight from the start)

    def __post_init__(self) -> None:
        check_weight(self.rec_weight, "rec_weight")
        check_weight(self.latent_weight, "latent_weight")
        if isinstance(self.latent_ramp, bool) or not isinstance(self.latent_ramp, int) or self.latent_ramp < 0:
            raise ValueError(f"latent_ramp must be a whole number of steps >= 0, got {self.latent_ramp!r}")


def latent_weight(options: FaderOptions, step: int) -> float:
    """lambda at `step`: linear from 0 to latent_weight over latent_ramp steps, then constant."""
    if options.latent_ramp == 0:
        return options.latent_weight
    return options.latent_weight * min(1.0, step / options.latent_ramp)


def attribute_values(batch: Batch, config: FaderConfig) -> dict[str, Tensor]:
    """Each group's ids [B] from the batch: the class is its "labels", the colour its "colors"."""
    fields = {"class": "labels", "color": "colors"}
    return {name: batch[fields[name]] for name, _ in config.groups}


def flipped(values: dict[str, Tensor], config: FaderConfig) -> dict[str, Tensor]:
    """Per image and group, a value drawn uniformly among the other values of that group."""
    sizes = {name: len(names) for name, names in config.groups}
    return {name: other_classes(ids, sizes[name]) for name, ids in values.items()}


def group_losses(logits: Tensor, values: dict[str, Tensor], config: FaderConfig) -> tuple[Tensor, dict[str, Tensor]]:
    """The summed cross-entropy of each group's logits against `values`, and each group's accuracy (detached)."""
    total, accuracy = logits.new_zeros(()), {}
    for name, part in split_logits(config, logits.float()).items():
        total = total + F.cross_entropy(part, values[name])
        accuracy[name] = (part.argmax(1) == values[name]).float().mean().detach()
    return total, accuracy


@register_objective("fader")
class FaderObjective(Objective):
    Options = FaderOptions
    phases = (Phase("D", ("latent_discriminator",)), Phase("G", ("translator",)))

    def __init__(self, networks: dict[str, nn.Module], config) -> None:
        super().__init__(networks, config)
        self.model_config: FaderConfig = unwrap(networks["translator"]).config
        self.step = 0

    def set_step(self, step: int) -> None:
        self.step = step

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        images = batch["images"]
        config = self.model_config
        translator, discriminator = self.networks["translator"], self.networks["latent_discriminator"]
        values = attribute_values(batch, config)
        if phase == "D":
            with torch.no_grad():
                latent = unwrap(translator).encode(images)
            loss, accuracy = group_losses(discriminator(latent), values, config)
            return loss, {"loss_d": detached(loss), **{f"d_acc_{name}": acc for name, acc in accuracy.items()}}
        reconstruction, latent = translator(images, attribute_code(config, values), with_latent=True)
        rec = F.mse_loss(reconstruction.float(), images.float())
        fooled, accuracy = group_losses(discriminator(latent), flipped(values, config), config)
        weight = latent_weight(self.options, self.step)
        loss = self.options.rec_weight * rec + weight * fooled
        return loss, {"rec": detached(rec), "loss_e": detached(fooled), "lambda": weight,
                      **{f"e_fool_{name}": acc for name, acc in accuracy.items()}}

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        """The first batch's first n <= 10 images with their attribute values."""
        n = min(PREVIEW_COLUMNS, n, batch["images"].shape[0])
        values = attribute_values(batch, self.model_config)
        return {"images": batch["images"][:n].clone(), **{name: ids[:n].clone() for name, ids in values.items()}}

    def preview(self, translator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """Rows: the inputs, their reconstructions at their own values, then edits: the next class (when the class is
        an attribute) and each of PREVIEW_COLORS (when the colour is)."""
        config = self.model_config
        images = inputs["images"]
        own = {name: inputs[name] for name, _ in config.groups}
        edits = []
        names = dict(config.groups)
        if "class" in names:
            edits.append({**own, "class": (own["class"] + 1) % len(names["class"])})
        if "color" in names:
            edits += [{**own, "color": torch.full_like(own["color"], names["color"].index(c))}
                      for c in PREVIEW_COLORS if c in names["color"]]
        rows = [translator(images, attribute_code(config, values).to(images.device)) for values in [own, *edits]]
        return preview_rows(images, *rows)
