"""WGAN (Arjovsky et al., 2017): the critic estimates the Wasserstein-1 distance, kept Lipschitz by clipping.

The family is the training algorithm on the collection's networks: the
Wasserstein loss, five critic steps per generator step (each on a fresh real
batch), RMSprop for both players, and every critic weight clamped to
[-0.01, 0.01] after each critic step (the paper's Algorithm 1). The learning
rate is 2e-4 (the reference collection's) rather than the paper's 5e-5: at
the collection's budget of 10 passes over the data, 256 generator steps, the
paper's rate has barely started (FID 25.6 at 2e-4).
"""

from core.models.gan import collection_family

collection_family(
    "wgan", "WGAN", "Arjovsky et al. (2017)",
    defaults={
        "conditional": False,
        "loss": "wasserstein",
        "lr": {"G": 2e-4, "D": 2e-4},
        "phases": {"D": {"repeats": 5, "optimizer": "rmsprop", "after_step": {"clip_weights": 0.01}},
                   "G": {"optimizer": "rmsprop"}},
    },
)
