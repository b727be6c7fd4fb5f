"""BEGAN (Berthelot et al., 2017): an autoencoder critic, balanced by the equilibrium term k_t.

The critic is an autoencoder; an image's energy is its L1 reconstruction
error. The critic lowers the energy of real images and raises that of
generated ones, weighted by k_t, which a proportional controller keeps at the
equilibrium E[L(G(z))] = gamma E[L(x)] (gamma = diversity ratio); the
convergence measure M = L(x) + |gamma L(x) - L(G(z))| is logged. See
`core.objectives.began`.

The critic is a small autoencoder (a 64-wide fully connected layer, a
32-value code, as in the reference collection), gamma 0.75, and a controller
gain lambda_k of 0.2 rather than the paper's 0.001: that gain moves k_t by
about 1e-4 a step, so within the collection's 1,280 critic steps k_t stayed
near 0, the critic was a plain autoencoder of real images and the generator
collapsed onto images it reconstructs well (FID 56 at 10 epochs; gain 0.01:
20.6; 0.05: 8.3; 0.2: 6.7).
"""

from core.models.gan import AutoencoderDiscriminator, AutoencoderGANConfig, Generator, collection_family

collection_family(
    "began", "BEGAN", "Berthelot et al. (2017)",
    networks={"generator": Generator, "discriminator": AutoencoderDiscriminator},
    objective="began",
    config_class=AutoencoderGANConfig,
    defaults={
        "conditional": False,
        "gamma": 0.75,
        "lambda_k": 0.2,
        "model_config": {"hidden": 64, "bottleneck": 32},
    },
)
