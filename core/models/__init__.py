"""Model families. Importing this package registers every family in MODELS."""

from core.models import dcgan
from core.models.base import MODELS, GANFamily
from core.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator

__all__ = ["MODELS", "DCGANConfig", "DCGANDiscriminator", "DCGANGenerator", "GANFamily", "dcgan"]
