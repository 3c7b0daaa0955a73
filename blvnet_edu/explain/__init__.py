"""What the model looked at: per-frame attributions, frame importance, learned TAM weights, figures."""
