"""LSGAN (Mao et al., 2017): least-squares losses instead of the cross-entropy.

The critic regresses 1 on real and 0 on generated images and the generator
pulls its images' scores to 1; unlike the sigmoid cross-entropy, the loss
still has a gradient for generated images far on the right side of the
boundary, which the paper credits with steadier training.
"""

from core.models.gan import collection_family

collection_family(
    "lsgan", "LSGAN", "Mao et al. (2017)",
    defaults={"conditional": False, "loss": "least-squares"},
)
