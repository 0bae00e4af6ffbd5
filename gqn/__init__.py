"""GQN toolkit: Generative Query Networks, procedural scenes, dataset readers, training, evaluation.

Imports no Qt. The public API:
    from gqn import load_model, load_views, ViewSet, GQN, presets
"""

from gqn.config import ModelConfig, TrainConfig, presets
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError

__all__ = ["GQN", "GQNError", "ModelConfig", "TrainConfig", "ViewSet", "load_model", "load_views", "presets"]


def __getattr__(name: str):
    # torch and the readers load on first use, so `import gqn` and `gqn --help` stay quick.
    if name == "GQN":
        from gqn.nn.model import GQN
        return GQN
    if name == "load_model":
        from gqn.nn.model import load_model
        return load_model
    if name == "load_views":
        from gqn.data.load import load_views
        return load_views
    raise AttributeError(f"module 'gqn' has no attribute {name!r}")
