"""Models outside Keras: exports (SavedModel, TFLite) and running exported models on inputs."""
