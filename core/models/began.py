"""BEGAN (Berthelot et al., 2017): an autoencoder critic, balanced by the equilibrium term k_t.

The critic is an autoencoder; an image's energy is its L1 reconstruction
error. The critic lowers the energy of real images and raises that of
generated ones, weighted by k_t, which a proportional controller keeps at the
equilibrium E[L(G(z))] = gamma E[L(x)] (gamma = diversity ratio); the
convergence measure M = L(x) + |gamma L(x) - L(G(z))| is logged. See
`core.objectives.began`.
"""

from core.models.gan import AutoencoderDiscriminator, AutoencoderGANConfig, Generator, collection_family

collection_family(
    "began", "BEGAN", "Berthelot et al. (2017)",
    networks={"generator": Generator, "discriminator": AutoencoderDiscriminator},
    objective="began",
    config_class=AutoencoderGANConfig,
    defaults={"conditional": False},
)
