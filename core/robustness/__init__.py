"""Adversarial robustness of classifiers: L-inf attacks and robust-accuracy curves.

Classifiers map images `[B, C, H, W]` in [0, 1] to logits `[B, K]`; attacks work in that pixel space.
"""

from core.robustness.attacks import ATTACKS, FGSM, PGD, Attack, RandomNoise, foreground_mask
from core.robustness.evaluate import CurvePoint, accuracy_curve, clean_correct

__all__ = ["ATTACKS", "FGSM", "PGD", "Attack", "CurvePoint", "RandomNoise", "accuracy_curve", "clean_correct", "foreground_mask"]
