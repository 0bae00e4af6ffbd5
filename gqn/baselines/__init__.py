"""The honest comparisons for every model: what a capture's photos give without learning.

Each renders one query camera (c2w in the capture's frame, normalised intrinsics, (height, width))
from a ViewSet and returns uint8 [height, width, 3]: `nearest_photo` (the photo whose camera is
nearest, as it is), `plane_sweep` (classical image-based rendering: fronto-parallel planes over
the scene's depth range, photo-consistency across the K nearest photos, warp and blend) and, for
captures with sparse structure-from-motion points, `sparse_depth_render` (depth from the points,
densified, warp and blend).
"""

from gqn.baselines.nearest import nearest_photo, nearest_views
from gqn.baselines.plane_sweep import plane_sweep
from gqn.baselines.sparse_depth import sparse_depth_render

__all__ = ["nearest_photo", "nearest_views", "plane_sweep", "sparse_depth_render"]
