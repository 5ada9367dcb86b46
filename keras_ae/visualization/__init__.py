"""Pictures of models and runs: matplotlib plots, and the evaluation report with its figures."""
