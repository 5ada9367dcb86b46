"""What a trained model tells about data: held-out evaluation, codes as features (clustering,
probes), deep embedded clustering, anomaly detection and 2-D projections."""
