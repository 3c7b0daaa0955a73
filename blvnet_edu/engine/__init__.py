"""Training and evaluation: one engine for a laptop CPU, a GPU, or many GPUs under torchrun."""
