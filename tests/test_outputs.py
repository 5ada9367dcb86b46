"""Writing a model's outputs as arrays and PNG images (keras_ae.serving.outputs)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ae.data.inputs import read_inputs
from keras_ae.serving.outputs import write_outputs

SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).random((6, *SHAPE), dtype=np.float32)


def test_write_outputs_npy_and_png_round_trip(tmp_path, images):
    outputs = {"image": images[:3], "score": np.array([0.1, 0.2, 0.3], np.float32)}
    written = write_outputs(outputs, tmp_path / "out", names=["one", "two", "three"])
    out = tmp_path / "out"
    assert set(written) == {out / "image.npy", out / "score.npy", out / "image" / "one.png",
                            out / "image" / "two.png", out / "image" / "three.png"}
    np.testing.assert_array_equal(np.load(out / "image.npy"), images[:3])
    np.testing.assert_array_equal(np.load(out / "score.npy"), outputs["score"])
    back = read_inputs([out / "image" / f"{n}.png" for n in ("one", "two", "three")], image_shape=SHAPE)
    assert np.abs(back - images[:3]).max() <= 0.5 / 255 + 1e-6
    assert not (out / "score").exists()  # scores are not images

    default = write_outputs({"image": images[:2]}, tmp_path / "default")
    assert tmp_path / "default" / "image" / "0001.png" in default


def test_write_outputs_refuses_to_overwrite(tmp_path, images):
    out = tmp_path / "out"
    (out / "image").mkdir(parents=True)
    (out / "image" / "0001.png").write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="0001.png already exist"):
        write_outputs({"image": images[:2], "z": np.zeros((2, 3))}, out)
    assert sorted(p.name for p in out.rglob("*")) == ["0001.png", "image"]  # nothing written
    assert (out / "image" / "0001.png").read_bytes() == b"keep"
    write_outputs({"image": images[:2]}, out, overwrite=True)
    assert read_inputs(out / "image" / "0001.png").shape == (1, 28, 28, 1)
    with pytest.raises(ValueError, match="2 names for outputs of batch size 3"):
        write_outputs({"image": images[:3]}, tmp_path / "other", names=["a", "b"])
