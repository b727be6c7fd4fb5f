"""Adversarial losses and training objectives.

Two small interfaces keep the trainer ignorant of loss internals:

* `AdversarialLoss` turns critic scores into a discriminator and a generator
  loss (non-saturating, hinge, WGAN-GP). It sees the critic only as a
  function of images, so labels, coordinates or auxiliary heads stay with the
  objective.
* `Objective` is a family's training step: it names its phases (which
  networks each phase updates) and returns the loss of a phase for a batch.
  The trainer calls only `phases`, `set_step`, `loss`, `preview_inputs`,
  `preview` and `evaluate`; staged curricula (COCO-GAN), growing resolution
  (Progressive GAN), paired inputs (Pix2Pix, CycleGAN) or adversarial
  examples (robust classifiers) live in their own objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.errors import UserError
from core.registry import Registry

if TYPE_CHECKING:
    from core.train.config import TrainConfig

Critic = Callable[[Tensor], Tensor]  # images [B, C, H, W] -> scores [B]
Batch = dict[str, Tensor]  # "images": [B, C, H, W] in [-1, 1], "labels": [B] int64
Logs = dict[str, float]


# --------------------------------------------------------------------------- adversarial losses


class AdversarialLoss:
    """Maps critic scores on real and generated images to the two players' losses."""

    def discriminator_loss(self, critic: Critic, real: Tensor, fake: Tensor) -> tuple[Tensor, Logs]:
        real_scores, fake_scores = critic(real), critic(fake)
        loss = self.discriminator_terms(real_scores, fake_scores)
        logs = {"d_real": real_scores.mean().item(), "d_fake": fake_scores.mean().item()}
        return loss, logs

    def discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError


ADVERSARIAL_LOSSES: Registry[type[AdversarialLoss]] = Registry("loss", AdversarialLoss)


@ADVERSARIAL_LOSSES.register("nonsaturating")
class NonSaturatingLoss(AdversarialLoss):
    """Goodfellow et al. (2014), with the generator maximising log D(G(z))."""

    def discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return F.softplus(-fake_scores).mean()


@ADVERSARIAL_LOSSES.register("hinge")
class HingeLoss(AdversarialLoss):
    """Lim & Ye (2017); Miyato et al. (2018)."""

    def discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


@ADVERSARIAL_LOSSES.register("wgan-gp")
class WassersteinGPLoss(AdversarialLoss):
    """Gulrajani et al. (2017): Wasserstein critic plus a gradient penalty on interpolates."""

    def __init__(self, gp_weight: float = 10.0):
        self.gp_weight = gp_weight

    def discriminator_loss(self, critic: Critic, real: Tensor, fake: Tensor) -> tuple[Tensor, Logs]:
        loss, logs = super().discriminator_loss(critic, real, fake)
        penalty = gradient_penalty(critic, real, fake)
        logs["gp"] = penalty.item()
        return loss + self.gp_weight * penalty, logs

    def discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """E[(||grad critic(x_hat)||_2 - 1)^2] on random interpolates x_hat of real and fake."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grads.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


# --------------------------------------------------------------------------- objectives


@dataclass(frozen=True)
class Phase:
    """One optimisation step of a training iteration: its loss updates `trains` only."""

    name: str
    trains: tuple[str, ...]


class Objective:
    """A family's training step. Subclasses set `phases` and implement `loss`.

    Built from the networks (wrapped for the device) and the run's TrainConfig,
    from which each objective reads the settings it owns.
    """

    phases: tuple[Phase, ...] = ()
    has_preview = True  # whether `preview` draws sample grids

    def __init__(self, networks: dict[str, nn.Module], config: TrainConfig):
        self.networks = networks
        self.config = config

    def set_step(self, step: int) -> None:
        """Called before each iteration; curricula and growing schedules hook in here."""

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        raise NotImplementedError

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        """Fixed inputs for the sample grids (same for the whole run)."""
        raise NotImplementedError

    def preview(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """Images [N, C, H, W] in [-1, 1] for the sample grid."""
        raise NotImplementedError

    def evaluate(self, network: nn.Module) -> Logs:
        """Held-out metrics of the exported network (e.g. test accuracy); {} when there are none."""
        return {}


def make_adversarial_loss(name: str, options: dict[str, Any]) -> AdversarialLoss:
    loss_class = ADVERSARIAL_LOSSES.get(name)
    try:
        return loss_class(**options)
    except TypeError as err:
        raise UserError(f"invalid loss_options for {name}: {err}") from None


OBJECTIVES: Registry[type[Objective]] = Registry("objective", Objective)


@OBJECTIVES.register("image-gan")
class ImageGANObjective(Objective):
    """Full-image GAN, unconditional or class-conditional (generator(z, labels) -> images)."""

    phases = (Phase("D", ("discriminator",)), Phase("G", ("generator",)))

    def __init__(self, networks: dict[str, nn.Module], config: TrainConfig):
        super().__init__(networks, config)
        self.adversarial = make_adversarial_loss(config.loss, config.loss_options)

    def _fake(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        generator = self.networks["generator"]
        real = batch["images"]
        labels = batch["labels"] if _unwrap(generator).num_classes else None
        z = torch.randn(real.shape[0], _unwrap(generator).z_dim, device=real.device)
        return generator(z, labels), labels

    def _critic(self, labels: Tensor | None) -> Critic:
        discriminator = self.networks["discriminator"]
        return lambda images: discriminator(images, labels)

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        if phase == "D":
            with torch.no_grad():
                fake, labels = self._fake(batch)
            loss, logs = self.adversarial.discriminator_loss(self._critic(labels), batch["images"], fake)
            return loss, {"loss_d": loss.item(), **logs}
        fake, labels = self._fake(batch)
        loss = self.adversarial.generator_loss(self._critic(labels)(fake))
        return loss, {"loss_g": loss.item()}

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        generator = _unwrap(self.networks["generator"])
        rng = torch.Generator().manual_seed(seed)
        inputs = {"z": torch.randn(n, generator.z_dim, generator=rng)}
        if generator.num_classes:
            # One class per row of the grid, so each row shows one garment type.
            inputs["labels"] = torch.arange(n) * generator.num_classes // n
        return inputs

    def preview(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        return generator(inputs["z"], inputs.get("labels"))


def _unwrap(module: nn.Module) -> nn.Module:
    """The model behind DistributedDataParallel / compile wrappers."""
    while hasattr(module, "module"):
        module = module.module
    return getattr(module, "_orig_mod", module)


@OBJECTIVES.register("classification")
class ClassificationObjective(Objective):
    """Cross-entropy on images in [0, 1], optionally on adversarial examples.

    `config.adversarial_training` switches on adversarial training: the batch is
    replaced by attacked images before the loss. {"attack": "pgd", "epsilon": 0.1,
    "steps": 7} is PGD-AT (Madry et al., 2018); {"attack": "fgsm", "epsilon": 0.1,
    "random_start": true} is fast FGSM-AT (Wong et al., 2020). Any other key is an
    option of the attack; "warmup_steps" ramps epsilon up linearly from 0, which
    keeps the first steps of a randomly initialised net from collapsing.
    """

    phases = (Phase("C", ("classifier",)),)
    has_preview = False

    def __init__(self, networks: dict[str, nn.Module], config: TrainConfig):
        super().__init__(networks, config)
        options = dict(config.adversarial_training)
        self.attack, self.epsilon, self.warmup_steps = None, 0.0, int(options.pop("warmup_steps", 0))
        self.current_epsilon = 0.0
        if options:
            from core.robustness import ATTACKS

            name = options.pop("attack", "pgd")
            self.epsilon = float(options.pop("epsilon", 0.1))
            if not 0 < self.epsilon <= 1:
                raise UserError(f"adversarial_training.epsilon must be in (0, 1], got {self.epsilon}")
            try:
                self.attack = ATTACKS.get(name)(**options)
            except TypeError as err:
                raise UserError(f"invalid adversarial_training options for {name}: {err}") from None
        self._held_out: tuple[Tensor, Tensor] | None = None

    def set_step(self, step: int) -> None:
        ramp = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        self.current_epsilon = self.epsilon * ramp

    def loss(self, phase: str, batch: Batch) -> tuple[Tensor, Logs]:
        classifier = self.networks["classifier"]
        images = (batch["images"] + 1) / 2  # [B, C, H, W] in [0, 1]: the classifier normalises itself
        labels = batch["labels"]
        logs: Logs = {}
        if self.attack is not None and self.current_epsilon > 0:
            # Attack the bare module: several forward passes of a DDP wrapper before one backward are not allowed.
            images = self.attack.perturb(_unwrap(classifier), images, labels, self.current_epsilon).detach()
            logs["epsilon"] = self.current_epsilon
        logits = classifier(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(1) == labels).float().mean()
        return loss, {"loss_c": loss.item(), "train_accuracy": accuracy.item(), **logs}

    @torch.inference_mode()
    def evaluate(self, network: nn.Module) -> Logs:
        """Accuracy of `network` on the whole held-out split (`config.eval_split`)."""
        if self._held_out is None:
            from core.data import load_dataset

            data = load_dataset(self.config.dataset, self.config.eval_split,
                                image_size=self.config.image_size, channels=self.config.channels or None)
            self._held_out = data.images, data.labels
        images, labels = self._held_out
        was_training = network.training
        network.eval()
        device = next(network.parameters()).device
        correct = 0
        for start in range(0, len(labels), 1000):
            x = images[start : start + 1000].to(device).float() / 255
            correct += (network(x).argmax(1).cpu() == labels[start : start + 1000]).sum().item()
        network.train(was_training)
        return {f"{self.config.eval_split}_accuracy": correct / len(labels), f"{self.config.eval_split}_images": len(labels)}


COCOGAN_WEIGHTS = {"gp_weight": 10.0, "spatial_weight": 10.0, "latent_weight": 1.0, "feature_matching_weight": 1.0}
LUCID_STAGE = {"name": "lucid", "blur": 1, "spatial": True, "feature_matching": 0.0}  # what a stage leaves unset


@OBJECTIVES.register("cocogan")
class CocoGANObjective(Objective):
    """COCO-GAN (Lin et al., 2019): micro patches by coordinate, judged as macro patches.

    Each iteration draws, per image, a macro-patch position on the micro grid.
    The real macro patch is cropped from the real image there; the fake one is
    G's micro patches at that position's micro coordinates, merged by Φ.

        L_D = L_W + λ·L_GP + α·L_S(real)       (Wasserstein critic, gradient penalty, coordinate regression)
        L_G = -L_W + α·L_S(fake) + β·L_Q + γ·L_FM

    L_S is the squared error of D's coordinate head against the macro
    coordinate; L_Q = ||Q(fake macro patch) - z||² (Q lives in the generator
    network, so it is exported and trained with G); L_FM matches the mean
    D-trunk features of real and fake patches. λ, α, β, γ are `loss_options`
    gp_weight, spatial_weight, latent_weight, feature_matching_weight.

    The cloudy-to-lucid curriculum is `config.curriculum`: stages, each until a
    fraction of the run, that set `blur` (the *real* macro patches are
    low-passed by average-pooling over blur x blur pixels and upsampling back,
    so G is first asked for cloudy, coarse structure; its own patches are never
    blurred, so D still punishes high-frequency artefacts such as seams), and
    may switch `spatial` (L_S) and `feature_matching` (a multiplier of γ) on or
    off. Without a curriculum every step is lucid: no blur, every term on.
    """

    phases = (Phase("D", ("discriminator",)), Phase("G", ("generator",)))

    def __init__(self, networks: dict[str, nn.Module], config: TrainConfig):
        super().__init__(networks, config)
        unknown = sorted(set(config.loss_options) - set(COCOGAN_WEIGHTS))
        if unknown:
            raise UserError(f"unknown COCO-GAN loss_options {unknown}; known: {sorted(COCOGAN_WEIGHTS)}")
        self.weights = {**COCOGAN_WEIGHTS, **config.loss_options}
        self.stages = [dict(LUCID_STAGE, **stage) for stage in config.curriculum] or [dict(LUCID_STAGE, until=1.0)]
        for stage in self.stages:
            unknown = sorted(set(stage) - {"name", "until", "blur", "spatial", "feature_matching"})
            if unknown or not isinstance(stage.get("until"), (int, float)) or int(stage["blur"]) < 1:
                raise UserError(f"invalid curriculum stage {stage}: needs 'until' (a fraction of the steps), blur >= 1"
                                + (f"; unknown keys {unknown}" if unknown else ""))
        self.stage = self.stages[0]

    def set_step(self, step: int) -> None:
        fraction = step / max(self.config.steps, 1)
        self.stage = next((s for s in self.stages if fraction < s["until"]), self.stages[-1])

    # ------------------------------------------------------------------ patches

    @property
    def _config(self):
        return _unwrap(self.networks["generator"]).config

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
        spatial = self.weights["spatial_weight"] if self.stage["spatial"] else 0.0
        logs: Logs = {"stage_blur": float(self.stage["blur"])}
        if phase == "D":
            with torch.no_grad():
                fake = self._fake_macro(z, micro)
            real = self._blur(self._real_macro(real_images, row, col))
            real_scores, real_coords = discriminator(real, macro)
            fake_scores, _ = discriminator(fake, macro)
            wasserstein = fake_scores.mean() - real_scores.mean()
            penalty = gradient_penalty(lambda x: discriminator(x, macro)[0], real, fake)
            spatial_loss = F.mse_loss(real_coords, macro)
            loss = wasserstein + self.weights["gp_weight"] * penalty + spatial * spatial_loss
            return loss, {**logs, "loss_d": loss.item(), "wasserstein": -wasserstein.item(), "gp": penalty.item(),
                          "spatial_d": spatial_loss.item()}
        fake = self._fake_macro(z, micro)
        fake_scores, fake_coords = discriminator(fake, macro)
        spatial_loss = F.mse_loss(fake_coords, macro)
        # Q is called on the bare module: under multi-GPU DDP its gradients would not be averaged, so
        # COCO-GAN trains on one device (which is what its memory claim is about anyway).
        latent_loss = F.mse_loss(_unwrap(self.networks["generator"]).recover_latent(fake), z)
        loss = -fake_scores.mean() + spatial * spatial_loss + self.weights["latent_weight"] * latent_loss
        logs |= {"spatial_g": spatial_loss.item(), "latent": latent_loss.item(), "feature_matching": 0.0}  # fixed keys
        matching = self.weights["feature_matching_weight"] * float(self.stage["feature_matching"])
        if matching:
            features = _unwrap(discriminator).features
            with torch.no_grad():
                real_mean = features(self._blur(self._real_macro(real_images, row, col))).mean(0)
            feature_loss = F.mse_loss(features(fake).mean(0), real_mean)
            loss = loss + matching * feature_loss
            logs["feature_matching"] = feature_loss.item()
        return loss, {**logs, "loss_g": loss.item()}

    # ------------------------------------------------------------------ samples

    def preview_inputs(self, batch: Batch, n: int, seed: int) -> dict[str, Tensor]:
        rng = torch.Generator().manual_seed(seed)
        return {"z": torch.randn(n, self._config.z_dim, generator=rng)}

    def preview(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        return generator(inputs["z"])
