"""keras_ae.commands.common: the data options of the commands (--image-size, --color-mode) and
the held-out split they read — validation, with a note, where the data has no test split."""

from __future__ import annotations

import pytest

from keras_ae.cli import main

from image_files import pixels, write_folder

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_cli_trains_and_evaluates_on_a_folder(tmp_path, capsys):
    write_folder(tmp_path / "photos", pixels(30, (10, 12, 3), seed=15))
    run = tmp_path / "run"
    assert main(["train", "--model", "conv", "--dataset", str(tmp_path / "photos"),
                 "--image-size", "8x8", "--color-mode", "grayscale", "--epochs", "1",
                 "--batch-size", "4", "--latent-dim", "4", "--output", str(run), "--quiet"]) == 0
    saved = (run / "config.json").read_text()
    assert '"image_size": [\n    8,\n    8\n  ]' in saved and '"color_mode": "grayscale"' in saved
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0  # a folder has no test split
    said = capsys.readouterr()
    note = f"no test split in {tmp_path / 'photos'}: using the validation split"
    assert note in said.out + said.err
    assert '"split": "validation", "images": 3,' in said.out and '"fit_images": 27' in said.out
    assert main(["plot", str(run), "--what", "errors", "-n", "2",
                 "--output", str(tmp_path / "errors.png")]) == 0
    said = capsys.readouterr()
    assert note in said.out + said.err and (tmp_path / "errors.png").is_file()
    assert main(["plot", str(run), "--what", "errors", "--split", "test"]) == 2
    assert capsys.readouterr().err == (f"keras-ae: error: --split test: no test split in "
                                       f"{tmp_path / 'photos'}; its splits are train, "
                                       "validation, all\n")
    assert main(["train", "--dataset", str(tmp_path / "photos"), "--image-size", "8y8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "image size must be HxW" in err
