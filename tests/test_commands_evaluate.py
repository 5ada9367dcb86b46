"""keras-ae evaluate (keras_ae.commands.evaluate): held-out errors and the PCA baseline as JSON,
a VAE's -ELBO and NLL, images of the wrong shape refused."""

import json
import shutil

import numpy as np
import pytest

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


@pytest.mark.parametrize("command", [["evaluate"], ["plot", "--what", "reconstructions"],
                                     ["detect", "--fit", "--overwrite"]])
def test_data_without_a_test_split_refused_in_one_line_without_the_split_note(
        command, trained_run, tmp_path, capsys):
    """The note that the validation split stands in for a missing test split comes only once
    the split is usable: a refused one is the command's one line."""
    other = tmp_path / "no_test.npz"
    np.savez(other, x_train=np.zeros((40, 12, 12), "uint8"))
    assert main([command[0], str(trained_run), *command[1:], "--dataset", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "shape (12, 12, 1) but the model expects (28, 28, 1)" in err


def test_umap_on_a_split_without_labels_is_refused_in_one_line(trained_run, tmp_path, capsys):
    pytest.importorskip("umap")
    other = tmp_path / "unlabelled.npz"
    np.savez(other, x_train=np.zeros((40, 28, 28), "uint8"))
    assert main(["evaluate", str(trained_run), "--dataset", str(other), "--umap"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "--umap scores clusters against labels" in err and "validation split has none" in err


@pytest.mark.parametrize("command", [["evaluate"], ["plot", "--what", "reconstructions"],
                                     ["detect", "--fit", "--percentile", "90"],
                                     ["export", "--format", "tflite", "--quantize", "int8"]])
def test_a_run_whose_data_moved_is_told_to_give_dataset(command, trained_run, npz_dataset,
                                                         tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "dataset": str(tmp_path / "moved.npz")}))
    assert main([command[0], str(run), *command[1:]]) == 2
    err = capsys.readouterr().err
    assert err == (f"keras-ae: error: the run's data is not at {tmp_path / 'moved.npz'} any more "
                   "(no such file or folder): give --dataset (and --data-dir) where it is now\n")
    output = {"plot": ["--output", str(tmp_path / "r.png")],
              "export": ["--output", str(tmp_path / "r.tflite")]}.get(command[0], [])
    assert main([command[0], str(run), *command[1:], *output, "--dataset", npz_dataset]) == 0
