"""Cross-entropy on images in [0, 1], optionally on adversarial examples (the robustness lab's classifiers)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.errors import UserError
from core.objectives.base import Batch, Logs, Objective, Phase, detached, register_objective, unwrap


@dataclass(frozen=True)
class ClassificationOptions:
    # Attack the batch before the loss, e.g. {"attack": "pgd", "epsilon": 0.1, "steps": 7}; {} = clean training.
    adversarial_training: dict = field(default_factory=dict)
    eval_split: str = "test"  # the held-out split whose accuracy is evaluated every `sample_every` steps

    def __post_init__(self) -> None:
        if not isinstance(self.adversarial_training, dict):
            raise TypeError(f"adversarial_training must be a mapping of attack options, got {self.adversarial_training!r}")


@register_objective("classification")
class ClassificationObjective(Objective):
    """Cross-entropy, optionally on adversarial examples.

    `adversarial_training` switches on adversarial training: the batch is
    replaced by attacked images before the loss. {"attack": "pgd", "epsilon": 0.1,
    "steps": 7} is PGD-AT (Madry et al., 2018); {"attack": "fgsm", "epsilon": 0.1,
    "random_start": true} is fast FGSM-AT (Wong et al., 2020). Any other key is an
    option of the attack; "warmup_steps" ramps epsilon up linearly from 0, which
    keeps the first steps of a randomly initialised net from collapsing.
    """

    Options = ClassificationOptions
    phases = (Phase("C", ("classifier",)),)
    has_preview = False

    def __init__(self, networks: dict[str, nn.Module], config) -> None:
        super().__init__(networks, config)
        options = dict(self.options.adversarial_training)
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
            images = self.attack.perturb(unwrap(classifier), images, labels, self.current_epsilon).detach()
            logs["epsilon"] = self.current_epsilon
        logits = classifier(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(1) == labels).float().mean()
        return loss, {"loss_c": detached(loss), "train_accuracy": detached(accuracy), **logs}

    @torch.inference_mode()
    def evaluate(self, network: nn.Module) -> dict[str, float]:
        """Accuracy of `network` on the whole held-out split (`eval_split`)."""
        split = self.options.eval_split
        if self._held_out is None:
            from core.data import load_dataset

            data = load_dataset(self.config.dataset, split,
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
        return {f"{split}_accuracy": correct / len(labels), f"{split}_images": len(labels)}
