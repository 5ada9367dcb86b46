"""Every picture renders (Agg) to a real PNG of the expected size, and shows what it says."""

import numpy as np
import pytest
from PIL import Image

from keras_ae.training.callbacks import AtomicCSVLogger
from keras_ae.visualization import plots

from harness import SMALL, small, structured_images

N = 100


@pytest.fixture(scope="module")
def images():
    return structured_images(N, shape=SMALL)


@pytest.fixture(scope="module")
def labels():
    return np.arange(N) % 10


@pytest.fixture(scope="module")
def autoencoder():
    return small("seed", latent_dim=4)


@pytest.fixture(scope="module")
def denoiser():
    return small("denoising", latent_dim=4)


@pytest.fixture(scope="module")
def vae2():
    return small("vae", latent_dim=2)


def assert_png(fig, path):
    """`fig` saved to `path` is a PNG of exactly the figure's size × dpi, with content."""
    plots.save_figure(fig, path)
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
        assert image.size == (width, height)
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # not a blank canvas
    return pixels


def panel(ax):
    """The pixels shown on an image panel."""
    return np.asarray(ax.images[0].get_array())


def test_image_grid_places_images_row_by_row():
    tiles = np.stack([np.full((2, 3, 1), v, "float32") for v in (0.1, 0.2, 0.3)])
    grid = plots.image_grid(tiles, cols=2, pad=1)
    assert grid.shape == (2 * 2 + 1, 2 * 3 + 1, 1)
    assert np.allclose(grid[:2, :3], 0.1) and np.allclose(grid[:2, 4:], 0.2)
    assert np.allclose(grid[3:, :3], 0.3)
    assert np.allclose(grid[3:, 4:], 1.0) and np.allclose(grid[2], 1.0)  # empty cell, padding


def test_reconstructions_show_originals_over_reconstructions(autoencoder, images, tmp_path):
    fig = plots.reconstructions(autoencoder, images[:6])
    assert_png(fig, tmp_path / "r.png")
    axes = fig.axes
    assert len(axes) == 12
    assert np.allclose(panel(axes[0]), images[0, ..., 0])
    assert np.allclose(panel(axes[6]), np.asarray(autoencoder(images[:1]))[0, ..., 0], atol=1e-6)
    error = float(autoencoder.anomaly_score(images[:1])[0])
    assert axes[6].get_title() == f"MSE {error:.4f}"
    assert [axes[0].get_ylabel(), axes[6].get_ylabel()] == ["original", "reconstruction"]


def test_reconstructions_of_a_denoiser_show_the_corrupted_inputs(denoiser, images, tmp_path):
    fig = plots.reconstructions(denoiser, images[:4], seed=5)
    assert_png(fig, tmp_path / "d.png")
    corrupted = np.asarray(denoiser.denoise.apply(images[:4], seed=5))
    assert len(fig.axes) == 12 and fig.axes[4].get_ylabel().startswith("corrupted")
    assert np.allclose(panel(fig.axes[4]), corrupted[0, ..., 0])
    assert np.allclose(panel(fig.axes[8]), np.asarray(denoiser(corrupted[:1]))[0, ..., 0],
                       atol=1e-6)


@pytest.mark.parametrize("method, axis", [
    ("tsne", "t-SNE 1"), ("pca", "PC 1 ("), ("umap", "UMAP 1"),
])
def test_latent_maps_codes_coloured_by_label(autoencoder, images, labels, method, axis, tmp_path):
    fig = plots.latent(autoencoder, images, labels, method=method, verbose=0)
    assert_png(fig, tmp_path / f"{method}.png")
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith(axis)
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "label"
    assert [t.get_text() for t in legend.get_texts()] == [str(d) for d in range(10)]
    assert sum(len(c.get_offsets()) for c in ax.collections) == N


def test_a_umap_map_says_one_note_and_keeps_umap_learns_log_quiet(autoencoder, images, labels,
                                                                  capfd, caplog):
    pytest.importorskip("umap")
    capfd.readouterr()
    with caplog.at_level("WARNING", logger="keras_ae"):
        plots.latent(autoencoder, images, labels, method="umap", verbose=1)
    assert [r.getMessage() for r in caplog.records] == [
        f"fitting a UMAP embedding of {N} codes (compiled on its first use in a process: up to "
        "a minute)"]
    printed = capfd.readouterr()
    assert "UMAP(" not in printed.out + printed.err and "fuzzy" not in printed.out + printed.err


def test_latent_raw_plane_without_labels_has_an_error_colour_bar(vae2, images, tmp_path):
    fig = plots.latent(vae2, images)  # a 2-d code: the plane itself by default
    assert_png(fig, tmp_path / "raw.png")
    ax, colour_bar = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z[0]", "z[1]")
    assert np.allclose(ax.collections[0].get_offsets(), np.asarray(vae2.encode(images)), atol=1e-5)
    assert colour_bar.get_ylabel().startswith("reconstruction error")


def test_raw_map_of_a_wider_code_is_refused(autoencoder, images):
    with pytest.raises(ValueError, match="method 'raw' needs a 2-d latent space, this one is 4-d"):
        plots.latent(autoencoder, images, method="raw")


def test_manifold_decodes_the_quantile_grid_in_one_picture(vae2, tmp_path):
    from scipy.stats import norm

    fig = plots.manifold(vae2, n=5)
    assert_png(fig, tmp_path / "m.png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z[0]", "z[1]")
    shown = panel(ax)
    h, w = SMALL[:2]
    assert shown.shape == (5 * h, 5 * w)
    low, high = norm.ppf([0.05, 0.95])
    top_left = np.asarray(vae2.decode(np.array([[low, high]], "float32")))[0, ..., 0]
    assert np.allclose(shown[:h, :w], top_left, atol=1e-5)  # z[1] grows upwards


def test_manifold_refuses_other_models(autoencoder):
    with pytest.raises(ValueError, match="manifold needs a variational autoencoder"):
        plots.manifold(autoencoder)
    with pytest.raises(ValueError, match="manifold needs a 2-d latent space; 'vae' has 3-d codes"):
        plots.manifold(small("vae", latent_dim=3))


def test_interpolate_runs_from_one_code_to_the_other(autoencoder, images, tmp_path):
    fig = plots.interpolate(autoencoder, images[:2], images[2:4], steps=5)
    assert_png(fig, tmp_path / "i.png")
    axes = fig.axes
    assert len(axes) == 2 * 7 and axes[0].get_title() == "input A" and axes[6].get_title() == "input B"
    z_a, z_b = (np.asarray(autoencoder.encode(images[i:i + 1])) for i in (0, 2))
    start = np.asarray(autoencoder.decode(z_a))[0, ..., 0]
    middle = np.asarray(autoencoder.decode((z_a + z_b) / 2))[0, ..., 0]
    assert np.allclose(panel(axes[1]), start, atol=1e-5)
    assert np.allclose(panel(axes[3]), middle, atol=1e-5)


def test_samples_are_seeded_draws_of_a_vae(vae2, autoencoder, tmp_path):
    fig = plots.samples(vae2, n=9, seed=3)
    assert_png(fig, tmp_path / "s.png")
    drawn = plots.draw_samples(vae2, 9, seed=3)
    assert drawn.shape == (9, *SMALL)
    assert np.array_equal(drawn, plots.draw_samples(vae2, 9, seed=3))
    assert not np.allclose(drawn, plots.draw_samples(vae2, 9, seed=4))
    h, w = SMALL[:2]
    assert np.allclose(panel(fig.axes[0])[:h, :w], drawn[0, ..., 0])
    with pytest.raises(ValueError, match="samples need a variational autoencoder"):
        plots.samples(autoencoder)


def test_curves_from_a_history_file(tmp_path):
    logger = AtomicCSVLogger(tmp_path / "history.csv")
    logger.on_train_begin()
    for epoch, (loss, val) in enumerate([(3.0, 3.5), (2.0, 2.2), (1.5, 2.4)]):
        logger.on_epoch_end(epoch, {"loss": loss, "val_loss": val, "kl_loss": loss / 3,
                                    "val_kl_loss": val / 3})
    fig = plots.curves(tmp_path)
    assert_png(fig, tmp_path / "c.png")
    loss_ax, kl_ax = fig.axes[:2]
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("epoch", "loss")
    assert kl_ax.get_ylabel() == "kl loss"
    texts = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert texts == ["training", "validation", "best validation (epoch 2)"]
    assert list(loss_ax.lines[1].get_ydata()) == [3.5, 2.2, 2.4]
    with pytest.raises(ValueError, match="no training history"):
        plots.curves(tmp_path / "missing")


def test_errors_show_the_worst_scored_inputs(autoencoder, images, labels, tmp_path):
    fig = plots.errors(autoencoder, images, labels, n=4)
    assert_png(fig, tmp_path / "e.png")
    scores = np.asarray(autoencoder.anomaly_score(images))
    worst = np.argsort(-scores)[:4]
    order, top = plots.worst_scored(autoencoder, images, 4)
    assert list(order) == list(worst) and np.allclose(top, scores[worst])
    axes = fig.axes
    assert np.allclose(panel(axes[0]), images[worst[0], ..., 0])
    assert axes[0].get_title() == f"#1: MSE {scores[worst[0]]:.4f}\nlabel {labels[worst[0]]}"
    x_hat = np.asarray(autoencoder(images[worst[:1]]))[0]
    # the map is the per-pixel error of the score (MSE here), channels averaged
    assert np.allclose(panel(axes[8]), np.square(images[worst[0]] - x_hat).mean(-1), atol=1e-6)
    assert axes[-1].get_ylabel() == "per-pixel MSE"  # the colour bar


def test_save_figure_is_atomic_and_keeps_existing_files(autoencoder, images, tmp_path):
    target = tmp_path / "r.png"
    target.write_bytes(b"mine")
    fig = plots.reconstructions(autoencoder, images[:2])
    with pytest.raises(FileExistsError):
        plots.save_figure(fig, target)
    assert target.read_bytes() == b"mine"
    with pytest.raises(ValueError, match="written as .png"):
        plots.save_figure(fig, tmp_path / "r.jpg")
    plots.save_figure(fig, target, overwrite=True)
    assert Image.open(target).format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.png"]


def test_images_of_the_wrong_shape_are_refused(autoencoder):
    with pytest.raises(ValueError, match=r"images have shape \(8, 8, 1\) but the model expects"):
        plots.reconstructions(autoencoder, np.zeros((2, 8, 8, 1), "float32"))


def test_many_classes_get_a_colour_bar_instead_of_a_legend(autoencoder, images, tmp_path):
    fig = plots.latent(autoencoder, images, np.arange(N) % 30, method="pca")
    assert_png(fig, tmp_path / "many.png")
    ax, colour_bar = fig.axes
    assert ax.get_legend() is None and colour_bar.get_ylabel() == "label"
