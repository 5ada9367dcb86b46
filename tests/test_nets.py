"""keras_ae.models.nets: the conv decoder restores odd image sizes, and the linear nets learn the
PCA subspace."""

import numpy as np
import scipy.linalg

import keras_ae


def test_conv_decoder_restores_odd_image_sizes():
    model = keras_ae.build("conv", input_shape=(30, 26, 3))
    assert model(np.zeros((2, 30, 26, 3), "float32")).shape == (2, 30, 26, 3)


def test_linear_autoencoder_learns_the_pca_subspace():
    rng = np.random.default_rng(0)
    rank, dim = 4, 64
    basis = np.linalg.qr(rng.normal(size=(dim, rank)))[0]
    x = (rng.normal(size=(2000, rank)) * [3.0, 2.5, 2.0, 1.5]) @ basis.T
    x = (x + 0.05 * rng.normal(size=x.shape)).reshape(-1, 8, 8, 1).astype("float32")
    x = 0.5 + x / 8  # images in [0, 1]: the rank-4 variation around a grey mean
    k = rank + 1  # the uncentred subspace holds the mean direction as well
    model = keras_ae.build("linear", input_shape=(8, 8, 1), latent_dim=k, learning_rate=3e-2)
    model.fit(x, epochs=40, batch_size=100, verbose=0)
    decoder_basis = model.decoder.get_layer("pixels").kernel.numpy().T  # (dim, k)
    # uncentred PCA: the top right-singular vectors of the data matrix
    pca_basis = np.linalg.svd(x.reshape(len(x), -1), full_matrices=False)[2][:k].T
    angles = scipy.linalg.subspace_angles(decoder_basis, pca_basis)
    assert np.degrees(angles).max() < 2.0
