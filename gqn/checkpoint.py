"""Model folders and training checkpoints on disk: safetensors + JSON, always written atomically.

A model folder:   model.safetensors, config.json (ModelConfig), card.md (optional).
A training run:   RUN/checkpoints/step-NNNNNNNN/ (a model folder + train_state.safetensors +
                  train.json), RUN/latest naming the newest one, RUN/metrics.jsonl.
A checkpoint appears only complete: it is written under a temporary name and renamed; `latest`
is replaced by os.replace. A killed run therefore resumes from the last finished checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gqn.config import MAX_PARAMETERS, ModelConfig
from gqn.errors import GQNError
from gqn.files import read_json_object, read_text

KEEP_CHECKPOINTS = 2


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _save_tensors_atomic(tensors: dict[str, torch.Tensor], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def save_model(model: torch.nn.Module, folder: str | Path, card: str | None = None) -> Path:
    """Write model.safetensors + config.json (+ card.md) into `folder`, each file atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _save_tensors_atomic(model.state_dict(), folder / "model.safetensors")
    write_text_atomic(folder / "config.json", json.dumps(model.config.to_dict(), indent=2) + "\n")
    if card is not None:
        write_text_atomic(folder / "card.md", card)
    return folder


def resolve_model_folder(path: str | Path) -> Path:
    """A model folder as given, or a training run's latest checkpoint."""
    path = Path(path)
    if not path.exists():
        raise GQNError(f"{path}: no such model folder")
    if path.is_file():
        if path.name in ("model.safetensors", "config.json"):
            return path.parent
        raise GQNError(f"{path}: not a model folder (expected a folder with model.safetensors and config.json)")
    if (path / "latest").exists():
        return latest_checkpoint(path)
    return path


def latest_checkpoint(run: Path) -> Path:
    """The checkpoint folder RUN/latest names. It must be inside the run: a relative path that does
    not climb out of it (checked on the name, so checkpoints may still be symlinks to another disk)."""
    latest = run / "latest"
    name = read_text(latest, limit=4096).strip()
    relative = Path(os.path.normpath(name))
    try:
        found = (relative.parts[:1] not in ((), ("..",)) and not relative.is_absolute()
                 and (run / relative).is_dir())
    except (OSError, ValueError):  # a name the OS refuses: too long, a NUL byte
        found = False
    if not found:
        raise GQNError(f"{latest}: names {name!r:.80}, which is not a checkpoint folder inside {run} "
                       "(expected e.g. checkpoints/step-00001000)")
    return run / relative


def meta_model(config: ModelConfig) -> torch.nn.Module:
    """The GQN a config describes, on torch's meta device: its parameters' shapes, no memory."""
    from gqn.nn.model import GQN
    with torch.device("meta"):
        return GQN(config)


def read_config(path: Path) -> ModelConfig:
    """config.json as a ModelConfig whose types and ranges are checked, and whose model is within
    MAX_PARAMETERS (counted before anything is allocated)."""
    try:
        config = ModelConfig.from_dict(read_json_object(path))
        config.validate()
    except (ValueError, TypeError) as error:
        raise GQNError(f"{path}: not a GQN model config ({error})") from None
    count = meta_model(config).num_parameters()
    if count > MAX_PARAMETERS:
        raise GQNError(f"{path}: describes a model of {count / 1e6:.0f} M parameters ({4 * count / 2**30:.1f} GB), "
                       f"more than the {MAX_PARAMETERS // 1_000_000} M a model file may ask for")
    return config


def read_model_folder(path: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """(config, weights) of a model folder, checked before any model is built: the config (read_config)
    and the weights' names, shapes, types and values (NaN or infinite ones are refused, named)."""
    folder = resolve_model_folder(path)
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise GQNError(f"{needed}: missing; a model folder holds model.safetensors and config.json")
    config = read_config(config_path)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise GQNError(f"{weights_path}: not a readable safetensors file ({error}); "
                       "is it truncated, or a pickle from another project?") from None
    expected = {name: tensor.shape for name, tensor in meta_model(config).state_dict().items()}
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k])
    if missing or unexpected or wrong:
        raise GQNError(f"{weights_path}: the weights do not match {config_path.name} "
                       f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})")
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise GQNError(f"{weights_path}: tensor {name} holds {tensor.dtype}, not floating-point weights")
        if not torch.isfinite(tensor).all():
            raise GQNError(f"{weights_path}: tensor {name} holds NaN or infinite values (did training diverge?)")
    return config, state


def save_checkpoint(run: str | Path, step: int, model: torch.nn.Module, train_state: dict[str, torch.Tensor],
                    info: dict[str, Any]) -> Path:
    """Write RUN/checkpoints/step-N atomically, point RUN/latest at it, keep the newest few."""
    run = Path(run)
    checkpoints = run / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    tmp = checkpoints / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp)
    _save_tensors_atomic(train_state, tmp / "train_state.safetensors")
    write_text_atomic(tmp / "train.json", json.dumps(info, indent=2) + "\n")
    final = checkpoints / name
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    write_text_atomic(run / "latest", f"checkpoints/{name}\n")
    for old in sorted(checkpoints.glob("step-*"))[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(run: str | Path) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """(checkpoint folder, train-state tensors, train.json) of a run's latest checkpoint."""
    folder = resolve_model_folder(run)
    try:
        state = load_file(str(folder / "train_state.safetensors"))
        info = read_json_object(folder / "train.json")
    except (SafetensorError, OSError, ValueError) as error:
        raise GQNError(f"{folder}: cannot resume from this checkpoint ({error})") from None
    return folder, state, info
