"""COCO-GAN's step (Lin et al., 2019): micro patches by coordinate, judged as macro patches."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.objectives.base import Batch, Logs, Phase, detached, register_objective, unwrap
from core.objectives.image_gan import GANObjective, GANOptions

LUCID_STAGE = {"name": "lucid", "blur": 1, "spatial": True, "feature_matching": 0.0}  # what a stage leaves unset
STAGE_KEYS = {"name", "until", "blur", "spatial", "feature_matching"}


@dataclass(frozen=True)
class CocoGANOptions(GANOptions):
    loss: str = "wasserstein"
    penalty: str = "gradient"
    penalty_weight: float = 10.0  # lambda of the gradient penalty
    spatial_weight: float = 10.0  # alpha: D's (and G's) coordinate regression
    latent_weight: float = 1.0  # beta: Q's latent reconstruction
    feature_matching_weight: float = 1.0  # gamma, times each stage's `feature_matching`
    # cloudy to lucid: stages {"name", "until": fraction of the steps, "blur", "spatial", "feature_matching"}
    curriculum: list = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        for stage in self.curriculum:
            unknown = sorted(set(stage) - STAGE_KEYS) if isinstance(stage, dict) else []
            valid = (isinstance(stage, dict) and not unknown and isinstance(stage.get("until"), (int, float))
                     and int(stage.get("blur", 1)) >= 1)
            if not valid:
                raise ValueError(f"invalid curriculum stage {stage}: needs 'until' (a fraction of the steps), blur >= 1"
                                 + (f"; unknown keys {unknown}" if unknown else ""))


@register_objective("cocogan")
class CocoGANObjective(GANObjective):
    """COCO-GAN: micro patches by coordinate, judged as macro patches.

    Each iteration draws, per image, a macro-patch position on the micro grid.
    The real macro patch is cropped from the real image there; the fake one is
    G's micro patches at that position's micro coordinates, merged by Φ.

        L_D = L_adv(D) + λ·penalty + α·L_S(real)    (the paper: Wasserstein critic with the gradient penalty)
        L_G = L_adv(G) + α·L_S(fake) + β·L_Q + γ·L_FM

    L_S is the squared error of D's coordinate head against the macro
    coordinate; L_Q = ||Q(fake macro patch) - z||² (Q lives in the generator
    network, so it is exported and trained with G); L_FM matches the mean
    D-trunk features of real and fake patches. The loss and penalty come from
    the registries like every GAN's (`loss`, `penalty`, `penalty_weight`).

    The cloudy-to-lucid curriculum is `curriculum`: stages, each until a
    fraction of the run, that set `blur` (the *real* macro patches are
    low-passed by average-pooling over blur x blur pixels and upsampling back,
    so G is first asked for cloudy, coarse structure; its own patches are never
    blurred, so D still punishes high-frequency artefacts such as seams), and
    may switch `spatial` (L_S) and `feature_matching` (a multiplier of γ) on or
    off. Without a curriculum every step is lucid: no blur, every term on.
    """

    Options = CocoGANOptions
    # G's feature matching compares with real macro patches: its phase reads images too.
    phases = (Phase("D", ("discriminator",)), Phase("G", ("generator",)))

    def __init__(self, networks: dict[str, nn.Module], config) -> None:
        super().__init__(networks, config)
        self.stages = [dict(LUCID_STAGE, **stage) for stage in self.options.curriculum] or [dict(LUCID_STAGE, until=1.0)]
        self.stage = self.stages[0]

    def set_step(self, step: int) -> None:
        fraction = step / max(self.config.steps, 1)
        self.stage = next((s for s in self.stages if fraction < s["until"]), self.stages[-1])

    # ------------------------------------------------------------------ patches

    @property
    def _config(self):
        return self.generator_module.config

    def _positions(self, n: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Random macro positions: (row, col) [n] on the micro grid, micro coords [n, k*k, 2], macro coords [n, 2]."""
        from core.models.cocogan import macro_coordinates, macro_offsets

        offsets = macro_offsets(self._config)
        row = torch.randint(0, offsets, (n,), device=device)
        col = torch.randint(0, offsets, (n,), device=device)
        micro, macro = macro_coordinates(self._config, row, col)
        return row, col, micro, macro

    def _real_macro(self, images: Tensor, row: Tensor, col: Tensor) -> Tensor:
        """Crops [B, C, M, M] of the real images at the macro positions."""
        m, size = self._config.micro_size, self._config.macro_size
        return torch.stack([image[:, r * m : r * m + size, c * m : c * m + size]
                            for image, r, c in zip(images, row.tolist(), col.tolist())])

    def _fake_macro(self, z: Tensor, micro: Tensor) -> Tensor:
        """Φ of G's micro patches for latents z [B, z_dim] at micro coords [B, k*k, 2] -> [B, C, M, M]."""
        from core.models.cocogan import merge

        k = self._config.macro_grid
        patches = self.networks["generator"](z.repeat_interleave(k * k, dim=0), coords=micro.reshape(-1, micro.shape[-1]))
        return merge(patches, k, k)

    def _blur(self, images: Tensor) -> Tensor:
        factor = int(self.stage["blur"])
        if factor <= 1:
            return images
        return F.interpolate(F.avg_pool2d(images, factor), scale_factor=factor, mode="bilinear", align_corners=False)

    # ------------------------------------------------------------------ losses

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        real_images = batch["images"]
        n, device = real_images.shape[0], real_images.device
        row, col, micro, macro = self._positions(n, device)
        z = torch.randn(n, self._config.z_dim, device=device)
        discriminator = self.networks["discriminator"]
        options = self.options
        spatial = options.spatial_weight if self.stage["spatial"] else 0.0
        logs: Logs = {"stage_blur": float(self.stage["blur"])}
        if phase == "D":
            with torch.no_grad():
                fake = self._fake_macro(z, micro)
            real = self._blur(self._real_macro(real_images, row, col))
            real_scores, real_coords = discriminator(real, macro)
            fake_scores, _ = discriminator(fake, macro)
            adversarial, critic_logs = self.critic_loss(lambda x: discriminator(x, macro)[0], real, fake, real_scores, fake_scores)
            spatial_loss = F.mse_loss(real_coords, macro)
            loss = adversarial + spatial * spatial_loss
            return loss, {**logs, **critic_logs, "loss_d": detached(loss),
                          "wasserstein": detached(real_scores.mean() - fake_scores.mean()), "spatial_d": detached(spatial_loss)}
        fake = self._fake_macro(z, micro)
        fake_scores, fake_coords = discriminator(fake, macro)
        spatial_loss = F.mse_loss(fake_coords, macro)
        # Q is called on the bare module: under multi-GPU DDP its gradients would not be averaged, so
        # COCO-GAN trains on one device (which is what its memory claim is about anyway).
        latent_loss = F.mse_loss(self.generator_module.recover_latent(fake), z)
        loss = self.adversarial.generator_loss(fake_scores) + spatial * spatial_loss + options.latent_weight * latent_loss
        logs |= {"spatial_g": detached(spatial_loss), "latent": detached(latent_loss), "feature_matching": 0.0}  # fixed keys
        matching = options.feature_matching_weight * float(self.stage["feature_matching"])
        if matching:
            features = unwrap(discriminator).features
            with torch.no_grad():
                real_mean = features(self._blur(self._real_macro(real_images, row, col))).mean(0)
            feature_loss = F.mse_loss(features(fake).mean(0), real_mean)
            loss = loss + matching * feature_loss
            logs["feature_matching"] = detached(feature_loss)
        return loss, {**logs, "loss_g": detached(loss)}
