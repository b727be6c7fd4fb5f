"""WGAN-GP (Gulrajani et al., 2017): the Wasserstein critic kept Lipschitz by a gradient penalty.

The penalty (lambda 10) pulls the critic's gradient norm to 1 on random
interpolates of real and generated images, one image at a time; so the
critic normalises with layer norm, never batch norm, which would tie every
image's score to the rest of its batch (the reference collection keeps batch
norm there). Five critic steps per generator step, Adam with beta1 0 as in
the paper's Algorithm 1.
"""

from core.models.gan import collection_family

collection_family(
    "wgan-gp", "WGAN-GP", "Gulrajani et al. (2017)",
    defaults={
        "conditional": False,
        "loss": "wasserstein",
        "penalty": "gradient",
        "penalty_weight": 10.0,
        "model_config": {"critic_norm": "layer"},
        "phases": {"D": {"repeats": 5}},
    },
)
