"""Procedural scenes (Shepard-Metzler objects, rooms) and the fast numba renderer behind them."""

from gqn.scenes.kinds import (
    DEFAULT_VIEWS, KINDS, depth_range, make_scene, orbit_radius, render_views, sample_cameras, scene_center, scene_from_meta,
)
from gqn.scenes.scene import Scene, render_scenes

__all__ = ["DEFAULT_VIEWS", "KINDS", "Scene", "depth_range", "make_scene", "orbit_radius", "render_scenes", "render_views",
           "sample_cameras", "scene_center", "scene_from_meta"]
