"""Train an autoencoder on a folder of your images, then compare it with PCA on held-out images.

    python examples/train_on_folder.py --folder my_photos --image-size 64x64 --epochs 10
    python examples/train_on_folder.py --data-dir ../shared/data --epochs 5

A folder with class subfolders (my_photos/cats/*.jpg, my_photos/dogs/*.png, …) gives labels; a
flat folder works too. Without --folder, the script first writes a small folder of real
Fashion-MNIST clothes as PNG files, one subfolder per class, into a temporary folder (from the
IDX files under --data-dir). The images are read from disk while the model trains.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from keras_ae import data
from keras_ae.analysis.evaluate import evaluate_model
from keras_ae.models.presets import preset_config
from keras_ae.training.train import train

CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle-boot")

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--folder", help="a folder of images (default: write one from Fashion-MNIST)")
parser.add_argument("--data-dir", default="../shared/data",
                    help="folder holding fashion-mnist/ IDX files, for the demo folder")
parser.add_argument("--per-class", type=int, default=100, help="demo images per class")
parser.add_argument("--image-size", help="HxW to resize to (default: the images' own size)")
parser.add_argument("--color-mode", choices=list(data.COLOR_MODES))
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()


def write_demo_folder(root: Path) -> Path:
    """`--per-class` Fashion-MNIST test images of each class as PNG files in class subfolders."""
    images, labels = data.load_arrays("fashion_mnist", "test", data_dir=args.data_dir)
    for label, name in enumerate(CLASSES):
        folder = root / f"{label}_{name}"  # class folders are read in sorted order
        folder.mkdir(parents=True)
        for i, index in enumerate(np.flatnonzero(labels == label)[: args.per_class]):
            Image.fromarray(images[index, ..., 0]).save(folder / f"{i:04d}.png")
    return root


with tempfile.TemporaryDirectory() as scratch:
    folder = Path(args.folder) if args.folder else write_demo_folder(Path(scratch) / "clothes")
    source = data.open_data(folder, image_size=args.image_size, color_mode=args.color_mode)
    classes = getattr(source.train, "class_names", ())
    print(f"{folder}: {len(source.train)} images of shape {source.image_shape}, "
          f"{len(classes) or 'no'} classes{': ' + ', '.join(classes) if classes else ''}")

    config = preset_config("conv", dataset=str(folder), image_size=args.image_size,
                           color_mode=args.color_mode, epochs=args.epochs, latent_dim=16,
                           batch_size=32)
    result = train(config, Path(scratch) / "run", verbose=2)

    held_out, train_split = source.split("validation"), source.split("train")
    scores = evaluate_model(result.model, held_out, train_images=train_split)
    pca = scores["pca"]
    print(f"held-out MSE {scores['mse']:.5f} on {scores['images']} images   "
          f"PCA-{pca['components']} {pca['mse']:.5f}")
