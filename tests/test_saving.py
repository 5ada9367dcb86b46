"""keras_ae.models.saving: .keras files load through Keras, are never overwritten, and keep
every setting exactly."""

import pytest

import keras
import keras_ae
from keras_ae.models.saving import save_model

from harness import small


def test_keras_load_model_after_import_works(tmp_path):
    model = small("conv_vae")
    path = save_model(model, tmp_path / "vae.keras")
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, keras_ae.VariationalAutoencoder)


def test_save_refuses_to_overwrite(tmp_path):
    model = small("seed")
    path = save_model(model, tmp_path / "m.keras")
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        save_model(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_every_setting_survives_saving_exactly(tmp_path):
    model = small("sparse", sparsity="l1:1.23456789e-4", denoise="gaussian:0.123456789")
    vae = small("vae", beta=0.3333333333, likelihood="gaussian", sigma=0.07, denoise="masking:0.2")
    for m in (model, vae):
        loaded = keras_ae.load_model(save_model(m, tmp_path / f"{m.name}.keras"))
        config = {k: v for k, v in loaded.get_config().items() if k not in ("encoder", "decoder")}
        assert config == {k: v for k, v in m.get_config().items() if k not in ("encoder", "decoder")}
    assert loaded.beta == 0.3333333333 and loaded.sigma == 0.07
    assert keras_ae.load_model(tmp_path / "sparse.keras").sparsity.weight == 1.23456789e-4
