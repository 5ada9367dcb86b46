"""Training into a run folder: the training loop, the folder and its lock, callbacks, divergence
stops, TensorBoard logs and distribution strategies."""
