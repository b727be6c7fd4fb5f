"""Datasets: importing this package registers "fashion-mnist" and "clothing"."""

from core.data import clothing, fashion_mnist  # noqa: F401  (imported to register)
from core.data.base import DATASETS, DatasetSpec, ImageData, load_dataset

__all__ = ["DATASETS", "DatasetSpec", "ImageData", "load_dataset"]
