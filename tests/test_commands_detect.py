"""keras-ae detect (keras_ae.commands.detect): fitting a threshold for a run and detecting on
folders and files, the VAE's -ELBO, exports with and without `is_anomaly`, contamination,
labelled images, error maps, and every bad option in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

import keras_ae
from keras_ae.analysis import detect
from keras_ae.cli import main
from keras_ae.serving.export import export_saved_model
from keras_ae.serving.predict import load_exported

from detections import noise_images, recall_precision
from harness import SMALL, structured_images


@pytest.fixture(scope="module")
def npz_dataset(tmp_path_factory):
    images = (structured_images(1200, shape=SMALL, seed=2) * 255).astype("uint8")
    path = tmp_path_factory.mktemp("data") / "shapes.npz"
    np.savez(path, x_train=images[:1100], x_test=images[1100:])  # 110 validation images
    return str(path)


def _train(npz_dataset, run, *extra, epochs=1):
    assert main(["train", "--dataset", npz_dataset, "--epochs", str(epochs), "--latent-dim", "4",
                 "--output", str(run), "--quiet", *extra]) == 0


@pytest.fixture(scope="module")
def ae_run(npz_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "seed"
    _train(npz_dataset, run, "--model", "seed")
    return run


@pytest.fixture(scope="module")
def vae_run(npz_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "vae"
    _train(npz_dataset, run, "--model", "vae", epochs=5)
    return run


@pytest.fixture
def inputs(npz_dataset, tmp_path):
    """A folder with two normal images as PNG and .npy, and a noise image."""
    from PIL import Image

    folder = tmp_path / "inputs"
    folder.mkdir()
    normal_images = np.load(npz_dataset)["x_test"][:2]
    Image.fromarray(normal_images[0, ..., 0]).save(folder / "a_normal.png")
    np.save(folder / "b_normal.npy", normal_images[1])
    np.save(folder / "c_noise.npy", (noise_images(1)[0] * 255).astype("uint8"))
    (folder / "notes.txt").write_text("not an image")  # ignored in a folder
    return folder


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-ae: error:"), err
    return err


def test_fit_then_detect_a_folder(ae_run, inputs, capsys):
    assert main(["detect", str(ae_run), "--fit", "--fpr", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "fpr 0.02 of 110 normal images of shapes.npz [validation]" in out
    saved = json.loads((ae_run / "detector.json").read_text())
    assert saved["method"] == "fpr" and saved["level"] == 0.02 and saved["images"] == 110

    assert main(["detect", str(ae_run), "--input", str(inputs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["a_normal", "b_normal", "c_noise"]
    assert lines[2].split()[-1] == "ANOMALY"
    assert lines[3].startswith(f"{sum(line.endswith('ANOMALY') for line in lines[:3])} of 3 inputs")


def test_detect_json_matches_the_python_api(ae_run, inputs, capsys):
    assert main(["detect", str(ae_run), "--fit", "--percentile", "95", "--json", "--overwrite"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["method"] == "percentile" and fitted["level"] == 95
    files = [str(inputs / "c_noise.npy"), str(inputs / "a_normal.png")]
    assert main(["detect", str(ae_run), "--input", *files, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in result["inputs"]] == ["c_noise", "a_normal"]
    from keras_ae.data.inputs import read_inputs

    found = detect.detect(ae_run, read_inputs(files))
    assert [row["score"] for row in result["inputs"]] == pytest.approx(found.scores.tolist(), rel=1e-6)
    assert [row["is_anomaly"] for row in result["inputs"]] == found.is_anomaly.tolist()
    assert result["threshold"]["threshold"] == fitted["threshold"]


def test_vae_elbo_threshold_and_its_export(vae_run, inputs, tmp_path, capsys):
    assert main(["detect", str(vae_run), "--fit", "--score", "elbo", "--percentile", "90"]) == 0
    assert "elbo score >" in capsys.readouterr().out
    assert main(["detect", str(vae_run), "--input", str(inputs / "c_noise.npy"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["inputs"]
    assert row["is_anomaly"] is True
    tflite = tmp_path / "vae.tflite"
    assert main(["export", str(vae_run), "--format", "tflite", "--output", str(tflite)]) == 0
    assert "is_anomaly" in capsys.readouterr().out
    noise = np.load(inputs / "c_noise.npy")[None].astype("float32") / 255
    got = load_exported(tflite).run("is_anomaly", image=noise)
    assert got["score"][0] == pytest.approx(row["score"], rel=1e-5) and got["is_anomaly"][0]


def test_export_without_a_threshold_has_no_is_anomaly(ae_run, tmp_path, capsys):
    run = tmp_path / "plain"  # the same run, without a threshold
    run.mkdir()
    for name in ("config.json", "model.keras"):
        shutil.copy(ae_run / name, run / name)
    assert main(["export", str(run), "--output", str(tmp_path / "sm")]) == 0
    assert "is_anomaly" not in load_exported(tmp_path / "sm").signatures
    capsys.readouterr()
    assert main(["detect", str(run), "--input", str(tmp_path)]) == 2
    err = _one_line_error(capsys)
    assert "has no fitted threshold (detector.json)" in err and f"keras-ae detect {run} --fit" in err


@pytest.mark.parametrize("argv, message", [
    (["--fit", "--score", "elbo", "--overwrite"], "the elbo score needs a VariationalAutoencoder"),
    (["--input", "/no/such/file.npy"], "no input file /no/such/file.npy"),
    (["--input", "BAD_TXT"], "unsupported input type .txt"),
    (["--input", "WRONG_SHAPE"], "does not hold images of shape (12, 12, 1)"),
    (["--input", "EMPTY_DIR"], "folder holds no images or arrays"),
    ([], "give --input FILE_OR_FOLDER to detect anomalies, or --fit"),
    (["--fit", "--input", "x.npy"], "give --fit (fit a threshold) or --input (detect), not both"),
    (["--input", "x.npy", "--fpr", "0.1"], "--fpr applies to --fit"),
    (["--fit", "--fpr", "0.1", "--percentile", "90"], "not allowed with argument"),
    (["--fit", "--fpr", "0.001", "--overwrite"], "fpr 0.001 needs at least 1000 normal images"),
    (["--fit"], "detector.json already exists; pass --overwrite to replace it"),
    (["--fit", "--resize", "--overwrite"], "--resize converts the images given with --input"),
    (["--input", "BIG_PNG"], "(pass resize=True / --resize to convert"),
])
def test_detect_errors_are_one_line(ae_run, tmp_path, argv, message, capsys):
    assert main(["detect", str(ae_run), "--fit", "--overwrite"]) == 0  # a threshold exists
    capsys.readouterr()
    (tmp_path / "bad.txt").write_text("hello")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5, 5), "uint8"))
    (tmp_path / "empty").mkdir()
    Image.fromarray(np.zeros((20, 16, 3), "uint8")).save(tmp_path / "big.png")
    paths = {"BAD_TXT": tmp_path / "bad.txt", "WRONG_SHAPE": tmp_path / "wrong.npy",
             "EMPTY_DIR": tmp_path / "empty", "BIG_PNG": tmp_path / "big.png"}
    argv = [str(paths.get(a, a)) for a in argv]
    before = (ae_run / "detector.json").read_bytes()
    assert main(["detect", str(ae_run), *argv]) == 2
    assert message in _one_line_error(capsys)
    assert (ae_run / "detector.json").read_bytes() == before  # a failed fit keeps the old one


def test_an_old_detector_file_loads_without_p_values(ae_run, inputs, tmp_path, capsys):
    assert main(["detect", str(ae_run), "--fit", "--overwrite"]) == 0
    saved = json.loads((ae_run / "detector.json").read_text())
    for name in ("normal_scores", "normal_images", "labelled"):  # as keras-ae wrote it before
        saved.pop(name)
    (ae_run / "detector.json").write_text(json.dumps(saved))
    threshold = detect.load_threshold(ae_run)
    assert not threshold.has_p_values
    with pytest.raises(detect.NoPValuesError, match="p-values are unavailable; refit it"):
        threshold.p_values([0.1])
    capsys.readouterr()
    assert main(["detect", str(ae_run), "--input", str(inputs), "--json"]) == 0
    captured = capsys.readouterr()
    assert [row["p_value"] for row in json.loads(captured.out)["inputs"]] == [None] * 3
    assert "has no normal scores (fitted by an older keras-ae): p-values are unavailable" in captured.err
    model = keras_ae.load_model(ae_run)
    outputs = load_exported(export_saved_model(model, tmp_path / "sm", threshold=threshold)).run(
        "is_anomaly", image=noise_images(2))
    assert sorted(outputs) == ["is_anomaly", "score"]
    assert main(["detect", str(ae_run), "--fit", "--overwrite"]) == 0  # refitted: p-values again


def test_fit_with_contamination_on_the_command_line(ae_run, npz_dataset, tmp_path, capsys):
    normal_images = np.load(npz_dataset)["x_test"][:90]
    planted = (noise_images(10, seed=4) * 255).astype("uint8")
    mixed = np.concatenate([normal_images, planted])
    np.savez(tmp_path / "mixed.npz", x_train=mixed, x_test=mixed)
    np.save(tmp_path / "mixed.npy", mixed)
    assert main(["detect", str(ae_run), "--fit", "--contamination", "0.1", "--dataset",
                 str(tmp_path / "mixed.npz"), "--split", "test", "--overwrite", "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert (fitted["method"], fitted["level"], fitted["images"]) == ("contamination", 0.1, 100)
    assert "normal_scores" not in fitted  # results show the rule, detector.json keeps the scores
    assert len(json.loads((ae_run / "detector.json").read_text())["normal_scores"]) == 90
    assert main(["detect", str(ae_run), "--input", str(tmp_path / "mixed.npy"), "--json"]) == 0
    flagged = np.array([row["is_anomaly"] for row in json.loads(capsys.readouterr().out)["inputs"]])
    recall, precision = recall_precision(flagged, np.r_[np.zeros(90, bool), np.ones(10, bool)])
    assert recall >= 0.8 and precision >= 0.8, (recall, precision)


def test_fit_on_labelled_images_on_the_command_line(ae_run, npz_dataset, tmp_path, capsys):
    normal_images = np.load(npz_dataset)["x_test"][:80]
    anomalies = (noise_images(20, seed=5) * 255).astype("uint8")
    labelled = tmp_path / "labelled.npz"
    np.savez(labelled, images=np.concatenate([normal_images, anomalies]),
             labels=np.r_[np.zeros(80, int), np.ones(20, int)])
    assert main(["detect", str(ae_run), "--fit", "--labels", str(labelled), "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "(best F1 on 100 labelled images of labelled.npz, 20 anomalies: precision" in out
    saved = json.loads((ae_run / "detector.json").read_text())
    assert saved["method"] == "f1" and saved["labelled"]["f1"] > 0.9 and saved["normal_images"] == 80
    assert main(["detect", str(ae_run), "--fit", "--labels", str(labelled), "--precision", "0.95",
                 "--overwrite", "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["method"] == "precision" and fitted["level"] == 0.95
    assert fitted["labelled"]["precision"] >= 0.95 and fitted["fitted_on"] == "labelled.npz"


def test_maps_of_flagged_inputs(ae_run, inputs, tmp_path, capsys):
    from PIL import Image

    assert main(["detect", str(ae_run), "--fit", "--percentile", "95", "--overwrite"]) == 0
    maps = tmp_path / "maps"
    capsys.readouterr()
    assert main(["detect", str(ae_run), "--input", str(inputs), "--maps", str(maps), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["inputs"]
    flagged = [row for row in rows if row["is_anomaly"]]
    assert flagged and all(("map" in row) == row["is_anomaly"] for row in rows)
    assert sorted(p.name for p in maps.iterdir()) == sorted(
        f"{row['name']}{end}" for row in flagged for end in (".npy", ".png"))
    for row in flagged:
        error_map = np.load(row["map"])
        assert error_map.shape == (12, 12) and error_map.dtype == np.float32
        assert error_map.mean() == pytest.approx(row["score"], rel=1e-5)
        with Image.open(maps / f"{row['name']}.png") as png:
            pixels = np.asarray(png)
        assert pixels.shape == (12, 12) and pixels.max() == 255  # scaled: the largest error white
        assert 0 < row["p_value"] <= 0.05 + 2 / 111  # fitted at percentile 95 of 110 images
    before = {p.name: p.stat().st_mtime_ns for p in maps.iterdir()}
    argv = ["detect", str(ae_run), "--input", str(inputs), "--maps", str(maps)]
    assert main(argv) == 2  # earlier maps are kept without --overwrite
    assert "already exist; pass --overwrite to replace them" in _one_line_error(capsys)
    assert {p.name: p.stat().st_mtime_ns for p in maps.iterdir()} == before
    assert main(argv + ["--overwrite"]) == 0
    assert "error maps of" in capsys.readouterr().out
    for target, message in [(inputs, "holds files that error maps are not"),
                            (inputs / "b_normal.npy", "is a file, not a folder")]:
        assert main(["detect", str(ae_run), "--input", str(inputs), "--maps", str(target)]) == 2
        assert message in _one_line_error(capsys)
    assert sorted(p.name for p in inputs.iterdir()) == ["a_normal.png", "b_normal.npy",
                                                        "c_noise.npy", "notes.txt"]


@pytest.mark.parametrize("argv, message", [
    (["--fit", "--contamination", "0.5"], "--contamination must be in (0, 0.5), got 0.5"),
    (["--fit", "--percentile", "90", "--contamination", "0.1"],
     "argument --contamination: not allowed with argument --percentile"),
    (["--fit", "--labels", "/no/such.npz"], "no labelled file /no/such.npz"),
    (["--fit", "--labels", "ONE_CLASS", "--overwrite"], "labels are all normal (0)"),
    (["--fit", "--precision", "0.9"], "--precision applies to a threshold from labelled images"),
    (["--fit", "--labels", "ONE_CLASS", "--precision", "2"], "--precision must be in (0, 1], got 2"),
    (["--input", "x.npy", "--contamination", "0.1"], "--contamination applies to --fit"),
    (["--fit", "--maps", "out"], "--maps writes the error maps of flagged inputs: give it with --input"),
])
def test_new_option_errors_are_one_line(ae_run, tmp_path, argv, message, capsys):
    np.savez(tmp_path / "one_class.npz", images=np.zeros((4, 12, 12), "uint8"), labels=np.zeros(4, int))
    argv = [str(tmp_path / "one_class.npz") if a == "ONE_CLASS" else a for a in argv]
    assert main(["detect", str(ae_run), "--fit", "--overwrite"]) == 0
    before = (ae_run / "detector.json").read_bytes()
    capsys.readouterr()
    assert main(["detect", str(ae_run), *argv]) == 2
    assert message in _one_line_error(capsys)
    assert (ae_run / "detector.json").read_bytes() == before


def test_resize_converts_inputs_of_another_size_and_colour(ae_run, tmp_path, capsys):
    """`detect --input --resize` scores an image of another size and colour converted to the
    model's own size and channels, as `predict --resize` reads it (`read_inputs(resize=True)`)."""
    from keras_ae.data.inputs import read_inputs

    assert main(["detect", str(ae_run), "--fit", "--overwrite"]) == 0
    picture = (structured_images(1, shape=(12, 12, 1), seed=5)[0, :, :, 0] * 255).astype("uint8")
    Image.fromarray(np.repeat(picture[:, :, None], 3, axis=2)).resize((36, 30)).save(
        tmp_path / "big.png")
    capsys.readouterr()
    assert main(["detect", str(ae_run), "--input", str(tmp_path / "big.png"), "--resize",
                 "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["inputs"]
    converted = read_inputs([tmp_path / "big.png"], image_shape=SMALL, resize=True)
    want = keras_ae.load_model(ae_run / "model.keras").anomaly_score(converted)
    assert row["name"] == "big" and row["score"] == pytest.approx(float(want[0]), rel=1e-5)
