"""keras_ae.training.callbacks: history rows kept until their interval or a write, and the
values read from the variables kept while training goes on."""

import numpy as np


def test_history_rows_wait_for_their_interval_or_a_write(tmp_path):
    from keras_ae.training.callbacks import AtomicCSVLogger
    from keras_ae.utils.history import read_history

    path = tmp_path / "history.csv"
    logger = AtomicCSVLogger(path, every=3600)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 2.0})
    assert not path.exists()
    logger.write()
    assert read_history(path) == [{"epoch": 0, "loss": 2.0}]
    logger.on_epoch_end(1, {"loss": 1.0})
    assert len(read_history(path)) == 1
    logger.on_train_end()
    assert read_history(path) == [{"epoch": 0, "loss": 2.0}, {"epoch": 1, "loss": 1.0}]
    every_epoch = AtomicCSVLogger(tmp_path / "each.csv")  # the default: after every epoch
    every_epoch.on_train_begin()
    every_epoch.on_epoch_end(0, {"loss": 2.0})
    assert read_history(tmp_path / "each.csv") == [{"epoch": 0, "loss": 2.0}]


def test_values_read_keep_while_the_variables_train_on():
    from keras_ae.models.presets import build
    from keras_ae.training.callbacks import read_values, values_set

    model = build("seed", input_shape=(8, 8, 1), hidden_units=(16,), latent_dim=2,
                  steps_per_execution=2)  # XLA, several steps a call, as train compiles it
    x = np.random.default_rng(0).random((64, 8, 8, 1), dtype="float32")
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    variables = [*model.variables, *model.optimizer.variables]
    read = read_values(variables)
    copies = [np.array(value) for value in read]
    model.fit(x, epochs=2, batch_size=16, verbose=0)
    trained = [variable.numpy() for variable in variables]
    assert any(not np.array_equal(a, b) for a, b in zip(copies, trained))
    for value, copy in zip(read, copies):
        np.testing.assert_array_equal(np.array(value), copy)
    with values_set(variables, read):
        for variable, copy in zip(variables, copies):
            np.testing.assert_array_equal(variable.numpy(), copy)
    for variable, value in zip(variables, trained):
        np.testing.assert_array_equal(variable.numpy(), value)
