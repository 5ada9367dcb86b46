"""The up-front size check counts exactly the weights `build` would make."""

import pytest

import keras_ae
from keras_ae.models.presets import PRESETS, parameter_count, preset_config


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("shape", [(12, 12, 1), (13, 9, 3)])
def test_parameter_count_matches_the_built_nets(name, shape):
    config = preset_config(name, hidden_units=(16, 8)[:len(preset_config(name).hidden_units)],
                           conv_filters=(4, 8), latent_dim=3)
    model = keras_ae.build(config, input_shape=shape, compile=False)
    assert parameter_count(config, shape) == (model.encoder.count_params()
                                              + model.decoder.count_params())


def test_a_model_larger_than_memory_is_refused_before_any_weight_exists():
    with pytest.raises(ValueError, match=r"the model would have [\d,]+ parameters, about .* GB to "
                                         r"train .* more than this machine's"):
        keras_ae.build("sparse", latent_dim=10**9)
