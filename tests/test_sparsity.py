"""keras_ae.models.sparsity: the L1 and KL penalties lower the codes' mean activation."""

import numpy as np

from harness import structured_images
from model_fits import trained as _trained


def test_sparsity_lowers_the_mean_latent_activation():
    x = structured_images(1024, seed=4)
    activation = {}
    for name, sparsity in (("plain", None), ("l1", "l1:1e-2")):
        model = _trained("dense", x, sparsity=sparsity, latent_activation="relu", seed=0)
        activation[name] = float(np.mean(model.encode(x)))
    assert activation["l1"] < 0.5 * activation["plain"], activation


def test_kl_sparsity_pulls_mean_activation_toward_rho():
    x = structured_images(1024, seed=5)
    model = _trained("dense", x, sparsity="kl:0.05:0.5", seed=0)
    assert float(np.mean(model.encode(x))) < 0.2
