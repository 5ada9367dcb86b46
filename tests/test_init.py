"""`import keras_ae`: it starts nothing (no TensorFlow, no environment variable, no stream
replaced), leaves TensorFlow's devices configurable, and Keras still loads its models."""

import os
import subprocess
import sys


def test_importing_keras_ae_leaves_devices_configurable():
    script = ("import keras_ae, tensorflow as tf\n"
              "cpu = tf.config.list_physical_devices('CPU')[0]\n"
              "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 3)\n"
              "print(len(tf.config.list_logical_devices('CPU')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3"


def test_import_keras_ae_starts_nothing_and_keras_still_loads_its_models(trained_run):
    """The console script imports keras_ae and keras_ae.cli before main(): neither imports
    TensorFlow, sets an environment variable or replaces a stream. keras.saving.load_model, with Keras imported after keras_ae, still knows the
    model classes."""
    script = ("import os, sys\n"
              "environ, streams = dict(os.environ), (sys.stdout, sys.stderr)\n"
              "import keras_ae, keras_ae.cli\n"
              "assert dict(os.environ) == environ and (sys.stdout, sys.stderr) == streams\n"
              "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
              "assert not heavy, heavy\n"
              "assert set(keras_ae.__all__) <= set(dir(keras_ae)), dir(keras_ae)\n"
              "import keras\n"
              "print(type(keras.saving.load_model(sys.argv[1], safe_mode=True)).__name__)\n")
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", script, str(trained_run / "model.keras")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Autoencoder"
