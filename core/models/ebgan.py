"""EBGAN (Zhao et al., 2017): an autoencoder critic as an energy function, with a margin.

The energy of an image is its mean squared reconstruction error; the critic
pushes real energies down and generated ones up to the margin m, and the
generator lowers its images' energy plus a pull-away term that keeps the
critic's codes of a batch apart (against mode collapse). See
`core.objectives.ebgan`.
"""

from core.models.gan import AutoencoderDiscriminator, AutoencoderGANConfig, Generator, collection_family

collection_family(
    "ebgan", "EBGAN", "Zhao et al. (2017)",
    networks={"generator": Generator, "discriminator": AutoencoderDiscriminator},
    objective="ebgan",
    config_class=AutoencoderGANConfig,
    defaults={"conditional": False},
)
