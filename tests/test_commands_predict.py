"""keras-ae predict (keras_ae.commands.predict): photos resized on request, a wrong size naming
the file, and the same files of a folder read as `detect` reads them."""

import json

import numpy as np

from keras_ae.cli import main


def test_predict_resizes_jpeg_and_folder_inputs(trained_run, tmp_path, capsys):
    from PIL import Image

    saved = tmp_path / "sm"
    assert main(["export", str(trained_run), "--output", str(saved)]) == 0
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(5)
    for name in ("cat.jpg", "dog.png"):
        Image.fromarray(rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)).save(photos / name)
    capsys.readouterr()
    assert main(["predict", str(saved), "--input", str(photos), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cat.jpg: image shape (50, 40, 3) does not match (28, 28, 1)" in err
    assert "--resize" in err
    assert main(["predict", str(saved), "--input", str(photos), "--resize", "--signature",
                 "anomaly_score", "--output", str(tmp_path / "out")]) == 0
    assert np.load(tmp_path / "out" / "score.npy").shape == (2,)
    printed = capsys.readouterr().out
    assert "cat:" in printed and "dog:" in printed


def test_predict_wrong_image_size_names_the_file(trained_run, tmp_path, capsys):
    saved = tmp_path / "sm"
    assert main(["export", str(trained_run), "--output", str(saved)]) == 0
    np.save(tmp_path / "small.npy", np.zeros((2, 12, 12, 1), "float32"))
    assert main(["predict", str(saved), "--input", str(tmp_path / "small.npy")]) == 2
    err = capsys.readouterr().err
    assert "small.npy" in err and "(2, 12, 12, 1)" in err and "(28, 28, 1)" in err


def test_predict_and_detect_read_the_same_files_of_a_folder(trained_run, npz_dataset, tmp_path,
                                                             capsys):
    import shutil

    from PIL import Image

    run = tmp_path / "run"  # a copy, to fit a threshold for
    shutil.copytree(trained_run, run)
    digits = np.load(npz_dataset)["x_test"][:3]
    folder = tmp_path / "inputs"
    (folder / "more").mkdir(parents=True)
    Image.fromarray(digits[0, ..., 0]).save(folder / "a.jpg")
    Image.fromarray(digits[1, ..., 0]).save(folder / "more" / "b.bmp")
    np.save(folder / "c.npy", digits[2])
    (folder / "notes.txt").write_text("not an input")
    assert main(["detect", str(run), "--fit", "--split", "test", "--percentile", "90"]) == 0
    capsys.readouterr()
    assert main(["detect", str(run), "--input", str(folder), "--json"]) == 0
    detected = [row["name"] for row in json.loads(capsys.readouterr().out)["inputs"]]
    assert detected == ["a", "c", "b"]  # sorted by path: a.jpg, c.npy, more/b.bmp
    saved = tmp_path / "sm"
    assert main(["export", str(run), "--output", str(saved)]) == 0
    capsys.readouterr()
    assert main(["predict", str(saved), "--input", str(folder), "--signature", "anomaly_score",
                 "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert [line.split(":")[0].strip() for line in printed.splitlines()[1:4]] == detected
    assert printed.splitlines()[-1] == f"wrote 1 file to {tmp_path / 'out'}"
