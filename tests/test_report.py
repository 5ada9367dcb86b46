"""`keras-ae evaluate` as one report: the new numbers in --json, the HTML file, one-line errors."""

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from keras_ae.cli import main


def corner_digits(n_per_class, seed):
    """28x28 uint8 images of three kinds (a bright block in a different corner) and labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([3, 5, 8], n_per_class)
    images = rng.integers(0, 40, (len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        r, c = {3: (2, 2), 5: (2, 16), 8: (16, 2)}[label]
        images[i, r:r + 10, c:c + 10] = rng.integers(200, 256, (10, 10))
    order = rng.permutation(len(labels))
    return images[order], labels[order]


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    (x_train, y_train), (x_test, y_test) = corner_digits(40, 0), corner_digits(15, 1)
    np.savez(root / "corners.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    assert main(["train", "--model", "seed", "--dataset", str(root / "corners.npz"), "--epochs", "1",
                 "--latent-dim", "4", "--output", str(root / "run"), "--quiet"]) == 0
    return root


FAST = ["--labels-per-class", "5", "--fine-tune-epochs", "2"]


def test_json_and_html_report_carry_the_new_numbers(labelled_run, capsys):
    report = labelled_run / "out" / "report.html"
    assert main(["evaluate", str(labelled_run / "run"), "--json", "--report", str(report),
                 *FAST]) == 0
    result = json.loads(capsys.readouterr().out)  # progress bars would break the JSON
    assert result["images"] == 45 and result["report"] == str(report)
    assert 0 < result["mse"] < 1 and result["psnr"] > 0 and result["pca"]["psnr"] > 0
    # PSNR is averaged per image, so (Jensen) it is at least the PSNR of the mean MSE
    assert result["psnr"] >= -10 * np.log10(result["mse"]) - 1e-4
    assert set(result["clustering"]) == {"codes", "pixels", "pca"}
    for scores in result["clustering"].values():
        assert scores["k"] == 3 and 0 <= scores["accuracy"] <= 1 and 0 <= scores["nmi"] <= 1
    assert result["clustering"]["codes"]["dims"] == 4 and result["clustering"]["pixels"]["dims"] == 784
    probes = result["probes"]
    assert probes["labels_per_class"] == 5 and probes["labelled_images"] == 15
    for key in ("probe_codes", "probe_pixels", "fine_tuned", "from_scratch"):
        assert 0 <= probes[key] <= 1

    page = report.read_text()
    assert [p.name for p in report.parent.iterdir()] == ["report.html"]  # one file, no leftovers
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing outside the file
    pngs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(pngs) == 3  # reconstructions, codes in 2-D, the 8 worst images and their error maps
    assert "The 8 held-out images with the highest anomaly scores" in page
    for png in pngs:
        width, height = Image.open(io.BytesIO(base64.b64decode(png))).size
        assert width >= 300 and height >= 200
    for number in (f"{result['mse']:.5f}", f"{result['psnr']:.2f}",
                   f"{result['clustering']['codes']['accuracy']:.3f}",
                   f"{probes['fine_tuned']:.3f}", f"{result['pca']['mse']:.5f}"):
        assert number in page


def test_terminal_tables(labelled_run, capsys):
    assert main(["evaluate", str(labelled_run / "run"), "--quiet", *FAST]) == 0
    out = capsys.readouterr().out
    for text in ("per-pixel MSE", "PSNR (dB)", "PCA-4", "k-means on the codes",
                 "k-means on raw pixels", "k-means on PCA", "logistic regression on the codes",
                 "fine-tuned from the trained encoder", "trained from scratch", "5 per class"):
        assert text in out
    assert "━" not in out  # --quiet: no progress bars


def test_progress_is_shown_without_json(labelled_run, capsys):
    assert main(["evaluate", str(labelled_run / "run"), "--no-pca", *FAST]) == 0
    printed = capsys.readouterr()  # progress on stderr, the tables alone on stdout
    assert "codes:" in printed.err and "from_scratch:" in printed.err
    assert "PCA-4" not in printed.out and "━" not in printed.out and "from_scratch:" not in printed.out


def test_an_existing_report_is_kept_without_overwrite(labelled_run, capsys):
    report = labelled_run / "mine.html"
    report.write_text("my notes")
    argv = ["evaluate", str(labelled_run / "run"), "--report", str(report), "--no-features",
            "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{report} already exists; pass --overwrite" in err
    assert report.read_text() == "my notes"
    assert main([*argv, "--overwrite", "--no-pca"]) == 0
    page = report.read_text()
    assert "Held-out codes" in page and "Clustering" not in page  # --no-features


def test_data_without_labels_gives_no_feature_figures(labelled_run, tmp_path, capsys):
    x, _ = corner_digits(10, 2)
    np.savez(tmp_path / "unlabelled.npz", x_train=x[:20], x_test=x[20:])
    assert main(["evaluate", str(labelled_run / "run" / "model.keras"), "--dataset",
                 str(tmp_path / "unlabelled.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "psnr" in result and "clustering" not in result and "probes" not in result


def test_umap_clustering_is_a_row_of_its_own(labelled_run, capsys):
    assert main(["evaluate", str(labelled_run / "run"), "--json", "--no-pca", "--umap",
                 *FAST]) == 0
    printed = capsys.readouterr()
    clustering = json.loads(printed.out)["clustering"]
    assert set(clustering) == {"codes", "codes_umap", "pixels", "pca"}
    assert printed.err == ""  # --json: no progress
    umap_row = clustering["codes_umap"]
    assert umap_row["k"] == 3 and umap_row["dims"] == 4  # no more dimensions than the 4-d codes
    assert umap_row["accuracy"] > 0.9  # three kinds of image, after one epoch of training
    assert main(["evaluate", str(labelled_run / "run"), "--no-pca", "--umap", *FAST]) == 0
    printed = capsys.readouterr()
    assert "k-means on a UMAP embedding of the codes" in printed.out
    # the progress bar stands still while UMAP compiles and fits: one note on stderr says why
    assert printed.err.count("keras-ae: note: fitting a UMAP embedding of") == 1


def test_umap_without_labels_is_refused(labelled_run, tmp_path, capsys):
    x, _ = corner_digits(10, 2)
    np.savez(tmp_path / "unlabelled.npz", x_train=x[:20], x_test=x[20:])
    assert main(["evaluate", str(labelled_run / "run" / "model.keras"), "--dataset",
                 str(tmp_path / "unlabelled.npz"), "--umap"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--umap scores clusters against labels" in err


@pytest.mark.parametrize("extra, message", [
    (["--umap", "--no-features"], "--umap clusters the codes; it cannot be combined with"),
    (["--labels-per-class", "0"], "--labels-per-class must be >= 1, got 0"),
    (["--fine-tune-epochs", "-1"], "--fine-tune-epochs must be >= 1, got -1"),
    (["--report", "."], "is a folder; give a file name"),
    (["--report", "{run}/model.keras/report.html"], "model.keras is not a folder"),
])
def test_bad_options_are_one_line(labelled_run, extra, message, capsys):
    extra = [arg.format(run=labelled_run / "run") for arg in extra]
    assert main(["evaluate", str(labelled_run / "run"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_few_label_table_says_how_many_labels_each_class_had():
    from keras_ae.visualization.report import format_tables

    held_out = {"images": 10, "mse": 0.01, "bce": 0.1, "psnr": 20.0}
    probes = {"labelled_images": 360, "probe_codes": 0.5, "probe_pixels": 0.5,
              "fine_tuned": 0.5, "from_scratch": 0.5}
    enough = format_tables({**held_out, "probes": {
        **probes, "labels_per_class": 36, "fewest_labels_of_a_class": 36}})
    scarce = format_tables({**held_out, "probes": {
        **probes, "labels_per_class": 45, "fewest_labels_of_a_class": 31}})
    assert "Few labels: 36 per class (360 training images)" in enough
    assert "Few labels: 31-45 per class (360 training images)" in scarce
