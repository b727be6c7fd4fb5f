"""Training objectives, one module per training step. Importing this package registers them all.

    image-gan       GAN, CGAN, WGAN, WGAN-GP, DRAGAN, LSGAN, DCGAN: any loss and penalty of core.losses
    acgan           ACGAN: the GAN game plus an auxiliary classifier
    infogan         infoGAN: the GAN game plus mutual information of the latent codes
    began           BEGAN: autoencoder energies in equilibrium (k_t)
    ebgan           EBGAN: autoencoder energy with a margin and the pull-away term
    cocogan         COCO-GAN: micro patches by coordinate, macro-patch critic, the curriculum
    progan          Progressive GAN: WGAN-GP with drift while G and D grow from 4x4, in images shown
    classification  classifiers, optionally adversarially trained
"""

from core.objectives import (  # noqa: F401  (imported to register)
    acgan,
    began,
    classification,
    cocogan,
    ebgan,
    image_gan,
    infogan,
    progan,
)
from core.objectives.base import (
    OBJECTIVES,
    Batch,
    Logs,
    NoOptions,
    Objective,
    Phase,
    make_options,
    options_dict,
    register_objective,
    unwrap,
)

__all__ = [
    "OBJECTIVES", "Batch", "Logs", "NoOptions", "Objective", "Phase", "make_options", "options_dict",
    "register_objective", "unwrap",
]
