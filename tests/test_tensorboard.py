"""TensorBoard gets reconstructions every epoch and the held-out codes in the projector."""

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins import projector

from keras_ae.models.presets import preset_config
from keras_ae.training.tensorboard import HeldOutPictures
from keras_ae.training.train import train

from harness import SMALL, small, structured_images


def image_summaries(folder):
    """(tag, step, image shape) of every image summary in the event files of `folder`."""
    found = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    # a tensor of [width, height, encoded PNG]
                    width, height, png = tf.make_ndarray(value.tensor)
                    found.append((value.tag, event.step, (int(height), int(width)),
                                  tf.io.decode_png(png).shape[-1]))
    return found


def read_projector(folder):
    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(),
                               projector.ProjectorConfig())
    (embedding,) = config.embeddings
    return embedding


def test_callback_logs_reconstructions_and_projector(tmp_path):
    model = small("seed", latent_dim=3)
    x = structured_images(64, shape=SMALL)
    labels = np.arange(64) % 7
    callback = HeldOutPictures(tmp_path, x, labels, n_images=5, embedding_size=40)
    model.fit(x, x, epochs=2, batch_size=32, verbose=0, callbacks=[callback])

    folder = tmp_path / "held_out"
    h, w = SMALL[:2]
    assert image_summaries(folder) == [("reconstructions", step, (2 * h + 1, 5 * w + 4), 1)
                                       for step in (0, 1)]
    embedding = read_projector(folder)
    codes = np.loadtxt(folder / embedding.tensor_path, delimiter="\t")
    assert codes.shape == (40, 3)
    assert np.allclose(codes, np.asarray(model.encode(x[:40])), atol=1e-5)
    metadata = (folder / embedding.metadata_path).read_text().splitlines()
    assert metadata[0] == "label\treconstruction error" and len(metadata) == 41
    assert [int(row.split("\t")[0]) for row in metadata[1:]] == list(labels[:40])
    assert list(embedding.sprite.single_image_dim) == [w, h]
    with Image.open(folder / embedding.sprite.image_path) as sprite:
        assert sprite.size == (7 * w, 7 * h)  # a square grid of 7 × 7 cells for 40 images
        first = np.asarray(sprite)[:h, :w] / 255
    assert np.allclose(first, x[0, ..., 0], atol=1 / 255)


def test_projector_shows_the_best_epochs_model_and_training_keeps_its_own(tmp_path):
    from types import SimpleNamespace

    model = small("seed", latent_dim=3)
    x = structured_images(32, shape=SMALL)
    best = SimpleNamespace(weights=model.get_weights())  # as if the first weights were best
    kept = small("seed", latent_dim=3)
    kept.set_weights(best.weights)
    callback = HeldOutPictures(tmp_path, x, n_images=2, embedding_size=32, best=best)
    model.fit(x, x, epochs=2, batch_size=16, verbose=0, callbacks=[callback])

    codes = np.loadtxt(tmp_path / "held_out" / "codes.tsv", delimiter="\t")
    assert np.allclose(codes, np.asarray(kept.encode(x)), atol=1e-5)
    assert not np.allclose(codes, np.asarray(model.encode(x)), atol=1e-3)  # it trained on
    rows = (tmp_path / "held_out" / "metadata.tsv").read_text().splitlines()[1:]
    assert np.allclose([float(r.split("\t")[1]) for r in rows], kept.anomaly_score(x),
                       rtol=1e-5)


def test_training_run_writes_pictures_and_projector(tmp_path):
    x = (structured_images(120) * 255).astype("uint8")
    dataset = tmp_path / "digits.npz"
    np.savez(dataset, x_train=x, y_train=np.arange(120) % 10)
    config = preset_config("seed", dataset=str(dataset), epochs=2, latent_dim=4, batch_size=32)
    train(config, tmp_path / "run", verbose=0)

    folder = tmp_path / "run" / "logs" / "held_out"
    assert [(tag, step) for tag, step, _, _ in image_summaries(folder)] == [
        ("reconstructions", 0), ("reconstructions", 1)]
    embedding = read_projector(folder)
    assert embedding.tensor_name == "latent codes (4-d)"
    metadata = (folder / "metadata.tsv").read_text().splitlines()
    assert len(metadata) == 1 + 12  # the 10 % validation split of 120 images
    assert np.loadtxt(folder / "codes.tsv", delimiter="\t").shape == (12, 4)


def test_projector_without_labels_lists_each_image_by_index(tmp_path):
    from keras_ae.training.tensorboard import write_projector

    model = small("seed", latent_dim=2)
    x = structured_images(5, shape=SMALL)
    write_projector(tmp_path, model, x)
    rows = (tmp_path / "metadata.tsv").read_text().splitlines()
    scores = np.asarray(model.anomaly_score(x))
    assert rows[0] == "index\treconstruction error"
    assert [r.split("\t")[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]
    assert np.allclose([float(r.split("\t")[1]) for r in rows[1:]], scores, rtol=1e-5)
    assert Image.open(tmp_path / "sprite.png").size == (3 * SMALL[1], 3 * SMALL[0])


def scalar_tags(folder):
    """The tags of every scalar summary in the event files under `folder`."""
    tags = set()
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags |= {value.tag for value in event.summary.value
                     if value.metadata.plugin_data.plugin_name == "scalars"}
    return tags


def scalars(folder):
    """{(run, tag, step): value} of every scalar summary under `folder` (runs: its subfolders)."""
    found = {}
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tensor.dtype:  # a scalar as a float32 tensor (not the file's header)
                    found[path.parent.name, value.tag, event.step] = float(
                        tf.make_ndarray(value.tensor))
    return found


def test_epoch_tensorboard_writes_what_keras_tensorboard_writes_by_epoch(tmp_path):
    import keras

    from keras_ae.training.tensorboard import EpochTensorBoard

    x = structured_images(32, shape=SMALL)
    ours, keras_own = EpochTensorBoard(tmp_path / "ours"), keras.callbacks.TensorBoard(
        str(tmp_path / "keras"))
    model = small("seed")
    model.fit(x, x, batch_size=8, epochs=2, validation_data=(x, x), verbose=0,
              callbacks=[keras_own, ours])  # one fit: the same logs for both
    assert {"epoch_loss", "epoch_reconstruction_loss", "epoch_learning_rate"} <= scalar_tags(
        tmp_path / "ours")
    expected = scalars(tmp_path / "keras")
    assert ("validation", "evaluation_loss_vs_iterations", 8) in expected  # 4 steps an epoch
    assert scalars(tmp_path / "ours") == expected
    assert sorted(p.parent.name for p in (tmp_path / "ours").rglob("events.out.tfevents.*")) == [
        "train", "validation"]  # one event file a run, as Keras writes
    assert all("batch_" not in tag for _, tag, _ in expected)


@pytest.mark.parametrize("flush_every", [0.0, 1e9])
def test_epoch_scalars_reach_the_files_every_flush_every_seconds_and_at_the_end(tmp_path,
                                                                                flush_every):
    import keras

    from keras_ae.training.tensorboard import EpochTensorBoard

    seen = []

    class Look(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                seen.extend(step for run, tag, step in scalars(tmp_path) if tag == "epoch_loss")

    x = structured_images(32, shape=SMALL)
    small("seed").fit(x, x, batch_size=8, epochs=3, validation_data=(x, x), verbose=0,
                      callbacks=[EpochTensorBoard(tmp_path, flush_every=flush_every), Look()])
    assert sorted(seen) == ([0, 0, 1, 1] if flush_every == 0 else [])  # train and validation
    assert sorted(step for _, tag, step in scalars(tmp_path) if tag == "epoch_loss") == [
        0, 0, 1, 1, 2, 2]


@pytest.fixture()
def digits_npz(tmp_path):
    x = (structured_images(120) * 255).astype("uint8")
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=x, y_train=np.arange(120) % 10)
    return str(path)


def test_linear_preset_trains_from_the_command_line(digits_npz, tmp_path):
    """A linear model's reconstructions are unbounded: the pictures show them clipped."""
    from keras_ae.cli import main

    run = tmp_path / "run"
    assert main(["train", "--model", "linear", "--epochs", "1", "--dataset", digits_npz,
                 "--output", str(run), "--quiet"]) == 0
    assert (run / "model.keras").is_file()
    assert [(tag, step) for tag, step, _, _ in image_summaries(run / "logs" / "held_out")] == [
        ("reconstructions", 0)]


def test_a_failing_picture_is_one_note_and_training_goes_on(digits_npz, tmp_path, capsys,
                                                           monkeypatch):
    import keras_ae.training.tensorboard as tensorboard
    from keras_ae.cli import main

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tensorboard, "image_grid", fail)
    run = tmp_path / "run"
    assert main(["train", "--model", "seed", "--epochs", "2", "--dataset", digits_npz,
                 "--output", str(run), "--quiet"]) == 0
    captured = capsys.readouterr()
    notes = [line for line in (captured.out + captured.err).splitlines()
             if "held-out pictures" in line]
    assert notes == ["keras-ae: note: TensorBoard's held-out pictures stopped (OSError: [Errno 28] "
                     "No space left on device); training goes on"]
    assert (run / "model.keras").is_file()
    assert [int(row.split(",")[0]) for row in (run / "history.csv").read_text().splitlines()[1:]
            ] == [0, 1]


def test_projector_reads_held_out_images_a_bounded_batch_at_a_time(tmp_path, monkeypatch):
    """At the end of training the projector calls the model on at most PROJECTOR_BYTES of
    input at a time (one eager call of all 2,000 held-out 64x64x3 images held their activations:
    1.1 GB more), and uint8 held-out images are kept uint8, not as a float copy."""
    import keras_ae.training.tensorboard as tensorboard
    from keras_ae.data.pipeline import float_bytes

    model = small("seed", latent_dim=3)
    x = (structured_images(10, shape=SMALL) * 255).astype("uint8")
    monkeypatch.setattr(tensorboard, "PROJECTOR_BYTES", float_bytes(4, SMALL))
    callback = HeldOutPictures(tmp_path, x, n_images=2, embedding_size=10)
    assert callback.embedding_images.dtype == np.uint8
    model.fit(x, x, epochs=1, batch_size=10, verbose=0, callbacks=[callback])

    sizes = []
    as_images = model.as_images
    monkeypatch.setattr(model, "as_images", lambda images: (sizes.append(len(images)),
                                                            as_images(images))[1])
    tensorboard.write_projector(tmp_path / "again", model, callback.embedding_images)
    assert sizes and max(sizes) <= 4
    codes = np.loadtxt(tmp_path / "again" / "codes.tsv", delimiter="\t")
    assert np.allclose(codes, np.asarray(model.encode(x / 255)), atol=1e-5)
    with Image.open(tmp_path / "again" / "sprite.png") as sprite:
        h, w = SMALL[:2]
        assert np.array_equal(np.asarray(sprite)[:h, w:2 * w], x[1, ..., 0])
