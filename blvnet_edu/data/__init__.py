"""Video data: decoding, sampling, transforms and datasets (Kinetics, folders, synthetic)."""
