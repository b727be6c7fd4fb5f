"""The one trainer, its configs and checkpoints."""

from core.train.config import PRESETS, RECIPES, TrainConfig, resolve_config
from core.train.trainer import Trainer, TrainingInterrupted, TrainResult, train

__all__ = ["PRESETS", "RECIPES", "TrainConfig", "Trainer", "TrainingInterrupted", "TrainResult", "resolve_config", "train"]
