"""Every camera convention the project meets, converted to and from the one it uses.

The one convention: camera-to-world 4×4 float64 matrices with OpenCV camera axes
(x right, y down, z forward) in a z-up world. Readers convert *into* it at the boundary;
nothing downstream converts again. Intrinsics are (fx, fy, cx, cy) in pixels of the image
they belong to; the model sees them divided by the image size ("normalised").

gqn-datasets cameras are (x, y, z, yaw, pitch). We read them as: yaw is the azimuth of the
viewing direction in the xy-plane measured from +x towards +y, pitch its elevation above the
xy-plane (z up), no roll. The procedural scenes use the same convention, so a model trained on
either sees the same viewpoint vectors.
"""

from __future__ import annotations

import numpy as np

# Axis flip between OpenCV (x right, y down, z forward) and OpenGL/NeRF (x right, y up, z back).
_FLIP_YZ = np.diag([1.0, -1.0, -1.0, 1.0])

Z_UP = np.array([0.0, 0.0, 1.0])

# Camera positions and points farther out than this (scene units) are corrupt, not a scene: beyond it
# float64 scene maths (centring, scaling, projecting) overflows.
MAX_COORDINATE = 1e9


def _as_c2w(matrix: np.ndarray) -> np.ndarray:
    """Accept [...,3,4] or [...,4,4]; return [...,4,4] float64."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape[-2:] == (4, 4):
        return matrix.copy()
    if matrix.shape[-2:] != (3, 4):
        raise ValueError(f"expected a [...,3,4] or [...,4,4] pose, got shape {matrix.shape}")
    out = np.zeros(matrix.shape[:-2] + (4, 4))
    out[..., :3, :] = matrix
    out[..., 3, 3] = 1.0
    return out


# --- OpenGL / NeRF / instant-ngp -------------------------------------------------------------

def opengl_to_opencv(c2w_gl: np.ndarray) -> np.ndarray:
    """NeRF/OpenGL camera-to-world (y up, z back) -> OpenCV camera-to-world."""
    return _as_c2w(c2w_gl) @ _FLIP_YZ


def opencv_to_opengl(c2w: np.ndarray) -> np.ndarray:
    """OpenCV camera-to-world -> NeRF/OpenGL camera-to-world (the same flip: an involution)."""
    return _as_c2w(c2w) @ _FLIP_YZ


# --- COLMAP ----------------------------------------------------------------------------------

def qvec_to_rotmat(qvec: np.ndarray) -> np.ndarray:
    """COLMAP quaternion (w, x, y, z) -> 3×3 rotation; normalises the quaternion first."""
    q = np.asarray(qvec, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def rotmat_to_qvec(rot: np.ndarray) -> np.ndarray:
    """3×3 rotation -> quaternion (w, x, y, z) with w >= 0 (Shepperd's method, batched)."""
    r = np.asarray(rot, dtype=np.float64)
    batch = r.shape[:-2]
    r = r.reshape(-1, 3, 3)
    q = np.empty((len(r), 4))
    for i, m in enumerate(r):
        t = np.trace(m)
        if t > 0:
            s = 2.0 * np.sqrt(t + 1.0)
            q[i] = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
        else:
            k = int(np.argmax(np.diag(m)))
            a, b = (k + 1) % 3, (k + 2) % 3
            s = 2.0 * np.sqrt(1.0 + m[k, k] - m[a, a] - m[b, b])
            v = np.empty(3)
            v[k] = 0.25 * s
            v[a] = (m[a, k] + m[k, a]) / s
            v[b] = (m[b, k] + m[k, b]) / s
            q[i] = [(m[b, a] - m[a, b]) / s, *v]
    q *= np.where(q[:, :1] < 0, -1.0, 1.0) / np.linalg.norm(q, axis=-1, keepdims=True)  # unit even if rot is a bit off
    return q.reshape(batch + (4,))


def colmap_to_c2w(qvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """COLMAP world-to-camera (qvec, tvec) -> OpenCV camera-to-world (COLMAP already uses OpenCV axes)."""
    rot = qvec_to_rotmat(qvec)
    t = np.asarray(tvec, dtype=np.float64)
    c2w = np.zeros(rot.shape[:-2] + (4, 4))
    c2w[..., :3, :3] = np.swapaxes(rot, -1, -2)
    c2w[..., :3, 3] = -np.einsum("...ji,...j->...i", rot, t)
    c2w[..., 3, 3] = 1.0
    return c2w


def c2w_to_colmap(c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV camera-to-world -> COLMAP world-to-camera (qvec, tvec)."""
    c2w = _as_c2w(c2w)
    rot_w2c = np.swapaxes(c2w[..., :3, :3], -1, -2)
    tvec = -np.einsum("...ij,...j->...i", rot_w2c, c2w[..., :3, 3])
    return rotmat_to_qvec(rot_w2c), tvec


# --- LLFF ------------------------------------------------------------------------------------

def llff_to_c2w(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LLFF poses [N,3,5] (rotation columns [down, right, back], translation, (h, w, focal))
    -> (OpenCV c2w [N,4,4], hwf [N,3])."""
    poses = np.asarray(poses, dtype=np.float64)
    down, right, back, t = poses[..., 0], poses[..., 1], poses[..., 2], poses[..., 3]
    c2w = np.zeros(poses.shape[:-2] + (4, 4))
    c2w[..., :3, 0] = right
    c2w[..., :3, 1] = down
    c2w[..., :3, 2] = -back
    c2w[..., :3, 3] = t
    c2w[..., 3, 3] = 1.0
    return c2w, poses[..., 4].copy()


def c2w_to_llff(c2w: np.ndarray, hwf: np.ndarray) -> np.ndarray:
    """OpenCV c2w [N,4,4] + hwf [N,3] -> LLFF poses [N,3,5]."""
    c2w = _as_c2w(c2w)
    rot, t = c2w[..., :3, :3], c2w[..., :3, 3]
    return np.stack([rot[..., 1], rot[..., 0], -rot[..., 2], t, np.asarray(hwf, np.float64)], -1)


# --- gqn-datasets (x, y, z, yaw, pitch) and the model's 7-D viewpoint ------------------------

def yaw_pitch_to_forward(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    yaw, pitch = np.asarray(yaw, np.float64), np.asarray(pitch, np.float64)
    return np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], -1)


def forward_to_yaw_pitch(forward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(forward, np.float64)
    f = f / np.linalg.norm(f, axis=-1, keepdims=True)
    return np.arctan2(f[..., 1], f[..., 0]), np.arcsin(np.clip(f[..., 2], -1.0, 1.0))


def gqn_camera_to_c2w(camera: np.ndarray) -> np.ndarray:
    """gqn-datasets camera [...,5] = (x, y, z, yaw, pitch) in radians -> OpenCV c2w (no roll)."""
    camera = np.asarray(camera, np.float64)
    forward = yaw_pitch_to_forward(camera[..., 3], camera[..., 4])
    return pose_from_forward(camera[..., :3], forward)


def c2w_to_gqn_camera(c2w: np.ndarray) -> np.ndarray:
    """OpenCV c2w -> (x, y, z, yaw, pitch); roll is dropped."""
    c2w = _as_c2w(c2w)
    yaw, pitch = forward_to_yaw_pitch(c2w[..., :3, 2])
    return np.concatenate([c2w[..., :3, 3], yaw[..., None], pitch[..., None]], -1)


def viewpoint_vector(c2w: np.ndarray) -> np.ndarray:
    """The paper's viewpoint v = (x, y, z, cos yaw, sin yaw, cos pitch, sin pitch), [...,7] float32."""
    cam = c2w_to_gqn_camera(c2w)
    yaw, pitch = cam[..., 3], cam[..., 4]
    v = np.concatenate([cam[..., :3], np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)], -1)], -1)
    return v.astype(np.float32)


# --- building poses --------------------------------------------------------------------------

def pose_from_forward(eye: np.ndarray, forward: np.ndarray, up: np.ndarray = Z_UP) -> np.ndarray:
    """OpenCV c2w at `eye` looking along `forward` with no roll about `up`.

    Looking straight along `up` has no defined roll; the world y axis then stands in for up.
    """
    eye = np.asarray(eye, np.float64)
    f = np.asarray(forward, np.float64)
    f = f / np.linalg.norm(f, axis=-1, keepdims=True)
    up = np.broadcast_to(np.asarray(up, np.float64), f.shape)
    right = np.cross(f, up)
    norm = np.linalg.norm(right, axis=-1, keepdims=True)
    degenerate = norm < 1e-9
    if np.any(degenerate):
        alt = np.cross(f, np.broadcast_to([0.0, 1.0, 0.0], f.shape))
        right = np.where(degenerate, alt, right)
        norm = np.linalg.norm(right, axis=-1, keepdims=True)
    right = right / norm
    down = np.cross(f, right)
    c2w = np.zeros(f.shape[:-1] + (4, 4))
    c2w[..., :3, 0] = right
    c2w[..., :3, 1] = down
    c2w[..., :3, 2] = f
    c2w[..., :3, 3] = eye
    c2w[..., 3, 3] = 1.0
    return c2w


def look_at(eye: np.ndarray, target: np.ndarray = (0.0, 0.0, 0.0), up: np.ndarray = Z_UP) -> np.ndarray:
    """OpenCV c2w at `eye` looking at `target`, z-up by default, batched over leading axes."""
    eye = np.asarray(eye, np.float64)
    return pose_from_forward(eye, np.asarray(target, np.float64) - eye, up)


def spherical_to_position(radius, azimuth, elevation, center=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Position at `radius` from `center`; azimuth from +x towards +y, elevation above the xy-plane (radians)."""
    radius, azimuth, elevation = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (radius, azimuth, elevation)))
    offset = radius[..., None] * yaw_pitch_to_forward(azimuth, elevation)
    return offset + np.asarray(center, np.float64)


def orbit_path(n: int, radius: float, elevation_deg: float = 20.0, center=(0.0, 0.0, 0.0),
               start_azimuth_deg: float = 0.0, turns: float = 1.0) -> np.ndarray:
    """n cameras on a horizontal circle around `center`, all looking at it: [n,4,4]."""
    azimuth = np.deg2rad(start_azimuth_deg) + np.linspace(0.0, 2 * np.pi * turns, n, endpoint=False)
    eye = spherical_to_position(radius, azimuth, np.deg2rad(elevation_deg), center)
    return look_at(eye, center)


def interpolate_poses(keyframes: np.ndarray, n: int) -> np.ndarray:
    """A smooth path through keyframe poses: positions linearly, rotations by quaternion slerp."""
    keys = _as_c2w(keyframes)
    return poses_at(keys, np.linspace(0.0, len(keys) - 1, n))


def poses_at(keyframes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Poses [N,4,4] at fractional keyframe positions t [N] (1.5: halfway from keyframe 1 to 2), as
    interpolate_poses moves between them; t is clipped to the keyframes."""
    keys = _as_c2w(keyframes)
    t = np.clip(np.atleast_1d(np.asarray(t, np.float64)), 0.0, len(keys) - 1)
    if len(keys) == 1:
        return np.repeat(keys, len(t), axis=0)
    idx = np.minimum(t.astype(int), len(keys) - 2)
    frac = t - idx
    q = rotmat_to_qvec(keys[:, :3, :3])
    out = np.zeros((len(t), 4, 4))
    for i, (k, a) in enumerate(zip(idx, frac)):
        q0, q1 = q[k], q[k + 1]
        if np.dot(q0, q1) < 0:
            q1 = -q1
        angle = np.arccos(np.clip(np.dot(q0, q1), -1.0, 1.0))
        if angle < 1e-6:
            qi = q0
        else:
            qi = (np.sin((1 - a) * angle) * q0 + np.sin(a * angle) * q1) / np.sin(angle)
        out[i, :3, :3] = qvec_to_rotmat(qi)
        out[i, :3, 3] = (1 - a) * keys[k, :3, 3] + a * keys[k + 1, :3, 3]
        out[i, 3, 3] = 1.0
    return out


# --- intrinsics and projection ---------------------------------------------------------------

def intrinsics_from_fov(width: int, height: int, fov_x_deg: float) -> np.ndarray:
    """(fx, fy, cx, cy) for square pixels, principal point at the centre."""
    fx = 0.5 * width / np.tan(0.5 * np.deg2rad(fov_x_deg))
    return np.array([fx, fx, width / 2.0, height / 2.0])


def fov_x_deg(intrinsics: np.ndarray, width: int) -> float:
    return float(np.rad2deg(2 * np.arctan(0.5 * width / np.asarray(intrinsics)[..., 0])))


def normalise_intrinsics(intrinsics: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel intrinsics -> resolution-free ones (fx/W, fy/H, cx/W, cy/H): what the model sees."""
    return np.asarray(intrinsics, np.float64) / np.array([width, height, width, height], np.float64)


def project(points: np.ndarray, c2w: np.ndarray, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points [...,3] -> (pixel coordinates [...,2], depth [...]) in an OpenCV camera."""
    c2w = _as_c2w(c2w)
    rot, t = c2w[..., :3, :3], c2w[..., :3, 3]
    cam = np.einsum("...ji,...j->...i", rot, np.asarray(points, np.float64) - t)
    fx, fy, cx, cy = np.moveaxis(np.asarray(intrinsics, np.float64), -1, 0)
    depth = cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.stack([fx * cam[..., 0] / depth + cx, fy * cam[..., 1] / depth + cy], -1)
    return uv, depth


def valid_poses(c2w: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """Per-pose mask: finite, within MAX_COORDINATE of the origin, a proper rotation (orthonormal,
    det +1), last row (0,0,0,1)."""
    c2w = np.asarray(c2w, np.float64)
    finite = np.isfinite(c2w).all(axis=(-1, -2)) & (np.abs(c2w[..., :3, 3]) < MAX_COORDINATE).all(-1)
    safe = np.where(np.isfinite(c2w), c2w, 0.0)
    rot = safe[..., :3, :3]
    ortho = np.abs(np.swapaxes(rot, -1, -2) @ rot - np.eye(3)).max(axis=(-1, -2)) < tol
    det = np.abs(np.linalg.det(rot) - 1.0) < tol
    bottom = np.abs(safe[..., 3, :] - np.array([0, 0, 0, 1.0])).max(axis=-1) < tol
    return finite & ortho & det & bottom


def as_poses(matrices, what: str = "camera") -> np.ndarray:
    """float64 [N,4,4] rigid camera-to-world poses (one [4,4] becomes [1,4,4]); GQNError naming `what`
    (e.g. "query camera", "cams.json: camera") for anything else."""
    from gqn.errors import GQNError
    try:
        poses = np.asarray(matrices, np.float64)
    except (TypeError, ValueError) as error:
        raise GQNError(f"{what}: not a list of 4×4 camera-to-world matrices ({error})") from None
    poses = poses[None] if poses.shape == (4, 4) else poses
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) == 0:
        raise GQNError(f"{what}: expected 4×4 camera-to-world matrices, got shape {poses.shape}")
    bad = np.flatnonzero(~valid_poses(poses))
    if len(bad):
        raise GQNError(f"{what} {int(bad[0])} is not a valid pose (NaN, or not a rotation and translation)")
    return poses


def valid_intrinsics(intrinsics: np.ndarray) -> np.ndarray:
    """Per-view mask of (fx, fy, cx, cy) in pixels: finite, focal lengths positive, all below
    MAX_COORDINATE (no image is a billion pixels wide)."""
    k = np.asarray(intrinsics, np.float64)
    with np.errstate(invalid="ignore"):
        return (np.abs(k) < MAX_COORDINATE).all(-1) & (k[..., 0] > 0) & (k[..., 1] > 0)


def fundamental_matrix(c2w_a: np.ndarray, intrinsics_a: np.ndarray, c2w_b: np.ndarray, intrinsics_b: np.ndarray) -> np.ndarray:
    """F with x_bᵀ F x_a = 0 for pixels (homogeneous) of one world point seen by cameras a and b;
    F x_a is the epipolar line (a, b, c) of x_a in image b."""
    def k_matrix(intr):
        fx, fy, cx, cy = np.asarray(intr, np.float64)
        return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
    a, b = _as_c2w(c2w_a), _as_c2w(c2w_b)
    relative = np.linalg.inv(b) @ a                      # camera a -> camera b
    rot, t = relative[:3, :3], relative[:3, 3]
    t_cross = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    return np.linalg.inv(k_matrix(intrinsics_b)).T @ t_cross @ rot @ np.linalg.inv(k_matrix(intrinsics_a))
