"""Model families, one module each. Importing this package registers every family in MODELS.

The classic collection (GAN, CGAN, ACGAN, infoGAN, WGAN, WGAN-GP, DRAGAN,
LSGAN, BEGAN, EBGAN) shares the networks of `core.models.gan`; DCGAN,
COCO-GAN, Progressive GAN, the diffusion baseline (DDPM), the translators
(pix2pix and its L1-only twin, CycleGAN, StarGAN, MUNIT, Fader networks) and
the classifiers have their own.
"""

from core.models import (  # noqa: F401  (imported to register)
    acgan,
    began,
    cgan,
    classifier,
    cocogan,
    cyclegan,
    dcgan,
    ddpm,
    dragan,
    ebgan,
    fader,
    gan,
    infogan,
    lsgan,
    munit,
    pix2pix,
    progan,
    stargan,
    wgan,
    wgan_gp,
)
from core.models.base import MODELS, ModelFamily
from core.models.classifier import Classifier, ClassifierConfig
from core.models.cocogan import CocoGANConfig, CocoGANDiscriminator, CocoGANGenerator
from core.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from core.models.gan import AutoencoderGANConfig, GANConfig
from core.models.infogan import InfoGANConfig

# The classic collection, in the order of its tables and Spaces.
COLLECTION = ("gan", "cgan", "acgan", "infogan", "wgan", "wgan-gp", "dragan", "lsgan", "began", "ebgan")

__all__ = [
    "COLLECTION", "MODELS", "AutoencoderGANConfig", "Classifier", "ClassifierConfig", "CocoGANConfig",
    "CocoGANDiscriminator", "CocoGANGenerator", "DCGANConfig", "DCGANDiscriminator", "DCGANGenerator", "GANConfig",
    "InfoGANConfig", "ModelFamily",
]
