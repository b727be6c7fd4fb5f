"""Model families. Importing this package registers every family in MODELS."""

from core.models import classifier, cocogan, dcgan
from core.models.base import MODELS, ModelFamily
from core.models.classifier import Classifier, ClassifierConfig
from core.models.cocogan import CocoGANConfig, CocoGANDiscriminator, CocoGANGenerator
from core.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator

__all__ = [
    "MODELS", "Classifier", "ClassifierConfig", "CocoGANConfig", "CocoGANDiscriminator", "CocoGANGenerator",
    "DCGANConfig", "DCGANDiscriminator", "DCGANGenerator", "ModelFamily", "classifier", "cocogan", "dcgan",
]
