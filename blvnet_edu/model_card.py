"""What a loaded model is, for the user: its cost, its card, and what a demo model can tell.

The cost (parameters, GFLOPs per clip) is counted from the config by arithmetic
(`models.cost`, equal to what `profiling.profile_model` measures on a built network); the
app shows the card beside the TAM views and plans its explanations from the cost,
`blvnet-edu predict` prints the demo notice.

    params, gflops = cost(predictor.model.config, predictor.size)
    print(model_card(predictor))        # markdown: parameters, GFLOPs, input, classes
    print(demo_notice(predictor))       # a demo model knows only the synthetic classes
"""

from __future__ import annotations

from .inference import Predictor
from .models.blvnet import BLVNetConfig
from .models.cost import config_gflops, config_params

__all__ = ["cost", "model_card", "demo_notice"]


def cost(config: BLVNetConfig, size: int, num_frames: int | None = None) -> tuple[int, float]:
    """(parameters, GFLOPs per clip of `num_frames` frames, default the config's) of a network
    with this config, counted by arithmetic (`models.cost`)."""
    return config_params(config), config_gflops(config, size, num_frames or config.num_frames)


def model_card(predictor: Predictor) -> str:
    """Markdown: parameters, GFLOPs, input, classes."""
    config = predictor.model.config
    params, gflops = cost(config, predictor.size, predictor.num_frames)
    classes = ", ".join(predictor.classes[:30]) + (" ..." if len(predictor.classes) > 30 else "")
    return (
        f"**{config.name}** — {params / 1e6:.2f}M parameters, {gflops:.2f} GFLOPs per clip "
        f"({predictor.num_frames} frames at {predictor.size}x{predictor.size})  \n"
        f"temporal module: {config.temporal_module or 'none'}; frame routing: {config.frame_routing}  \n"
        f"{len(predictor.classes)} classes: {classes}"
    )


def demo_notice(predictor: Predictor) -> str:
    """What a demo model can and cannot tell, for the user (the app and `blvnet-edu predict`)."""
    return (
        f"The demo model ({predictor.name}) knows only the {len(predictor.classes)} classes of the "
        f"course's synthetic set ({', '.join(predictor.classes[:3])}, ...): any other clip gets an "
        "arbitrary answer among them. For real videos, load a released checkpoint: --checkpoint FILE "
        '--labels ssv1|ssv2|kinetics400 (README, "Real videos and the authors\' models").'
    )
