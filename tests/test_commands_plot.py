"""`keras-ae plot` and `keras-ae sample` (keras_ae.commands.plot, keras_ae.commands.sample, which
read the same trained runs): every picture from a run folder, and one-line errors."""

import numpy as np
import pytest
from PIL import Image

import keras_ae
from keras_ae.cli import main
from keras_ae.visualization.plots import WHAT

from harness import structured_images


@pytest.fixture(scope="module")
def labelled_npz(tmp_path_factory):
    images = (structured_images(240, shape=(28, 28, 1)) * 255).astype("uint8")
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x_train=images[:200], y_train=np.arange(200) % 10,
             x_test=images[200:], y_test=np.arange(40) % 10)
    return str(path)


@pytest.fixture(scope="module")
def runs(labelled_npz, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    for preset, latent in (("seed", "8"), ("vae", "2")):
        assert main(["train", "--model", preset, "--dataset", labelled_npz, "--epochs", "1",
                     "--latent-dim", latent, "--output", str(folder / preset), "--quiet"]) == 0
    return folder


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-ae: error:"), err
    return err


@pytest.mark.parametrize("what", WHAT)
def test_plot_writes_each_picture(runs, what, tmp_path, capsys):
    run = runs / ("vae" if what in ("manifold", "samples") else "seed")
    output = tmp_path / f"{what}.png"
    extra = ["--method", "pca"] if what == "latent" else []
    assert main(["plot", str(run), "--what", what, "--output", str(output), *extra]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {output}"
    with Image.open(output) as image:
        assert image.format == "PNG" and min(image.size) >= 300


def test_plot_defaults_to_a_file_named_after_the_run(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(runs / "vae"), "--what", "latent", "--split", "validation"]) == 0
    assert (tmp_path / "vae_latent.png").is_file()


def test_plot_tsne_of_held_out_codes(runs, tmp_path, capsys):
    output = tmp_path / "tsne.png"
    assert main(["plot", str(runs / "seed"), "--what", "latent", "--method", "tsne",
                 "--output", str(output)]) == 0
    assert "KL divergence" in capsys.readouterr().err  # the progress bar
    assert Image.open(output).format == "PNG"


def test_plot_refuses_to_replace_a_file(runs, tmp_path, capsys):
    output = tmp_path / "mine.png"
    output.write_bytes(b"mine")
    assert main(["plot", str(runs / "seed"), "--what", "curves", "--output", str(output)]) == 2
    assert "mine.png already exists; pass --overwrite to replace it" in one_line_error(capsys)
    assert output.read_bytes() == b"mine"
    assert main(["plot", str(runs / "seed"), "--what", "curves", "--output", str(output),
                 "--overwrite"]) == 0
    assert Image.open(output).format == "PNG"


@pytest.mark.parametrize("run, argv, message", [
    ("seed", ["--what", "manifold"], "manifold needs a variational autoencoder with a 2-d "
                                     "latent space; 'seed' (Autoencoder) has no prior"),
    ("seed", ["--what", "samples"], "samples need a variational autoencoder"),
    ("seed", ["--what", "latent", "--method", "raw"], "--method raw needs a 2-d latent space; "
                                                      "this model's is 8-d"),
    ("seed", ["--what", "reconstructions", "--method", "pca"], "--method applies to --what latent"),
    ("seed", ["--what", "errors", "-n", "0"], "-n must be >= 1, got 0"),
    ("seed", ["--what", "curves", "-n", "3"], "-n does not apply to --what curves"),
    ("seed", ["--what", "curves", "--output", "x.jpg"], "--output must end in .png"),
    ("seed", ["--what", "bars"], "invalid choice: 'bars'"),
    ("vae", ["--what", "latent", "--split", "nope"], "unknown split 'nope'"),
])
def test_plot_bad_input_exits_2_with_one_line(runs, run, argv, message, tmp_path, capsys,
                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(runs / run), *argv]) == 2
    assert message in one_line_error(capsys)
    assert not list(tmp_path.iterdir())  # nothing written


def test_manifold_refuses_a_vae_with_a_wider_code(labelled_npz, tmp_path, capsys):
    model_file = tmp_path / "vae16.keras"
    keras_ae.build("vae", latent_dim=16).save(model_file)
    assert main(["plot", str(model_file), "--what", "manifold"]) == 2
    assert "manifold needs a 2-d latent space; 'vae' has 16-d codes" in one_line_error(capsys)
    assert main(["plot", str(model_file), "--what", "curves"]) == 2
    assert "no history.csv beside" in one_line_error(capsys)


def test_sample_writes_a_grid_and_the_array(runs, tmp_path, capsys):
    prefix = tmp_path / "draws"
    assert main(["sample", str(runs / "vae"), "-n", "10", "--seed", "7",
                 "--output", str(prefix)]) == 0
    drawn = np.load(tmp_path / "draws.npy")
    assert drawn.shape == (10, 28, 28, 1) and drawn.dtype == np.float32
    assert 0 <= drawn.min() and drawn.max() <= 1
    with Image.open(tmp_path / "draws.png") as grid:
        assert grid.size == (4 * 29 - 1, 3 * 29 - 1)  # 4 columns, 3 rows, 1-pixel gaps
        assert np.allclose(np.asarray(grid)[:28, :28] / 255, drawn[0, ..., 0], atol=1 / 255)
    model = keras_ae.load_model(runs / "vae")
    assert np.allclose(drawn, np.asarray(model.sample(10, seed=7)), atol=1e-6)

    assert main(["sample", str(runs / "vae"), "-n", "10", "--seed", "7",
                 "--output", str(tmp_path / "again.png")]) == 0
    assert np.array_equal(np.load(tmp_path / "again.npy"), drawn)  # same seed, same samples
    assert main(["sample", str(runs / "vae"), "-n", "10", "--seed", "8",
                 "--output", str(tmp_path / "other")]) == 0
    assert not np.allclose(np.load(tmp_path / "other.npy"), drawn)


@pytest.mark.parametrize("run, argv, message", [
    ("seed", [], "samples need a variational autoencoder; 'seed' (Autoencoder) has no prior"),
    ("vae", ["-n", "0"], "-n must be >= 1, got 0"),
    ("vae", ["--output", "taken"], "taken.npy already exists; pass --overwrite to replace it"),
])
def test_sample_bad_input_exits_2_with_one_line(runs, run, argv, message, tmp_path, capsys,
                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.npy").write_bytes(b"mine")
    assert main(["sample", str(runs / run), *argv]) == 2
    assert message in one_line_error(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["taken.npy"]
    assert (tmp_path / "taken.npy").read_bytes() == b"mine"


def test_plot_shows_no_more_than_the_split_holds(runs, tmp_path, capsys):
    output = tmp_path / "r.png"
    assert main(["plot", str(runs / "seed"), "--what", "reconstructions", "-n", "32",
                 "--split", "validation", "--output", str(output)]) == 0  # 20 images
    said = capsys.readouterr()
    assert "-n 32: the split has 20 images; showing 20" in said.out + said.err
    with Image.open(output) as image:
        assert image.size == (2100, 320)  # 20 panels of 1 inch and a margin, at 100 dpi
    assert main(["plot", str(runs / "seed"), "--what", "interpolate", "-n", "16",
                 "--split", "validation", "--output", str(tmp_path / "i.png")]) == 0
    said = capsys.readouterr()
    assert "-n 16: the split has 10 pairs of images; showing 10" in said.out + said.err


def test_sample_draws_in_batches_and_grids_the_first_1024(runs, tmp_path, capsys):
    from keras_ae.commands.sample import GRID_SAMPLES

    prefix = tmp_path / "many"
    assert main(["sample", str(runs / "vae"), "-n", "1030", "--seed", "2",
                 "--output", str(prefix)]) == 0
    said = capsys.readouterr()
    assert "many.png shows the first 1,024 of the 1,030 samples" in said.out + said.err
    drawn = np.load(tmp_path / "many.npy")
    assert drawn.shape == (1030, 28, 28, 1) and GRID_SAMPLES == 1024
    model = keras_ae.load_model(runs / "vae")
    np.testing.assert_allclose(drawn[:10], np.asarray(model.sample(10, seed=2)), atol=1e-6)
    assert not np.allclose(drawn[:256], drawn[256:512])  # each batch its own draws
    with Image.open(tmp_path / "many.png") as grid:
        assert grid.size == (32 * 29 - 1, 32 * 29 - 1)
