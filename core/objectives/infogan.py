"""infoGAN's step (Chen et al., 2016): the GAN game plus a mutual-information term for the codes.

With c the codes drawn from their prior (and y the class, supervised) and Q
the critic's code head:

    L_info = CE(Q_cat(G(z, y, c)), (y, c_cat)) + w_cont * ||Q_cont(G(z, y, c)) - c_cont||^2
    L_D = loss.discriminator(...) + penalty + w_info * L_info(G's images, detached)   (trains Q and the trunk)
    L_G = loss.generator(...) + w_info * L_info                                       (trains G)

L_info is a variational lower bound of I(c; G(z, c)) up to constants (a
categorical posterior, and a Gaussian one of fixed variance for the
continuous codes). Only generated images enter it: Q learns what G put into
an image. Supervised, the class head is also taught the labels of real
images (L_D += CE(Q_cat(x), y)): without that anchor G and Q agree on any
permutation of the classes (a run without it drew the requested class 5.7 %
of the time, below chance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.objectives.base import Batch, Logs, detached, register_objective
from core.objectives.image_gan import GANObjective, GANOptions


@dataclass(frozen=True)
class InfoGANOptions(GANOptions):
    info_weight: float = 1.0  # w_info: the whole mutual-information term
    continuous_weight: float = 1.0  # w_cont: the continuous codes' squared error, relative to the categorical CE

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("info_weight", "continuous_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")


@register_objective("infogan")
class InfoGANObjective(GANObjective):
    Options = InfoGANOptions

    def _inputs(self, batch: Batch) -> tuple[Tensor, Tensor | None, Tensor]:
        from core.models.infogan import sample_codes

        z = self.latents(batch)
        return z, self.labels(batch), sample_codes(self.generator_module.config, len(z), device=z.device)

    def information(self, fake: Tensor, labels: Tensor | None, codes: Tensor) -> tuple[Tensor, Logs]:
        """L_info of generated images [B, C, H, W] for what drew them (labels [B], codes [B, code_dim])."""
        config = self.generator_module.config
        _, categorical_logits, continuous = self.networks["discriminator"](fake)
        loss = fake.new_zeros(())
        logs: Logs = {}
        if config.num_classes:
            class_ce = F.cross_entropy(categorical_logits[:, : config.num_classes], labels)
            loss = loss + class_ce
            logs["info_class"] = detached(class_ce)
        if config.categorical_codes:
            target = codes[:, : config.categorical_codes].argmax(1)
            code_ce = F.cross_entropy(categorical_logits[:, config.num_classes :], target)
            loss = loss + code_ce
            logs["info_categorical"] = detached(code_ce)
        if config.continuous_codes:
            error = F.mse_loss(continuous, codes[:, config.categorical_codes :])
            loss = loss + self.options.continuous_weight * error
            logs["info_continuous"] = detached(error)
        return self.options.info_weight * loss, logs

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        discriminator = self.networks["discriminator"]
        z, labels, codes = self._inputs(batch)
        if phase == "D":
            real = batch["images"]
            with torch.no_grad():
                fake = self.networks["generator"](z, labels, codes)
            real_scores, real_logits, _ = discriminator(real)
            fake_scores = discriminator(fake)[0]
            adversarial, logs = self.critic_loss(lambda x: discriminator(x)[0], real, fake, real_scores, fake_scores)
            info, info_logs = self.information(fake, labels, codes)
            loss = adversarial + info
            num_classes = self.generator_module.config.num_classes
            if num_classes:  # the class head learns the real classes, so a label means that class
                real_ce = F.cross_entropy(real_logits[:, :num_classes], batch["labels"])
                loss = loss + self.options.info_weight * real_ce
                logs["class_real"] = detached(real_ce)
            return loss, {"loss_d": detached(loss), **logs, **{f"{k}_d": v for k, v in info_logs.items()}}
        fake = self.networks["generator"](z, labels, codes)
        fake_scores = discriminator(fake)[0]
        info, info_logs = self.information(fake, labels, codes)
        loss = self.adversarial.generator_loss(fake_scores) + info
        return loss, {"loss_g": detached(loss), **info_logs}

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        """One class (supervised) or categorical value per row; the first continuous code from -1 to 1 along each row."""
        from core.models.infogan import make_codes

        config = self.generator_module.config
        rng = torch.Generator().manual_seed(seed)
        rows = config.num_classes or config.categorical_codes or 10
        columns = max(1, n // rows)
        row = torch.arange(n) * rows // n
        inputs = {"z": torch.randn(rows, config.z_dim, generator=rng)[row]}  # one z per row
        if config.num_classes:
            inputs["labels"] = row % config.num_classes
        continuous = torch.zeros(n, config.continuous_codes)
        if config.continuous_codes:
            continuous[:, 0] = torch.linspace(-1, 1, columns).repeat(n // columns + 1)[:n]
        categorical = row % config.categorical_codes if config.categorical_codes else None
        inputs["codes"] = make_codes(config, categorical, continuous)
        return inputs

    def preview(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        return generator(inputs["z"], inputs.get("labels"), inputs["codes"])

    def generator_inputs(self, n: int, seed: int) -> dict[str, Tensor]:
        from core.models.infogan import sample_codes

        inputs = super().generator_inputs(n, seed)
        inputs["codes"] = sample_codes(self.generator_module.config, n, torch.Generator().manual_seed(seed + 1))
        return inputs
