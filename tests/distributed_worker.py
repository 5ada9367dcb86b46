"""One worker of a multi-worker test run: `python distributed_worker.py INDEX PORTS DATASET
RUN_DIR EPOCHS WEIGHTS_OUT`. It trains the `seed` preset with --strategy multiworker and saves
its final weights (to the test's own folder) and prints its history."""

import json
import os
import sys

index, ports, dataset, run_dir, epochs, weights_out = sys.argv[1:7]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports.split(",")]},
    "task": {"type": "worker", "index": int(index)}})

import numpy as np  # noqa: E402

import keras_ae  # noqa: E402
from keras_ae.training.train import train  # noqa: E402

config = keras_ae.preset_config("seed", dataset=dataset, epochs=int(epochs), batch_size=64,
                                latent_dim=8)
result = train(config, run_dir, strategy="multiworker", verbose=0, backup_every=0)
np.savez(weights_out, *result.model.get_weights())
print(json.dumps({"resumed": result.resumed, "epochs": [int(r["epoch"]) for r in result.history],
                  "val_loss": [r["val_loss"] for r in result.history]}), flush=True)
