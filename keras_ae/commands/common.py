"""What the sub-commands share: the one-line error, the parser class, results on stdout and the
data options."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from keras_ae.data.images import COLOR_MODES
from keras_ae.data.local import looks_like_path
from keras_ae.utils.quiet import results_stream


class CLIError(Exception):
    """A problem with the user's input, reported as one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block)."""

    def error(self, message):
        command = self.prog.removeprefix("keras-ae").strip()
        raise CLIError(f"{command}: {message}" if command else message)


def print_result(text: str = "") -> None:
    """Print a line of the command's result on stdout (progress and notes go to stderr)."""
    print(text, file=results_stream())


def add_data_options(p: argparse.ArgumentParser, dataset_default: str | None = None) -> None:
    """--dataset, --data-dir and the image options, as every command that reads data takes them."""
    p.add_argument("--dataset", default=dataset_default,
                   help="a folder of images (class subfolders give labels), a tfds name (mnist, "
                        "fashion_mnist, …), a folder of IDX files or an .npz file"
                        + (f" (default: {dataset_default})" if dataset_default else
                           " (default: the run's dataset)"))
    p.add_argument("--data-dir", help="local folder (or .npz file) with the dataset's IDX or image "
                                      "files, or a tfds data dir")
    p.add_argument("--image-size", metavar="HxW",
                   help="resize every image to HxW (N: NxN; default: the images' own size when "
                        "they agree"
                        + ("" if dataset_default else ", or the run's") + ")")
    p.add_argument("--color-mode", choices=list(COLOR_MODES),
                   help="convert images to grayscale, rgb or rgba (default: the images' own"
                        + ("" if dataset_default else ", or the run's") + ")")
    p.add_argument("--skip-bad-images", action="store_true", default=None,
                   help="leave out unreadable or damaged image files (their number is reported)")


def add_resize_option(p: argparse.ArgumentParser, when: str = "") -> None:
    """--resize, as predict and detect read images (`when`: the condition it applies under)."""
    p.add_argument("--resize", action="store_true",
                   help=f"{when}convert images to the model's input size and channels (default: "
                        "refuse images of another shape)")


def data_options_given(args: argparse.Namespace) -> list[str]:
    """The options of `add_data_options` given on the command line."""
    flags = ("--dataset", "--data-dir", "--image-size", "--color-mode", "--skip-bad-images")
    return [flag for flag in flags if getattr(args, flag[2:].replace("-", "_")) is not None]


def absolute_if_path(value: str | None) -> str | None:
    """Local paths are stored absolute in config.json, so a run can be used from anywhere."""
    return str(Path(value).resolve()) if value and Path(value).exists() else value


def run_config_beside(model_path: Path):
    """The RunConfig of the run a model file belongs to (RUN/model.keras or
    RUN/checkpoints/*.keras), or None for a model file outside a run folder; a run's
    config.json that is not a valid config is a ValueError naming it."""
    from keras_ae.models.config import RunConfig

    if model_path.name == "model.keras":
        config_path = model_path.parent / "config.json"
    elif model_path.parent.name == "checkpoints":
        config_path = model_path.parent.parent / "config.json"
    else:
        return None
    return RunConfig.load(config_path) if config_path.is_file() else None


def run_model_path(model: str) -> Path:
    """The model file a command's RUN_DIR_OR_MODEL argument names, with its run's config.json
    checked, so that every command accepts or refuses a run folder alike."""
    from keras_ae.models.saving import resolve_model_path

    path = resolve_model_path(model)
    run_config_beside(path)
    return path


def data_of_run(args, model_path: Path) -> tuple[str, dict]:
    """The dataset and `load_arrays` / `open_split` options: --dataset/--data-dir, else the
    config.json of the run the model belongs to, else MNIST; the image options given, else the
    run's (the model needs its images in that size and colour; the run's --skip-bad-images
    applies to its own dataset only). A run's data file or folder that is gone is a CLIError
    asking for --dataset."""
    config = run_config_beside(model_path)
    dataset = args.dataset or (config.dataset if config else "mnist")
    if (not args.dataset and config and looks_like_path(dataset)
            and not Path(dataset).expanduser().exists()):
        raise CLIError(f"the run's data is not at {dataset} any more (no such file or folder): "
                       "give --dataset (and --data-dir) where it is now")
    data_dir = args.data_dir or (config.data_dir if config and not args.dataset else None)
    fraction = config.validation_fraction if config else 0.1
    image = {}
    for name in ("image_size", "color_mode"):
        value = getattr(args, name, None)
        image[name] = value if value is not None else getattr(config, name, None)
    run_skips = config is not None and config.skip_bad_images and not args.dataset
    image["skip_bad_images"] = bool(getattr(args, "skip_bad_images", None)) or run_skips
    return dataset, dict(data_dir=data_dir, validation_fraction=fraction, with_labels=False, **image)


def check_seed(seed: int | None) -> None:
    """A --seed given must be one NumPy and TensorFlow take."""
    if seed is not None and not 0 <= seed < 2**32:
        raise CLIError(f"--seed must be in [0, 2**32), got {seed}")


class RunData:
    """The data a command reads for a model (`data_of_run`), opened once: `split(name)` gives
    a split, `held_out(requested, model)` the held-out one the command reads for a model."""

    def __init__(self, args, model_path: Path):
        from keras_ae.data import open_data

        self.dataset, load = data_of_run(args, model_path)
        self.fraction = load["validation_fraction"]
        self.source = open_data(self.dataset, data_dir=load["data_dir"],
                                image_size=load["image_size"], color_mode=load["color_mode"],
                                skip_bad_images=load["skip_bad_images"])

    def split(self, name: str):
        """The split `name` of the data (a `keras_ae.data.Split`, read from disk as it goes)."""
        return self.source.split(name, self.fraction)

    def held_out(self, requested: str | None, model, *, labels_for: str | None = None):
        """The split `requested` for `model`; by default (None) test where the data has one,
        else validation, with a note saying so. `test` of data without one, images of another
        shape than the model's and, with `labels_for` (the option that needs them), a split
        without labels are a CLIError, before any note."""
        splits = self.source.splits
        if requested == "test" and "test" not in splits:
            raise CLIError(f"--split test: no test split in {self.source.origin}; its splits are "
                           f"{', '.join(splits)}")
        name = requested or ("test" if "test" in splits else "validation")
        split = self.split(name)
        expected = tuple(model.encoder.inputs[0].shape[1:])
        if tuple(split.image_shape) != expected:
            raise CLIError(f"{self.dataset} images have shape {tuple(split.image_shape)} but the "
                           f"model expects {expected} (--image-size and --color-mode convert "
                           "them)")
        if labels_for and not split.has_labels:
            raise CLIError(f"{labels_for} scores clusters against labels, and the {self.dataset} "
                           f"{name} split has none")
        if requested is None and name == "validation":
            logging.getLogger("keras_ae").warning(
                "no test split in %s: using the validation split", self.source.origin)
        return split
