"""keras-ae evaluate (keras_ae.commands.evaluate): held-out errors and the PCA baseline as JSON,
a VAE's -ELBO and NLL, images of the wrong shape refused."""

import json

import numpy as np

from keras_ae.cli import main


def test_evaluate_json_reports_held_out_errors_and_pca(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 64 and result["split"] == "test"
    assert 0 < result["mse"] < 1 and 0 < result["bce"] < 5
    assert result["pca"]["components"] == 8 and 0 < result["pca"]["mse"] < 1


def test_evaluate_vae_reports_elbo_and_nll(npz_dataset, tmp_path, capsys):
    run = tmp_path / "vae"
    assert main(["train", "--model", "vae", "--dataset", npz_dataset, "--epochs", "1",
                 "--output", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.keras"), "--dataset", npz_dataset,
                 "--nll-samples", "8", "--no-pca"]) == 0
    out = capsys.readouterr().out
    assert "-ELBO" in out and "NLL (k=8)" in out and "PCA" not in out


def test_evaluate_refuses_images_of_the_wrong_shape(trained_run, tmp_path, capsys):
    other = tmp_path / "small.npz"
    np.savez(other, x_train=np.zeros((20, 12, 12), "uint8"), x_test=np.zeros((5, 12, 12), "uint8"))
    assert main(["evaluate", str(trained_run), "--dataset", str(other)]) == 2
    assert "shape (12, 12, 1) but the model expects (28, 28, 1)" in capsys.readouterr().err
