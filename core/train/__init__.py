"""The one trainer, its configs and checkpoints."""

from core.train.config import PRESETS, RECIPES, TrainConfig, resolve_config
from core.train.trainer import Trainer, TrainingInterrupted, TrainResult, train

__all__ = ["PRESETS", "RECIPES", "TrainConfig", "TrainResult", "Trainer", "TrainingInterrupted", "resolve_config", "train"]
