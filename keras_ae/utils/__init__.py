"""Helpers of every layer: atomic file writes, quiet native logs, argument checks, the wording
of one-line messages, the backend check, Ctrl-C that is not lost and the training history
reader. Nothing here imports another keras_ae package."""
