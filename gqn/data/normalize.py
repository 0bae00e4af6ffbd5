"""Into model space: a scene's cameras moved to where the model's training cameras sat, photos cut to its inputs.

A model trained on procedural scenes saw cameras at a known distance around the origin in a z-up
world, with square images of one field of view. Real captures have their own centre, scale and up;
`to_model_space` fixes those with one similarity transform (kept in meta so that poses can be mapped
back) and `to_model_input` crops and resizes the photos.
"""

from __future__ import annotations

import numpy as np

from gqn.data.images import centre_crop_box, crop_and_resize
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError

PARALLEL_AXES_EIGENVALUE = 1e-2  # below this the optical axes are too close to parallel to meet anywhere
FOV_TOLERANCE = 0.01             # a photo up to 1 % short of the model's field of view is cropped anyway


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


def transform_views(views: ViewSet, transform: np.ndarray) -> ViewSet:
    """The same views in a world moved by a similarity `transform`; poses stay rigid."""
    transform = np.asarray(transform, np.float64)
    scale = np.cbrt(np.linalg.det(transform[:3, :3]))
    rotation = transform[:3, :3] / scale
    c2w = views.c2w.copy()
    c2w[:, :3, :3] = rotation @ views.c2w[:, :3, :3]
    c2w[:, :3, 3] = views.positions @ transform[:3, :3].T + transform[:3, 3]
    points = None if views.points is None else (views.points @ transform[:3, :3].T + transform[:3, 3]).astype(np.float32)
    moved = views[:]
    moved.c2w, moved.points = c2w, points
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


def up_rotation(c2w: np.ndarray) -> np.ndarray:
    """Rotation taking the cameras' mean up direction (their −y axis) onto +z; identity when they disagree."""
    up = -np.asarray(c2w)[:, :3, 1].mean(0)
    norm = np.linalg.norm(up)
    return np.eye(3) if norm < 1e-3 else rotation_between(up / norm, np.array([0.0, 0.0, 1.0]))


def scene_centre(c2w: np.ndarray, points: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """(centre, how it was found): the point nearest every optical axis (least squares) when the axes
    meet in front of the cameras, else the middle of the sparse points, else the cameras' centroid."""
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
    return origins.mean(0), "camera-centroid"


def to_model_space(views: ViewSet, radius: float = 1.0) -> tuple[ViewSet, np.ndarray]:
    """(views centred, z-up and scaled so the mean camera distance to the centre is `radius`, the 4×4
    similarity that did it). The transform is composed into meta["model_space"] so that the app maps
    poses back with its inverse."""
    centre, method = scene_centre(views.c2w, views.points)
    rotation = up_rotation(views.c2w)
    distance = np.linalg.norm(views.positions - centre, axis=-1).mean()
    if not distance > 1e-9:
        raise GQNError(f"{views.source}: every camera sits at the scene centre; cannot scale the scene")
    scale = radius / distance
    transform = similarity_matrix(scale, rotation, -scale * rotation @ centre)
    moved = transform_views(views, transform)
    previous = np.array(views.meta.get("model_space", {}).get("transform", np.eye(4)))
    moved.meta["model_space"] = {"transform": (transform @ previous).tolist(), "centre_method": method,
                                 "radius": radius}
    return moved, transform


def to_model_input(views: ViewSet, size: int, fov_deg: float | None = None) -> ViewSet:
    """Square `size`×`size` inputs: a crop around each principal point with the model's field of view
    (or the largest centred square when `fov_deg` is None), resized with antialiasing. A photo whose
    field of view is narrower than the model's cannot be cropped to match: GQNError."""
    height, width = views.size
    images, intrinsics = [], []
    for name, image, (fx, fy, cx, cy) in zip(views.names, views.images, views.intrinsics):
        if fov_deg is None:
            box = centre_crop_box(width, height, 1.0)
        else:
            half = np.tan(np.deg2rad(fov_deg) / 2)
            half_w, half_h = fx * half, fy * half
            room_w, room_h = min(cx, width - cx), min(cy, height - cy)
            if half_w > (1 + FOV_TOLERANCE) * room_w or half_h > (1 + FOV_TOLERANCE) * room_h:
                photo_fov = np.rad2deg(2 * np.arctan([room_w / fx, room_h / fy]))
                raise GQNError(f"{views.source}: view {name} sees {photo_fov[0]:.1f}°×{photo_fov[1]:.1f}° around its "
                               f"centre, narrower than the model's {fov_deg:.1f}°; it cannot be cropped to match")
            half_w, half_h = min(half_w, room_w), min(half_h, room_h)
            box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
        image, k = crop_and_resize(image, np.array([fx, fy, cx, cy]), box, (size, size))
        images.append(image)
        intrinsics.append(k)
    cut = views[:]
    cut.images, cut.intrinsics = np.stack(images), np.array(intrinsics)
    cut.meta["model_input"] = {"size": size, "fov_deg": fov_deg}
    return cut
