"""Helpers every layer uses: atomic file writes, quiet native logs, argument checks, the
backend check and the training history reader. Nothing here imports another keras_ae package."""
