"""Encode one digit and score it with an exported .tflite autoencoder (LiteRT only, no TensorFlow).

    python examples/tflite_inference.py model.tflite digit.npy
    python examples/tflite_inference.py model.tflite t10k-images-idx3-ubyte.gz [index]

Every call below has a direct counterpart in the LiteRT Kotlin / Swift APIs.
"""

import gzip
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

if len(sys.argv) < 3:
    sys.exit(__doc__)
model_path, source = sys.argv[1], sys.argv[2]
if source.endswith(".gz"):  # MNIST idx file: a 16-byte header, then 28x28 uint8 images
    index = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    with gzip.open(source) as f:
        image = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[index]
else:
    image = np.load(source)
if image.dtype == np.uint8:
    image = image / 255.0  # the model takes float pixels in [0, 1]

interpreter = Interpreter(model_path=model_path)
encode = interpreter.get_signature_runner("encode")
anomaly_score = interpreter.get_signature_runner("anomaly_score")
height, width, channels = encode.get_input_details()["image"]["shape_signature"][1:]
batch = image.astype(np.float32).reshape(1, height, width, channels)  # a batch of one

code = encode(image=batch)  # an autoencoder returns "z"; a VAE "z_mean" and "z_log_var"
latent = code["z"] if "z" in code else code["z_mean"]
print("latent code:", np.array2string(latent[0], precision=4, max_line_width=100))
print("anomaly score:", float(anomaly_score(image=batch)["score"][0]))
