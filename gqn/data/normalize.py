"""Into model space: a scene's cameras moved to where the model's training cameras sat.

A model trained on procedural scenes saw cameras at a known distance around the origin in a z-up
world. Real captures have their own centre, scale and up;
`scene_frame` finds the one similarity transform that fixes those and the depth range the
cameras see; `GQN.predict` applies it, so callers pass views in whatever frame their reader gave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gqn.data.viewset import ViewSet
from gqn.errors import GQNError

Z_UP = np.array([0.0, 0.0, 1.0])
PARALLEL_AXES_EIGENVALUE = 1e-2  # below this the optical axes are too close to parallel to meet anywhere
COMMON_REGION_MARGIN = 0.25      # the scene centre may project this far (image fractions) outside a photo


def similarity_matrix(scale: float, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4×4 matrix of x -> scale * rotation @ x + translation."""
    matrix = np.eye(4)
    matrix[:3, :3] = scale * np.asarray(rotation, np.float64)
    matrix[:3, 3] = translation
    return matrix


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The similarity (4×4) that best maps points `source` [N,3] onto `target` [N,3] (Umeyama 1991)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mean_s, mean_t = source.mean(0), target.mean(0)
    centred_s, centred_t = source - mean_s, target - mean_t
    u, sigma, vt = np.linalg.svd(centred_t.T @ centred_s / len(source))
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(sigma) @ sign) / (centred_s ** 2).sum(1).mean()
    return similarity_matrix(scale, rotation, mean_t - scale * rotation @ mean_s)


def alignment_errors(estimated: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """How far estimated poses [N,4,4] are from the true ones once the best similarity (Umeyama on the
    camera centres) has been applied: rotation errors in degrees, position errors as a fraction of the
    true cameras' spread (the diagonal of their bounding box)."""
    align = umeyama(estimated[:, :3, 3], truth[:, :3, 3])
    rotation = align[:3, :3] / np.cbrt(np.linalg.det(align[:3, :3]))
    cos = (np.einsum("nij,nij->n", rotation @ estimated[:, :3, :3], truth[:, :3, :3]) - 1) / 2
    degrees = np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))
    positions = estimated[:, :3, 3] @ align[:3, :3].T + align[:3, 3]
    fraction = np.linalg.norm(positions - truth[:, :3, 3], axis=-1) / np.linalg.norm(np.ptp(truth[:, :3, 3], axis=0))
    return {"rotation_error_deg_max": float(degrees.max()), "rotation_error_deg_median": float(np.median(degrees)),
            "position_error_max": float(fraction.max()), "position_error_median": float(np.median(fraction))}


def transform_poses(transform: np.ndarray, c2w: np.ndarray) -> np.ndarray:
    """Camera poses [...,4,4] carried by a similarity `transform`; they stay rigid (the scale moves
    only the positions)."""
    transform = np.asarray(transform, np.float64)
    scale = np.cbrt(np.linalg.det(transform[:3, :3]))
    moved = np.array(c2w, np.float64)
    moved[..., :3, :3] = transform[:3, :3] / scale @ moved[..., :3, :3]
    moved[..., :3, 3] = moved[..., :3, 3] @ transform[:3, :3].T + transform[:3, 3]
    return moved


def transform_views(views: ViewSet, transform: np.ndarray) -> ViewSet:
    """The same views in a world moved by a similarity `transform`; poses stay rigid."""
    transform = np.asarray(transform, np.float64)
    points = None if views.points is None else (views.points @ transform[:3, :3].T + transform[:3, 3]).astype(np.float32)
    moved = views[:]
    moved.c2w, moved.points = transform_poses(transform, views.c2w), points
    return moved


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector a onto unit vector b."""
    v, c = np.cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-9:  # opposite: half a turn about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def capture_up(c2w: np.ndarray) -> np.ndarray:
    """The capture's up direction. People hold cameras level, so every photo's x axis is horizontal
    wherever it looks: up is the direction most nearly perpendicular to all x axes. (The cameras'
    mean up vector leans towards the scene for an arc of cameras looking down at it: 19° for a
    30-photo arc.) When the x axes are all parallel that leaves up undetermined: then the mean up."""
    c2w = np.asarray(c2w, np.float64)
    mean_up = -c2w[:, :3, 1].mean(0)
    x_axes = c2w[:, :3, 0]
    values, vectors = np.linalg.eigh(x_axes.T @ x_axes)           # ascending
    if len(c2w) < 2 or values[1] < 0.02 * values.sum():
        norm = np.linalg.norm(mean_up)
        return mean_up / norm if norm > 1e-6 else Z_UP.copy()
    up = vectors[:, 0]
    reference = mean_up if np.linalg.norm(mean_up) > 1e-6 else Z_UP
    return up if up @ reference >= 0 else -up


def up_rotation(c2w: np.ndarray) -> np.ndarray:
    """Rotation taking the capture's up direction (see `capture_up`) onto +z."""
    return rotation_between(capture_up(c2w), Z_UP)


def scene_centre(c2w: np.ndarray, points: np.ndarray | None = None,
                 depth_range: tuple[float, float] | None = None) -> tuple[np.ndarray, str]:
    """(centre, how it was found): the point nearest every optical axis (least squares) when the axes
    meet in front of the cameras; else the middle of the sparse points; else, for a forward-facing
    capture, a point ahead of the cameras at the depth the capture records (or at twice their spread)."""
    origins, axes = c2w[:, :3, 3], c2w[:, :3, 2]
    projectors = np.eye(3) - axes[:, :, None] * axes[:, None, :]   # (I - d dᵀ): distance to each axis
    system = projectors.mean(0)
    if len(c2w) >= 2 and np.linalg.eigvalsh(system)[0] > PARALLEL_AXES_EIGENVALUE:
        centre = np.linalg.solve(system, np.einsum("nij,nj->i", projectors, origins) / len(c2w))
        if np.median(np.einsum("ni,ni->n", centre - origins, axes)) > 0:
            return centre, "optical-axes"
    if points is not None and len(points) >= 4:
        low, high = np.percentile(points, [2, 98], axis=0)
        return (low + high) / 2, "points"
    forward = axes.mean(0)
    if np.linalg.norm(forward) < 0.5:   # the cameras look every which way: no "ahead" to find
        return origins.mean(0), "camera-centroid"
    spread = float(np.linalg.norm(np.ptp(origins, axis=0)))
    depth = float(np.sqrt(depth_range[0] * depth_range[1])) if depth_range else 2.0 * spread
    if not depth > 0:
        return origins.mean(0), "camera-centroid"
    return origins.mean(0) + depth * forward / np.linalg.norm(forward), "ahead"


@dataclass
class SceneFrame:
    """Where a capture sits in the model's space: the similarity taking scene coordinates there
    (centred, z-up, cameras at the model's training radius) and the depth range of what the
    cameras see, in model units. `GQN.predict` finds it; nobody else normalises."""

    transform: np.ndarray           # 4×4 similarity, scene -> model space
    near: float
    far: float
    centre_method: str = "identity"
    depth_method: str = "model"

    @classmethod
    def identity(cls, near: float, far: float) -> "SceneFrame":
        return cls(np.eye(4), near, far)

    def poses(self, c2w: np.ndarray) -> np.ndarray:
        """Scene poses [...,4,4] in model space."""
        return transform_poses(self.transform, c2w)

    def describe(self) -> dict:
        return {"transform": self.transform.tolist(), "near": self.near, "far": self.far,
                "centre": self.centre_method, "depth_range": self.depth_method}


def scene_frame(views: ViewSet, radius: float = 1.0) -> SceneFrame:
    """The frame of a capture: centre (the region box when one is set, else see `scene_centre`),
    up from the cameras, scale putting them at `radius`, depth range from the region, the sparse
    points, the capture's recorded bounds or the camera layout, in that order."""
    centre, method = capture_centre(views)
    check_common_region(views, centre)
    rotation = up_rotation(views.c2w)
    distance = np.linalg.norm(views.positions - centre, axis=-1).mean()
    if not distance > 1e-9:
        raise GQNError(f"{views.source}: every camera sits at the scene centre; the capture shows no scene to "
                       "render (rotation-only panoramas are not supported)")
    scale = radius / distance
    near, far, depth_method = scene_depth_range(views, centre, region_box(views))
    return SceneFrame(similarity_matrix(scale, rotation, -scale * rotation @ centre),
                      near * scale, far * scale, method, depth_method)


def capture_centre(views: ViewSet) -> tuple[np.ndarray, str]:
    """(centre, how it was found) of a capture: its region box's middle when one is set, else
    `scene_centre` with its sparse points and recorded depth range."""
    region = region_box(views)
    if region is not None:
        return region.mean(0), "region"
    recorded = views.meta.get("depth_range")
    return scene_centre(views.c2w, views.points, tuple(recorded) if recorded else None)


def points_depth_range(depths: np.ndarray) -> tuple[float, float]:
    """(near, far) around the depths of sparse points (> 0): a margin beyond their 1st and 99th
    percentiles, since a few points are outliers and the surfaces reach past the points."""
    return 0.8 * float(np.percentile(depths, 1)), 1.25 * float(np.percentile(depths, 99))


def region_box(views: ViewSet) -> np.ndarray | None:
    """The [2,3] (min, max) box of views.meta["region"], or None; GQNError when it is malformed."""
    region = views.meta.get("region")
    if region is None:
        return None
    try:
        box = np.array([region["min"], region["max"]], np.float64)
    except (KeyError, TypeError, ValueError):
        raise GQNError(f"{views.source}: the region must be {{'min': [x, y, z], 'max': [x, y, z]}}, got {region!r}") from None
    if box.shape != (2, 3) or not np.isfinite(box).all() or not (box[1] > box[0]).all():
        raise GQNError(f"{views.source}: the region box {box.tolist()} is empty or not finite")
    return box


def depths_in_cameras(c2w: np.ndarray, points: np.ndarray) -> np.ndarray:
    """z of world points [P,3] in each camera [V,4,4]: [V,P]."""
    return np.einsum("vi,vpi->vp", c2w[:, :3, 2], points[None] - c2w[:, None, :3, 3])


def scene_depth_range(views: ViewSet, centre: np.ndarray, region: np.ndarray | None = None) -> tuple[float, float, str]:
    """(near, far, how) in scene units: where along the cameras' rays the scene can be."""
    c2w = views.c2w
    if region is not None:
        corners = np.array(np.meshgrid(*region.T, indexing="ij")).reshape(3, -1).T
        depths = depths_in_cameras(c2w, corners)
        near, far, how = max(depths.min(), 0.0), depths.max(), "region"
    elif views.points is not None and len(views.points) >= 8:
        depths = depths_in_cameras(c2w, views.points.astype(np.float64))
        depths = depths[depths > 0]
        near, far, how = *points_depth_range(depths), "points"
    elif views.meta.get("depth_range"):
        low, high = views.meta["depth_range"]
        near, far, how = low, high, "recorded"
    else:
        distance = float(np.median(depths_in_cameras(c2w, centre[None])))
        near, far, how = 0.25 * distance, 2.5 * distance, "layout"
    typical = float(np.median(np.linalg.norm(views.positions - centre, axis=-1)))
    near = max(float(near), 0.02 * typical)
    far = max(float(far), 1.5 * near)
    if not (np.isfinite(near) and np.isfinite(far)):
        raise GQNError(f"{views.source}: could not find the depth range of the scene ({how})")
    return near, far, how


def check_common_region(views: ViewSet, centre: np.ndarray) -> None:
    """GQNError unless at least half the cameras (two at least) see near the scene centre: captures
    whose cameras look at different things give the model nothing to agree on."""
    if len(views) < 2:
        return
    uv, depth = project_normalised(views, centre)
    sees = (depth > 0) & (np.abs(uv - 0.5) <= 0.5 + COMMON_REGION_MARGIN).all(-1)
    if sees.sum() < max(2, len(views) / 2):
        raise GQNError(f"{views.source}: the cameras do not look at a common region (only {int(sees.sum())} of "
                       f"{len(views)} see the middle of the capture); the model needs photos of one scene "
                       "from several sides")


def project_normalised(views: ViewSet, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A world point in every view: normalised image coordinates [V,2] and depth [V]."""
    local = np.einsum("vji,vj->vi", views.c2w[:, :3, :3], point - views.positions)
    fx, fy, cx, cy = views.normalised_intrinsics().T
    depth = local[:, 2]
    safe = np.where(np.abs(depth) > 1e-9, depth, 1e-9)
    return np.stack([fx * local[:, 0] / safe + cx, fy * local[:, 1] / safe + cy], -1), depth
