"""Train the classic MNIST autoencoder, then compare it with PCA on held-out digits.

    python examples/train_and_evaluate.py --data-dir ../shared/data --epochs 20

Without --data-dir, MNIST comes from tensorflow-datasets.
"""

import argparse

import keras_ae
from keras_ae import data
from keras_ae.analysis.evaluate import evaluate_model

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir")
parser.add_argument("--epochs", type=int, default=20)
args = parser.parse_args()

train = data.autoencoder_dataset("mnist", "train", data_dir=args.data_dir, batch_size=128, seed=0)
val = data.autoencoder_dataset("mnist", "validation", data_dir=args.data_dir, batch_size=128)
model = keras_ae.build("seed")
model.fit(train, validation_data=val, epochs=args.epochs, verbose=2)

train_x, _ = data.load_arrays("mnist", "train", data_dir=args.data_dir)
held_out, _ = data.load_arrays("mnist", "validation", data_dir=args.data_dir)
result = evaluate_model(model, held_out, train_images=train_x)
print(f"held-out MSE {result['mse']:.5f}   PCA-{result['pca']['components']} {result['pca']['mse']:.5f}")
