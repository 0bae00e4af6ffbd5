"""What the explorer has loaded and where its imagined camera is: a Qt-free model of the app.

Widgets only show a Session and call its methods; they subscribe to its events (plain Python
callbacks), so tests drive the whole app logic without a display (napari's ViewerModel idea).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from explorer import capture
from explorer.capture import Region
from gqn import camera
from gqn.data.images import working_size
from gqn.data.normalize import scene_centre
from gqn.data.viewset import PROCEDURAL_FORMATS, ViewSet

MIN_ELEVATION, MAX_ELEVATION = -85.0, 85.0
DEFAULT_CONTEXTS = 3
NO_MODEL_SIZE = 128     # long side of the imagined camera's picture when no model sets it


class Event:
    """A list of callbacks: `connect(fn)`, `disconnect(fn)`, `emit(*args)`."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        self._callbacks = [] if callback is None else [c for c in self._callbacks if c != callback]

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


@dataclass
class SessionEvents:
    views: Event = field(default_factory=Event)        # a new scene (ViewSet) was loaded
    model: Event = field(default_factory=Event)        # the model changed (or was unloaded)
    context: Event = field(default_factory=Event)      # which views the model is given changed
    camera: Event = field(default_factory=Event)       # the imagined camera moved
    selection: Event = field(default_factory=Event)    # the selected real view changed
    display: Event = field(default_factory=Event)      # frustum size / photos shown changed
    region: Event = field(default_factory=Event)       # the region box the model considers changed
    message: Event = field(default_factory=Event)      # a new Message for the user

    def disconnect_all(self) -> None:
        for event in vars(self).values():
            event.disconnect()


@dataclass
class Message:
    text: str
    level: str = "info"                       # "info" | "warning" | "error"
    action_label: str | None = None           # e.g. "Estimate poses", shown as a button
    action: Callable[[], Any] | None = None
    topic: str | None = None                  # a newer message on the same topic replaces this one


@dataclass
class ImaginedCamera:
    """The camera the model is asked to imagine: an orbit about `center` (degrees, scene units),
    or, right after a snap, exactly a real camera's pose (`c2w` then need not look at `center`)."""

    center: np.ndarray
    azimuth: float
    elevation: float
    distance: float
    c2w: np.ndarray

    @classmethod
    def orbiting(cls, center: np.ndarray, azimuth: float, elevation: float, distance: float) -> "ImaginedCamera":
        elevation = float(np.clip(elevation, MIN_ELEVATION, MAX_ELEVATION))
        eye = camera.spherical_to_position(distance, np.deg2rad(azimuth), np.deg2rad(elevation), center)
        return cls(np.asarray(center, np.float64), float(azimuth), elevation, float(distance), camera.look_at(eye, center))

    @classmethod
    def at_pose(cls, c2w: np.ndarray, center: np.ndarray) -> "ImaginedCamera":
        """Exactly `c2w`; the orbit parameters are those of its position about `center`."""
        offset = np.asarray(c2w)[:3, 3] - center
        distance = float(np.linalg.norm(offset))
        azimuth, elevation = camera.forward_to_yaw_pitch(offset if distance > 0 else np.array([1.0, 0, 0]))
        return cls(np.asarray(center, np.float64), float(np.rad2deg(azimuth)), float(np.rad2deg(elevation)),
                   distance, np.array(c2w, np.float64))

    @property
    def position(self) -> np.ndarray:
        return self.c2w[:3, 3]


def scene_center(views: ViewSet) -> np.ndarray:
    """The point the cameras look at (gqn.data.normalize.scene_centre: where the optical axes meet in
    front of the cameras, else the middle of the sparse points, else a point ahead of a forward-facing
    capture at its recorded depth)."""
    recorded = views.meta.get("depth_range")
    return scene_centre(views.c2w, views.points, tuple(recorded) if recorded else None)[0]


def spread_indices(n: int, k: int) -> list[int]:
    """k indices spread evenly over range(n)."""
    return sorted({int(i) for i in np.linspace(0, n, min(k, n), endpoint=False)})


def default_context(views: ViewSet) -> list[int]:
    """The views given to the model at first: for a photo capture every photo but those `gqn evaluate`
    holds out (so the first imagined view can be scored against a photo the model never saw); for a
    procedural scene a few spread around it, as the model was trained."""
    if views.meta.get("format") in PROCEDURAL_FORMATS or len(views) < 5:
        return spread_indices(len(views), DEFAULT_CONTEXTS)
    from gqn.evaluate_capture import held_out_indices
    return sorted(int(i) for i in held_out_indices(views.names, 5, 2)[1])


class Session:
    """The scene, model, context set, imagined camera, selection and messages of one window."""

    def __init__(self) -> None:
        self.events = SessionEvents()
        self.views: ViewSet | None = None
        self.model: Any = None                 # a gqn.GQN in eval mode, or None
        self.model_path: str | None = None
        self.model_chosen = False              # a model the person opened stays; a shipped one follows the scene
        self.context: tuple[int, ...] = ()
        self.camera: ImaginedCamera | None = None
        self.home: ImaginedCamera | None = None  # where reset_camera() goes
        self.center = np.zeros(3)
        self.scene_radius = 1.0
        self.selected: int | None = None
        self.snapped: int | None = None        # index of the real camera the imagined one sits on exactly
        self.frustum_size = 0.3
        self.default_frustum_size = 0.3       # from the camera spacing; the size slider scales it
        self.show_photos = True
        self.show_geometry = True             # a procedural scene's true geometry in the viewport
        self.messages: list[Message] = []
        self._truth_scene: Any = None

    # --- loading -------------------------------------------------------------------------------

    def set_views(self, views: ViewSet, context: list[int] | None = None) -> None:
        """Show a new scene: default context spread over the views, the imagined camera on the
        first view left out of the context (so a true image to compare with is there at once)."""
        self._follow_scene(views)
        self.views = views
        self._truth_scene = None
        self.center = scene_center(views)
        distances = np.linalg.norm(views.positions - self.center, axis=-1)
        self.scene_radius = float(np.median(distances)) if len(views) else 1.0
        if not np.isfinite(self.scene_radius) or self.scene_radius <= 0:
            self.scene_radius = 1.0
        self.frustum_size = self.default_frustum_size = capture.frustum_size(views.positions, self.scene_radius)
        self.context = tuple(context if context is not None else default_context(views))
        self.selected = self.snapped = None  # indices into the previous scene mean nothing in this one
        self.events.views.emit()
        self.events.context.emit()
        held_out = [i for i in range(len(views)) if i not in self.context]
        if held_out:
            self.snap_to(held_out[0])
        else:
            cam = ImaginedCamera.at_pose(views.c2w[0], self.center)
            self._move(ImaginedCamera.orbiting(self.center, cam.azimuth + 20.0, cam.elevation, cam.distance))
        self.home = self.camera

    def set_model(self, model: Any, path: str | None, chosen: bool = True) -> None:
        """`chosen`: the person picked this model (it stays for every scene), not the app."""
        self.model, self.model_path, self.model_chosen = model, path, chosen
        self.events.model.emit()

    def _follow_scene(self, views: ViewSet) -> None:
        """A shipped model nobody chose gives way to the shipped model that suits the scene: the photo
        model for photos, the procedural default for procedural scenes."""
        from explorer.loading import default_model
        from gqn.shipped import shipped_model_for
        if self.model_chosen or self.model is None:
            return
        path = shipped_model_for(views)
        if self.model_path is not None and Path(self.model_path) == path:
            return
        model, path_text, why = default_model(path)
        if model is None:
            self.message(why, "warning", topic="model")
            return
        self.set_model(model, path_text, chosen=False)
        kind = model.config.trained_on.get("kind", "its training scenes")
        self.message(f"Using the shipped model {path.name} (trained on {kind}) for this scene.", topic="model")

    @property
    def is_procedural(self) -> bool:
        return self.views is not None and self.views.meta.get("format") == "procedural"

    @property
    def is_procedural_format(self) -> bool:
        """A scene made by a procedural generator (one scene, a dataset's, or gqn-datasets')."""
        return self.views is not None and self.views.meta.get("format") in PROCEDURAL_FORMATS

    @property
    def scene_name(self) -> str:
        """A short name for people: "shepard-metzler-7 #3", "garden", "sm7-test #12"."""
        if self.views is None:
            return "no scene"
        meta = self.views.meta
        if "dataset" in meta:
            return f"{Path(meta['dataset']).name} #{meta.get('scene', 0)}"
        if self.is_procedural:
            return f"{meta.get('kind', 'procedural')} #{meta.get('seed', 0)}"
        source = Path(str(self.views.source or "scene"))
        while (source.suffix == ".json" or source.name.isdigit() or source.name == "sparse") and source.parent.name:
            source = source.parent            # capture/sparse/0, capture/transforms.json -> "capture"
        return source.name

    # --- context -------------------------------------------------------------------------------

    def set_context(self, indices) -> None:
        indices = tuple(sorted({int(i) for i in indices}))
        if self.views is None or indices == self.context:
            return
        if not indices:
            self.message("The model needs at least one context view.", "warning")
            self.events.context.emit()  # let widgets undo the unchecked box
            return
        if not all(0 <= i < len(self.views) for i in indices):
            raise IndexError(f"context indices {indices} out of range for {len(self.views)} views")
        self.context = indices
        self.events.context.emit()

    def toggle_context(self, index: int) -> None:
        self.set_context(set(self.context) ^ {index})

    def context_views(self) -> ViewSet | None:
        return None if self.views is None else self.views[list(self.context)]

    # --- the imagined camera ---------------------------------------------------------------------

    def _move(self, cam: ImaginedCamera, snapped: int | None = None) -> None:
        self.camera, self.snapped = cam, snapped
        self.events.camera.emit()

    def orbit(self, d_azimuth: float = 0.0, d_elevation: float = 0.0) -> None:
        """Turn the imagined camera about the scene centre by degrees."""
        if self.camera is None:
            return
        cam = self.camera
        self._move(ImaginedCamera.orbiting(self.center, cam.azimuth + d_azimuth, cam.elevation + d_elevation, cam.distance))

    def zoom(self, factor: float) -> None:
        """Multiply the imagined camera's distance from the centre by `factor`."""
        if self.camera is None:
            return
        cam = self.camera
        distance = float(np.clip(cam.distance * factor, 0.05 * self.scene_radius, 20.0 * self.scene_radius))
        self._move(ImaginedCamera.orbiting(self.center, cam.azimuth, cam.elevation, distance))

    def set_orbit(self, azimuth: float, elevation: float, distance: float | None = None) -> None:
        if distance is None:
            distance = self.camera.distance if self.camera is not None else self.scene_radius
        self._move(ImaginedCamera.orbiting(self.center, azimuth, elevation, distance))

    def set_pose(self, c2w: np.ndarray) -> None:
        """Put the imagined camera exactly at `c2w` (snapped if that is a real camera's pose)."""
        c2w = np.asarray(c2w, np.float64)
        match = None
        if self.views is not None:
            same = np.abs(self.views.c2w - c2w).max(axis=(1, 2)) < 1e-9
            match = int(np.argmax(same)) if same.any() else None
        self._move(ImaginedCamera.at_pose(c2w, self.center), match)

    def snap_to(self, index: int) -> None:
        """Put the imagined camera exactly onto real camera `index` and select it."""
        if self.views is None or not 0 <= index < len(self.views):
            return
        self.select(index)
        self._move(ImaginedCamera.at_pose(self.views.c2w[index], self.center), index)

    def step_snap(self, step: int) -> None:
        """Snap onto the next (+1) or previous (-1) real camera."""
        if self.views is None or not len(self.views):
            return
        start = self.snapped if self.snapped is not None else (self.selected if self.selected is not None else -step)
        self.snap_to((start + step) % len(self.views))

    def reset_camera(self) -> None:
        if self.home is not None:
            self._move(self.home, self.home_snapped)

    @property
    def home_snapped(self) -> int | None:
        if self.home is None or self.views is None:
            return None
        same = np.abs(self.views.c2w - self.home.c2w).max(axis=(1, 2)) < 1e-9
        return int(np.argmax(same)) if same.any() else None

    def select(self, index: int | None) -> None:
        if index != self.selected:
            self.selected = index
            self.events.selection.emit()

    # --- what the imagined camera is compared with -------------------------------------------------

    def query_camera(self) -> tuple[np.ndarray, tuple[int, int]]:
        """Pixel intrinsics and (height, width) of the imagined camera: the first context view's
        camera (the real camera's it sits on, when snapped), whole, at the size the model paints (its
        long side the model's resolution)."""
        first = self.snapped if self.snapped is not None else (self.context[0] if self.context else 0)
        height, width = self.views.size
        long_side = self.model.config.image_size if self.model is not None else min(max(height, width), NO_MODEL_SIZE)
        size = working_size(height, width, long_side)
        normalised = self.views.normalised_intrinsics()[first]
        return normalised * [size[1], size[0], size[1], size[0]], size

    def truth_scene(self) -> Any:
        """The gqn.scenes.Scene behind a procedural ViewSet (made once), else None."""
        if not self.is_procedural:
            return None
        if self._truth_scene is None:
            from gqn.scenes import scene_from_meta
            self._truth_scene = scene_from_meta(self.views.meta)
        return self._truth_scene

    def truth_renderer(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """For procedural scenes, c2w [4,4] -> the exact uint8 image at that pose; else None."""
        scene = self.truth_scene()
        if scene is None:
            return None
        intrinsics, (size, _) = self.query_camera()   # procedural scenes are square

        def render(c2w: np.ndarray) -> np.ndarray:
            return scene.render(np.asarray(c2w)[None], intrinsics[None], size)[0]
        return render

    def nearest_view(self) -> tuple[int, float] | None:
        """(index, distance) of the real camera nearest to the imagined one."""
        if self.views is None or self.camera is None or not len(self.views):
            return None
        return self.views.nearest(self.camera.c2w)

    def comparison_view(self) -> int | None:
        """The real view to score against: the snapped camera, if the model was not given it."""
        if self.snapped is None or self.snapped in self.context:
            return None
        return self.snapped

    # --- display settings and messages ---------------------------------------------------------------

    def set_frustum_size(self, size: float) -> None:
        self.frustum_size = float(max(size, 1e-6))
        self.events.display.emit()

    # --- the region box ---------------------------------------------------------------------------------

    @property
    def region(self) -> Region | None:
        """The box the model and baselines consider (views.meta["region"]), or None: everything."""
        return None if self.views is None else Region.from_meta(self.views.meta.get("region"))

    def set_region(self, region: Region | None) -> None:
        """Limit what the model and baselines consider to `region` (None: everything). The scene
        becomes a new ViewSet (same arrays, new meta), so nothing cached for the old one is reused."""
        if self.views is None or region == self.region:
            return
        meta = {k: v for k, v in self.views.meta.items() if k != "region"}
        if region is not None:
            meta["region"] = region.to_meta()
        self.views = dataclasses.replace(self.views, meta=meta)
        self.events.region.emit()

    def set_show_photos(self, show: bool) -> None:
        self.show_photos = bool(show)
        self.events.display.emit()

    def set_show_geometry(self, show: bool) -> None:
        self.show_geometry = bool(show)
        self.events.display.emit()

    def message(self, text: str, level: str = "info", action_label: str | None = None,
                action: Callable[[], Any] | None = None, topic: str | None = None) -> Message:
        msg = Message(text, level, action_label, action, topic)
        self.messages.append(msg)
        self.events.message.emit(msg)
        return msg
