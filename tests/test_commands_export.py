"""keras-ae export (keras_ae.commands.export): SavedModel and TFLite files that `predict` runs,
bad options and unwritable or existing outputs refused in one line."""

import numpy as np
import pytest

from keras_ae.cli import main


def test_export_and_predict_round_trip(trained_run, npz_dataset, tmp_path, capsys):
    saved, tflite = tmp_path / "sm", tmp_path / "seed_int8.tflite"
    assert main(["export", str(trained_run), "--output", str(saved)]) == 0
    assert main(["export", str(trained_run), "--format", "tflite", "--quantize", "int8",
                 "--output", str(tflite)]) == 0  # calibrates on the run's own dataset
    assert (saved / "saved_model.pb").is_file() and tflite.stat().st_size > 0
    digits = np.load(npz_dataset)["x_test"][:3]
    np.save(tmp_path / "digits.npy", digits)
    capsys.readouterr()
    for exported in (saved, tflite):
        out = tmp_path / f"scores-{exported.name}"
        assert main(["predict", str(exported), "--input", str(tmp_path / "digits.npy"),
                     "--signature", "anomaly_score", "--output", str(out)]) == 0
        assert np.load(out / "score.npy").shape == (3,)
    printed = capsys.readouterr().out
    assert printed.count("digits_0:") == 2
    recon = tmp_path / "recon"
    assert main(["predict", str(saved), "--input", str(tmp_path / "digits.npy"),
                 "--output", str(recon)]) == 0
    assert sorted(p.name for p in (recon / "image").iterdir()) == \
        ["digits_0.png", "digits_1.png", "digits_2.png"]


@pytest.mark.parametrize("extra, message", [
    (["--format", "tflite", "--quantize", "int4"], "invalid choice: 'int4'"),
    (["--quantize", "int8"], "--quantize applies to --format tflite"),
    (["--format", "tflite", "--output", "model.onnx"], "TFLite files end in .tflite"),
])
def test_export_bad_options(trained_run, tmp_path, extra, message, capsys):
    argv = ["export", str(trained_run), *extra]
    if "--output" not in extra:
        argv += ["--output", str(tmp_path / "out.tflite")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.tflite").exists()


def test_export_refuses_to_overwrite(trained_run, tmp_path, capsys):
    target = tmp_path / "m.tflite"
    target.write_bytes(b"user file")
    assert main(["export", str(trained_run), "--format", "tflite", "--output", str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"user file"


def test_unwritable_output_is_one_line(trained_run, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    assert main(["export", str(trained_run), "--output", str(tmp_path / "a_file" / "sm")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a_file" in err
