"""Training objectives, one module per training step. Importing this package registers them all.

    image-gan       GAN, CGAN, WGAN, WGAN-GP, DRAGAN, LSGAN, DCGAN: any loss and penalty of core.losses
    acgan           ACGAN: the GAN game plus an auxiliary classifier
    infogan         infoGAN: the GAN game plus mutual information of the latent codes
    began           BEGAN: autoencoder energies in equilibrium (k_t)
    ebgan           EBGAN: autoencoder energy with a margin and the pull-away term
    cocogan         COCO-GAN: micro patches by coordinate, macro-patch critic, the curriculum
    diffusion       DDPM: the MSE between the noise added on the training schedule and the noise predicted
    progan          Progressive GAN: WGAN-GP with drift while G and D grow from 4x4, in images shown
    classification  classifiers, optionally adversarially trained
    pix2pix         pix2pix and colorization: a conditional PatchGAN plus L1 on paired images
    l1              the L1-only U-Net baseline of every translator table
    cyclegan        CycleGAN: two PatchGAN games (least squares) plus cycle and identity L1, D on an image pool
    stargan         StarGAN: WGAN-GP with a domain-classifying critic and the cycle back, the classes as domains
    munit           MUNIT: multi-scale least-squares games in random styles plus image, style and content L1
    fader           Fader networks: reconstruction, and an encoder that fools a latent attribute discriminator
"""

from core.objectives import (  # noqa: F401  (imported to register)
    acgan,
    began,
    classification,
    cocogan,
    cyclegan,
    diffusion,
    ebgan,
    fader,
    image_gan,
    infogan,
    munit,
    pix2pix,
    progan,
    stargan,
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
