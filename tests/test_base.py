"""The base of every model class (keras_ae.models.base): a model class of one's own, without a
preset or a registry entry, goes through the same harness as the presets; each class's config
holds its own options and nothing it would refuse; `compile` takes Keras's losses and metrics
and keeps them through saving."""

import inspect

import keras
import numpy as np
import pytest
from keras import ops

import keras_ae
from harness import (SMALL, check_compiled_metrics_and_loss, check_config_round_trip,
                     check_export_parity, check_fit_arrays_and_dataset, check_keras_export,
                     check_mixed_precision, check_sample_weight, check_save_and_load,
                     check_two_replicas, preset_case, small, structured_images)
from keras_ae.models import BaseAutoencoder, check_autoencoder, nets
from keras_ae.models.losses import weighted_mean


@keras.saving.register_keras_serializable(package="keras_ae_tests")
class SmallCodeAutoencoder(BaseAutoencoder):
    """A user's objective: reconstruction plus `weight` x the mean squared code."""

    def __init__(self, encoder, decoder, weight=0.1, seed=None, **kwargs):
        self.weight = float(weight)
        super().__init__(encoder, decoder, seed=seed, **kwargs)

    @classmethod
    def loss_term_names(cls, options):
        return super().loss_term_names(options) + ("code_loss",)

    def loss_terms(self, x, y, outputs, sample_weight=None):
        terms = super().loss_terms(x, y, outputs, sample_weight)
        code = ops.mean(ops.square(outputs["z"]), axis=-1)
        terms["code_loss"] = self.weight * weighted_mean(code, sample_weight)
        return terms

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


CASE = (SmallCodeAutoencoder, {"encoder": nets.dense_encoder(SMALL, 3, (16,)),
                               "decoder": nets.dense_decoder(3, SMALL, (16,)), "weight": 0.5})
IMAGES = structured_images(64)


@pytest.mark.parametrize("check", [check_config_round_trip, check_fit_arrays_and_dataset,
                                   check_sample_weight, check_compiled_metrics_and_loss,
                                   check_two_replicas])
def test_a_model_class_of_ones_own_passes_the_harness(check):
    check(*CASE, IMAGES)


@pytest.mark.parametrize("check", [check_save_and_load, check_keras_export, check_export_parity])
def test_a_model_class_of_ones_own_saves_and_exports(check, tmp_path):
    check(*CASE, IMAGES, tmp_path)


def test_a_model_class_of_ones_own_under_mixed_precision(tmp_path):
    check_mixed_precision(*CASE, IMAGES, "mixed_bfloat16", tmp_path)


def test_its_loss_terms_are_reported_and_checked_as_a_keras_ae_model():
    model = SmallCodeAutoencoder(**CASE[1])
    assert check_autoencoder(model) is model and not isinstance(model, keras_ae.Autoencoder)
    model.compile(optimizer="adam", jit_compile=False)
    history = model.fit(IMAGES, epochs=1, batch_size=32, verbose=0).history
    assert {"loss", "reconstruction_loss", "code_loss"} <= set(history)


def test_the_base_takes_no_objective_option():
    parameters = set(inspect.signature(BaseAutoencoder.__init__).parameters)
    assert parameters == {"self", "encoder", "decoder", "seed", "kwargs"}


@pytest.mark.parametrize("name", ["seed", "vae", "contractive", "vq_vae"])
def test_each_config_holds_exactly_its_classs_arguments(name):
    cls, init_kwargs = preset_case(name)
    config = cls(**init_kwargs).get_config()
    arguments = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    assert set(config) == arguments | {"name", "trainable"}, name
    assert cls.from_config(config).get_config().keys() == config.keys()


def test_compiled_loss_and_metrics_survive_saving(tmp_path):
    x = structured_images(16)
    model = small("seed")
    model.compile(optimizer="adam", loss="mae", metrics=["mse"])
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras_ae.load_model(path)
    got = loaded.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    want = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert set(got) == {"loss", "reconstruction_loss", "mse"}
    for key in got:
        assert got[key] == pytest.approx(want[key], rel=1e-6)
    assert got["reconstruction_loss"] == pytest.approx(float(np.mean(np.abs(x - loaded(x)))), rel=1e-5)


def test_an_unknown_compiled_loss_is_refused():
    with pytest.raises(ValueError, match="cannot use loss 'nope' as the reconstruction loss"):
        small("seed").compile(optimizer="adam", loss="nope")
