"""WGAN-GP (Gulrajani et al., 2017): the Wasserstein critic kept Lipschitz by a gradient penalty.

The penalty (lambda 10) pulls the critic's gradient norm to 1 on random
interpolates of real and generated images, one image at a time; so the
critic normalises with layer norm, never batch norm, which would tie every
image's score to the rest of its batch (the reference collection keeps batch
norm there). Five critic steps per generator step (the paper's Algorithm 1),
Adam at 2e-4 with the suite's betas (0.5, 0.999).
"""

from core.models.gan import collection_family

collection_family(
    "wgan-gp", "WGAN-GP", "Gulrajani et al. (2017)",
    defaults={
        "conditional": False,
        "loss": "wasserstein",
        "penalty": "gradient",
        "penalty_weight": 10.0,
        "lr": {"G": 2e-4, "D": 2e-4},
        "model_config": {"critic_norm": "layer"},
        "phases": {"D": {"repeats": 5}},
    },
)
