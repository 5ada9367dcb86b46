"""Training across devices and machines: MirroredStrategy on two logical CPUs, two worker
processes on 127.0.0.1 with TF_CONFIG, and resuming a multi-worker run after a kill. (The
one-step equivalence of every preset on two replicas is in the shared harness.)"""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import keras_ae
from keras_ae.cli import main
from keras_ae.training.train import train

from harness import structured_images

WORKER = Path(__file__).with_name("distributed_worker.py")
KERAS_AE = Path(sys.executable).with_name("keras-ae")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    images = (structured_images(512, shape=(28, 28, 1)) * 255).astype("uint8")
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x_train=images, y_train=np.zeros(512, "int64"))
    return path


def _held_out_loss(run: Path, dataset: Path) -> float:
    model = keras_ae.load_model(run)
    x, _ = keras_ae.data.load_arrays(str(dataset), "validation")
    return model.evaluate(x, batch_size=256, verbose=0, return_dict=True)["loss"]


def test_mirrored_command_in_a_fresh_process_matches_the_single_device_run(digits, tmp_path):
    common = ["train", "--model", "seed", "--dataset", str(digits), "--epochs", "3",
              "--latent-dim", "8", "--batch-size", "64", "--quiet"]
    assert main([*common, "--output", str(tmp_path / "one")]) == 0
    done = subprocess.run([str(KERAS_AE), *common, "--strategy", "mirrored",
                           "--output", str(tmp_path / "two")],
                          capture_output=True, text=True, env={**os.environ}, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    one, two = _held_out_loss(tmp_path / "one", digits), _held_out_loss(tmp_path / "two", digits)
    assert abs(two - one) <= 0.02 * one, (one, two)


def _readme_multiworker_command():
    """The TF_CONFIG and `keras-ae` arguments of README.md's multi-machine example."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = readme[readme.index("TF_CONFIG='"):].splitlines()
    tf_config = json.loads(lines[0].split("'")[1])
    argv = shlex.split(lines[1])
    assert argv[0] == "keras-ae" and "multiworker" in argv, argv
    return tf_config, argv[1:]


def test_the_readme_multiworker_command_trains_on_two_workers(tmp_path):
    """README's command as two `keras-ae` processes on 127.0.0.1 (its hosts replaced, a tiny
    dataset and one epoch added): both finish, and the chief's run folder holds the model."""
    tf_config, argv = _readme_multiworker_command()
    output = argv.index("--output") + 1
    images = (structured_images(128, shape=(28, 28, 1)) * 255).astype("uint8")
    np.savez(tmp_path / "digits.npz", x_train=images)
    ports = _free_ports(len(tf_config["cluster"]["worker"])).split(",")
    tf_config["cluster"]["worker"] = [f"127.0.0.1:{port}" for port in ports]
    workers = []
    for index in range(len(ports)):
        tf_config["task"]["index"] = index
        command = [str(KERAS_AE), *argv[:output], str(tmp_path / f"run{index}"), *argv[output + 1:],
                   "--dataset", str(tmp_path / "digits.npz"), "--epochs", "1", "--quiet"]
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    try:
        results = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err
    assert (tmp_path / "run0" / "model.keras").is_file()
    assert not (tmp_path / "run1").exists()  # only the chief writes


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ",".join(map(str, ports))


def _start_workers(digits, runs, epochs, weights):
    ports = _free_ports(2)
    return [subprocess.Popen([sys.executable, str(WORKER), str(i), ports, str(digits), str(runs[i]),
                              str(epochs), str(weights[i])],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(2)]


def _finish(workers, timeout=240):
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _load_weights(path):
    with np.load(path) as saved:
        return [saved[key] for key in saved.files]


def test_killed_workers_resume_from_the_last_backup_and_train_as_one_process(digits, tmp_path):
    run = tmp_path / "run"
    weights = [tmp_path / "w0.npz", tmp_path / "w1.npz"]
    metadata = run / "backup" / "training_metadata.json"
    workers = _start_workers(digits, [run, run], 10, weights)
    deadline = time.monotonic() + 240
    while not (metadata.is_file() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 2):
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
        time.sleep(0.2)
    workers[1].send_signal(signal.SIGKILL)  # one worker lost; the other cannot go on alone
    workers[1].wait()
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    done = json.loads(metadata.read_text())["epoch"]
    assert 2 <= done < 10 and not (run / "model.keras").exists()

    results = _finish(_start_workers(digits, [run, run], 10, weights), timeout=600)
    assert all(r["resumed"] for r in results) and results[0] == results[1]
    assert results[0]["epochs"] == list(range(10))  # each epoch once: resumed, not restarted
    for a, b in zip(*map(_load_weights, weights)):
        np.testing.assert_array_equal(a, b)  # the two workers hold the same model
    # and it trained as one process would have, on one device, uninterrupted
    config = keras_ae.preset_config("seed", dataset=str(digits), epochs=10, batch_size=64,
                                    latent_dim=8)
    one = train(config, tmp_path / "single", verbose=0).history[-1]["val_loss"]
    # (within 5 %: the two workers sum gradients in another order, and 10 epochs amplify it)
    assert abs(results[0]["val_loss"][-1] - one) <= 0.05 * one, (results[0]["val_loss"], one)


@pytest.mark.parametrize("tf_config, message", [
    (None, "--strategy multiworker needs TF_CONFIG"),
    ("{not json", "TF_CONFIG is not a cluster description"),
])
def test_multiworker_without_a_cluster_is_refused_in_one_line(tf_config, message, digits,
                                                               tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    assert main(["train", "--dataset", str(digits), "--strategy", "multiworker",
                 "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "run").exists()


def test_mirrored_run_resumes_exactly_after_an_interruption(digits, tmp_path):
    from test_train import CountEpochs, StopAtEpoch

    config = keras_ae.preset_config("seed", dataset=str(digits), epochs=3, batch_size=64,
                                    latent_dim=8)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, run, verbose=0, strategy="mirrored", callbacks=[StopAtEpoch(2)])
    counter = CountEpochs()
    resumed = train(config, run, verbose=0, strategy="mirrored", callbacks=[counter])
    assert resumed.resumed and counter.epochs == [2]
    whole = train(config, tmp_path / "whole", verbose=0, strategy="mirrored")
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
