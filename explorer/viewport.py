"""The 3D viewport: the scene's cameras as frustums carrying their photos, the imagined camera, a grid.

pyqtgraph's GLViewWidget has no camera-changed signal; this subclass emits one. Every camera's
geometry comes from the Session; the viewport only draws it and reports clicks.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from PIL import Image
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QMatrix4x4, QVector3D, QVector4D
from PySide6.QtOpenGL import QOpenGLBuffer

from explorer import capture, theme
from explorer.session import Session

TEXTURE_SIZE = 96           # photos are shown as textures at most this many pixels wide
PICK_RADIUS = 10.0          # pixels around a frustum's lines that count as clicking it
CLICK_SLOP = 4.0            # a press and release closer than this is a click, not a drag
FRUSTUM_EDGES = [(0, 1), (0, 2), (0, 3), (0, 4), (1, 2), (2, 3), (3, 4), (4, 1)]


def frustum_points(c2w: np.ndarray, intrinsics: np.ndarray, size: tuple[int, int], depth: float) -> np.ndarray:
    """[V,5,3]: each camera's centre and its image corners at `depth` (OpenCV axes, so corners are
    pixel (0,0), (W,0), (W,H), (0,H))."""
    height, width = size
    fx, fy, cx, cy = np.moveaxis(np.asarray(intrinsics, np.float64), -1, 0)
    us, vs = np.array([0.0, width, width, 0.0]), np.array([0.0, 0.0, height, height])
    corners = np.stack([(us[None] - cx[:, None]) / fx[:, None], (vs[None] - cy[:, None]) / fy[:, None],
                        np.ones((len(fx), 4))], -1) * depth                                      # [V,4,3]
    local = np.concatenate([np.zeros((len(fx), 1, 3)), corners], 1)                              # [V,5,3]
    return np.einsum("vij,vkj->vki", c2w[:, :3, :3], local) + c2w[:, None, :3, 3]


def image_plane_transform(c2w: np.ndarray, intrinsics: np.ndarray, depth: float, scale: float) -> QMatrix4x4:
    """Maps a GLImageItem's texel (u, v) (of an image `scale` times smaller than the photo) onto the
    frustum's image plane at `depth`."""
    fx, fy, cx, cy = intrinsics
    pixel_to_camera = np.array([[depth * scale / fx, 0, 0, -cx * depth / fx],
                                [0, depth * scale / fy, 0, -cy * depth / fy],
                                [0, 0, 1, depth],
                                [0, 0, 0, 1]])
    return _qmatrix(c2w @ pixel_to_camera)


def texture(image: np.ndarray, alpha: int = 235) -> tuple[np.ndarray, float]:
    """RGBA texture [w,h,4] (GLImageItem wants x first) at most TEXTURE_SIZE wide, and the scale."""
    height, width = image.shape[:2]
    scale = max(1.0, width / TEXTURE_SIZE)
    if scale > 1.0:
        image = np.asarray(Image.fromarray(image).resize((round(width / scale), round(height / scale)), Image.BILINEAR))
        scale = width / image.shape[1]
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), alpha, np.uint8)], -1)
    return np.ascontiguousarray(rgba.transpose(1, 0, 2)), scale


class PhotoPlanes(GLGraphicsItem):
    """Every photo as a textured quad on its frustum's image plane, drawn in one call from one atlas.

    One GLImageItem per photo cost ~0.19 ms of Python/PyOpenGL per photo per frame: 19 of the
    23 ms of a frame with 100 frustums (profile of benchmarks/bench_explorer.py). This draws all
    of them at the cost of one.
    """

    def __init__(self, images: np.ndarray, corners: np.ndarray, alpha: int = 235) -> None:
        super().__init__()
        self.setGLOptions("translucent")
        count, height, width = images.shape[:3]
        tile = texture(images[0])[0].shape[1::-1]                                   # (h, w) of one tile
        cols = int(np.ceil(np.sqrt(count)))
        rows = int(np.ceil(count / cols))
        atlas = np.zeros((rows * tile[0], cols * tile[1], 4), np.uint8)
        uv = np.empty((count, 4, 2), np.float32)
        for i, image in enumerate(images):
            r, c = divmod(i, cols)
            atlas[r * tile[0]:(r + 1) * tile[0], c * tile[1]:(c + 1) * tile[1]] = texture(image, alpha)[0].transpose(1, 0, 2)
            u0, u1 = c / cols, (c + 1) / cols
            v0, v1 = r / rows, (r + 1) / rows
            uv[i] = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]                        # the corners' pixels
        quads = [0, 1, 2, 0, 2, 3]                                                  # two triangles per photo
        self.atlas, self.count = atlas, count
        self.vertices = np.concatenate([corners[:, quads].reshape(-1, 3), uv[:, quads].reshape(-1, 2)], 1)
        self.vertices = np.ascontiguousarray(self.vertices, np.float32)
        self.texture_id = None
        self.vbo = QOpenGLBuffer(QOpenGLBuffer.Type.VertexBuffer)

    def __len__(self) -> int:
        return self.count

    def free(self) -> None:
        """Give back the texture and buffer (the view's GL context must be current)."""
        if self.texture_id is not None:
            GL.glDeleteTextures([self.texture_id])
            self.vbo.destroy()
            self.texture_id = None

    def _upload(self) -> None:
        self.texture_id = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture_id)
        for parameter in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, parameter, GL.GL_LINEAR)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA, self.atlas.shape[1], self.atlas.shape[0], 0, GL.GL_RGBA,
                        GL.GL_UNSIGNED_BYTE, self.atlas)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        self.vbo.create()
        self.vbo.bind()
        self.vbo.allocate(self.vertices, self.vertices.nbytes)
        self.vbo.release()

    def paint(self) -> None:
        if self.texture_id is None:
            self._upload()
        self.setupGLState()
        program = gl.GLImageItem.getShaderProgram()  # u_mvp, a_position (location 0), a_texcoord (1)
        self.vbo.bind()
        GL.glVertexAttribPointer(0, 3, GL.GL_FLOAT, False, 5 * 4, None)
        GL.glVertexAttribPointer(1, 2, GL.GL_FLOAT, False, 5 * 4, GL.GLvoidp(3 * 4))
        self.vbo.release()
        GL.glEnableVertexAttribArray(0)
        GL.glEnableVertexAttribArray(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture_id)
        with program:
            mvp = np.array(self.mvpMatrix().data(), np.float32)
            GL.glUniformMatrix4fv(GL.glGetUniformLocation(program, "u_mvp"), 1, False, mvp)
            GL.glDrawArrays(GL.GL_TRIANGLES, 0, len(self.vertices))
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glDisableVertexAttribArray(0)
        GL.glDisableVertexAttribArray(1)


class Viewport(gl.GLViewWidget):
    cameraChanged = Signal()          # the viewport's own (browsing) camera moved
    frustumClicked = Signal(int)      # a real camera's frustum was clicked

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.setBackgroundColor(theme.BACKGROUND)
        self.setMinimumSize(320, 240)
        self.grid = gl.GLGridItem(color=(255, 255, 255, 28))
        self.axes = gl.GLLinePlotItem(mode="lines", width=2, antialias=True)
        self.frustums = gl.GLLinePlotItem(mode="lines", width=1.5, antialias=True)
        self.imagined = gl.GLLinePlotItem(mode="lines", width=3, antialias=True)
        self.imagined_photo: gl.GLImageItem | None = None
        self.points = gl.GLScatterPlotItem(size=2.0, pxMode=True)
        self.photos: PhotoPlanes | None = None
        self.mesh: gl.GLMeshItem | None = None
        self.region_box = gl.GLLinePlotItem(mode="lines", width=2, antialias=True)
        self.camera_path = gl.GLLinePlotItem(mode="line_strip", width=2, antialias=True)
        self.display = np.eye(4)  # scene -> what is drawn: the capture turned level (capture.display_transform)
        for item in (self.grid, self.axes, self.points, self.frustums, self.imagined, self.region_box,
                     self.camera_path):
            self.addItem(item)
        self._press: QPointF | None = None
        self._corners = np.zeros((0, 5, 3))
        events = session.events
        events.views.connect(self.rebuild)
        events.display.connect(self.rebuild)
        events.context.connect(self.update_colors)
        events.selection.connect(self.update_colors)
        events.camera.connect(self.update_imagined)
        events.region.connect(self.update_region)

    # --- building the scene --------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Recreate every item that depends on the ViewSet, frustum size or photo visibility."""
        views, session = self.session.views, self.session
        if self.photos is not None and self.isValid():
            self.makeCurrent()
            self.photos.free()
            self.doneCurrent()
        for item in (self.photos, self.imagined_photo, self.mesh):
            if item is not None:
                self.removeItem(item)
        self.photos, self.imagined_photo, self.mesh = None, None, None
        if views is None:
            return
        radius, center = session.scene_radius, session.center
        self.display = capture.display_transform(views, center)
        heights = (views.positions - center) @ self.display[2, :3]                 # above the centre, levelled
        if views.points is not None and len(views.points) >= 8:                    # the ground under the points
            points = views.points[np.isfinite(views.points).all(-1)]
            heights = np.append(heights, np.percentile((points - center) @ self.display[2, :3], 2))
        ground = np.eye(4)
        ground[:3, 3] = [center[0], center[1], center[2] + min(float(heights.min()), 0.0) - 0.05 * radius]
        self.grid.setTransform(_qmatrix(np.linalg.inv(self.display) @ ground))  # level in the drawn frame
        self.grid.setSize(6 * radius, 6 * radius)
        self.grid.setSpacing(radius / 2, radius / 2)
        length = 0.5 * radius
        self.axes.setData(pos=np.repeat(center[None], 6, 0) + np.array([[0, 0, 0], [length, 0, 0], [0, 0, 0],
                                                                       [0, length, 0], [0, 0, 0], [0, 0, length]]),
                          color=np.array([theme.rgba("#ef5350")] * 2 + [theme.rgba("#66bb6a")] * 2 + [theme.rgba("#42a5f5")] * 2))
        self._corners = frustum_points(views.c2w, views.intrinsics, views.size, session.frustum_size)
        self.frustums.setData(pos=self._corners[:, FRUSTUM_EDGES].reshape(-1, 3))
        if session.show_photos and len(views):
            self.photos = PhotoPlanes(views.images, self._corners[:, 1:])
            self.addItem(self.photos)
        scene = session.truth_scene()
        if scene is not None and session.show_geometry:
            self._set_mesh(scene)
        if views.points is not None and len(views.points):
            position, color = capture.points_to_draw(views.points, views.point_colors)
            self.points.setData(pos=position, color=color)
        else:
            self.points.setData(pos=np.zeros((0, 3)))
        self.update_colors()
        self.update_imagined()
        self.update_region()

    def _set_mesh(self, scene) -> None:
        """The procedural scene's triangles in their shaded colours; see-through for rooms (cameras inside).

        Every triangle gets its own three vertices and an explicit face list: given face-indexed
        vertices alone, pyqtgraph reads `faceColors` as per-vertex colours and smears them over the
        wrong triangles."""
        inside = bool(np.all(np.abs(self.session.views.positions) < np.abs(scene.triangles).reshape(-1, 3).max(0)))
        alpha = 0.3 if inside else 1.0
        colors = np.concatenate([scene.shaded / 255.0, np.full((len(scene.shaded), 1), alpha)], 1)
        vertices = scene.triangles.reshape(-1, 3)
        faces = np.arange(len(vertices), dtype=np.uint32).reshape(-1, 3)
        self.mesh = gl.GLMeshItem(vertexes=vertices, faces=faces, faceColors=colors.astype(np.float32), smooth=False,
                                  glOptions="translucent" if inside else "opaque")
        self.addItem(self.mesh)

    def update_region(self) -> None:
        """The region box the model considers, when there is one."""
        region = self.session.region
        self.region_box.setVisible(region is not None)
        if region is not None:
            self.region_box.setData(pos=region.edges(), color=theme.rgba(theme.REGION))

    def show_camera_path(self, positions: np.ndarray) -> None:
        """The imagined camera's path through its keyframes, as a line (hidden when shorter than 2)."""
        self.camera_path.setVisible(len(positions) >= 2)
        if len(positions) >= 2:
            self.camera_path.setData(pos=np.asarray(positions, np.float32), color=theme.rgba(theme.IMAGINED, 0.6))

    def update_colors(self) -> None:
        session = self.session
        if session.views is None:
            return
        colors = np.empty((len(session.views), len(FRUSTUM_EDGES) * 2, 4), np.float32)
        for i in range(len(session.views)):
            color = theme.CONTEXT if i in session.context else theme.VIEW
            colors[i] = theme.rgba(theme.SELECTED if i == session.selected else color)
        self.frustums.setData(color=colors.reshape(-1, 4))

    def update_imagined(self) -> None:
        session = self.session
        if session.camera is None or session.views is None:
            return
        intrinsics, size = session.query_camera()
        corners = frustum_points(session.camera.c2w[None], intrinsics[None], size, session.frustum_size * 1.25)[0]
        self.imagined.setData(pos=corners[FRUSTUM_EDGES].reshape(-1, 3), color=theme.rgba(theme.IMAGINED))
        if self.imagined_photo is not None:
            self._place_imagined_photo()

    def show_generated(self, image: np.ndarray | None) -> None:
        """Show the model's latest image inside the imagined camera's frustum (None: nothing imagined,
        no model or a failed view, so an older picture must not stay there)."""
        if image is None:
            if self.imagined_photo is not None:
                self.removeItem(self.imagined_photo)
                self.imagined_photo = None
            return
        data, scale = texture(image, alpha=255)
        if self.imagined_photo is None:
            self.imagined_photo = gl.GLImageItem(data, smooth=True)
            self.addItem(self.imagined_photo)
        else:
            self.imagined_photo.setData(data)
        self._imagined_scale = scale * self.session.query_camera()[1][1] / image.shape[1]
        self._place_imagined_photo()

    def _place_imagined_photo(self) -> None:
        session = self.session
        self.imagined_photo.setVisible(session.show_photos)
        self.imagined_photo.setTransform(image_plane_transform(session.camera.c2w, session.query_camera()[0],
                                                               session.frustum_size * 1.25, self._imagined_scale))

    # --- the browsing camera ---------------------------------------------------------------------------

    def setCameraPosition(self, *args, **kwargs) -> None:
        super().setCameraPosition(*args, **kwargs)
        self.cameraChanged.emit()

    def orbit(self, azim: float, elev: float) -> None:
        super().orbit(azim, elev)
        self.cameraChanged.emit()

    def pan(self, dx: float, dy: float, dz: float, relative: str = "global") -> None:
        super().pan(dx, dy, dz, relative)
        self.cameraChanged.emit()

    def wheelEvent(self, event) -> None:
        super().wheelEvent(event)
        self.cameraChanged.emit()

    def viewMatrix(self) -> QMatrix4x4:
        """pyqtgraph's camera looks at the scene after `display` has turned it level."""
        return super().viewMatrix() * _qmatrix(self.display)

    def camera_state(self) -> dict[str, float | list[float]]:
        c = self.opts["center"]
        return {"center": [c.x(), c.y(), c.z()], "distance": self.opts["distance"], "fov": self.opts["fov"],
                "azimuth": self.opts["azimuth"], "elevation": self.opts["elevation"]}

    def reset_view(self) -> None:
        """Frame every camera and the scene centre from above at an angle, level with the capture."""
        session = self.session
        self.opts["fov"] = 60
        if session.views is None:
            return
        level = self._to_display(session.views.positions)
        target, distance, azimuth = capture.overview(level, self._to_display(session.center[None])[0], 60,
                                                     self.width() / max(self.height(), 1))
        self.setCameraPosition(pos=QVector3D(*target), distance=distance, elevation=28, azimuth=azimuth)

    def _to_display(self, points: np.ndarray) -> np.ndarray:
        return points @ self.display[:3, :3].T + self.display[:3, 3]

    def axis_view(self, axis: str) -> None:
        """Look down the scene from "top", "front" (along +y) or "side" (along -x)."""
        elevation, azimuth = {"top": (90, -90), "front": (0, -90), "side": (0, 0)}[axis]
        self.setCameraPosition(pos=QVector3D(*self.session.center), distance=2.6 * self.session.scene_radius,
                               elevation=elevation, azimuth=azimuth)

    def look_through_imagined(self) -> None:
        """Put the viewport's eye at the imagined camera, looking where it looks, with its field of view."""
        session = self.session
        if session.camera is not None:
            self.look_through(session.camera.c2w, *session.query_camera(), distance=session.camera.distance)

    def look_through(self, c2w: np.ndarray, intrinsics: np.ndarray, size: tuple[int, int],
                     distance: float | None = None) -> None:
        """Put the viewport's eye at camera `c2w` (pixel intrinsics for an image of `size` (h, w)), looking
        along its axis, wide enough that its whole picture is in view; it orbits `distance` ahead.
        The viewport's camera has no roll: a camera rolled about its axis is seen upright."""
        c2w = self.display @ np.asarray(c2w, np.float64)
        forward = c2w[:3, 2]
        distance = max(float(distance if distance is not None else self.session.scene_radius), 1e-3)
        azimuth = np.rad2deg(np.arctan2(-forward[1], -forward[0]))
        elevation = np.rad2deg(np.arcsin(np.clip(-forward[2], -1, 1)))
        (fx, fy, _, _), (height, width) = intrinsics, size
        # pyqtgraph's fov is horizontal: wide enough that the camera's whole picture is in view
        half_tan = max(0.5 * width / fx, 0.5 * height / fy * self.width() / max(self.height(), 1))
        self.opts["fov"] = float(np.rad2deg(2 * np.arctan(half_tan)))
        self.setCameraPosition(pos=QVector3D(*(c2w[:3, 3] + forward * distance)), distance=distance,
                               elevation=float(elevation), azimuth=float(azimuth))

    # --- clicking a frustum ------------------------------------------------------------------------------

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points [N,3] -> (widget pixel coordinates [N,2], in front of the eye [N])."""
        region = (0, 0, self.width(), self.height())
        mvp = self.projectionMatrix(region, region) * self.viewMatrix()
        clip = np.array([mvp.map(QVector4D(*p, 1.0)).toTuple() for p in np.asarray(points, np.float64)]).reshape(-1, 4)
        w = clip[:, 3:4]
        ndc = clip[:, :3] / np.where(np.abs(w) < 1e-12, 1e-12, w)
        xy = np.stack([(ndc[:, 0] + 1) * 0.5 * self.width(), (1 - ndc[:, 1]) * 0.5 * self.height()], -1)
        return xy, w[:, 0] > 0

    def pick(self, x: float, y: float) -> int | None:
        """The real camera whose drawn frustum is under (x, y), nearest to the eye; None if none."""
        if not len(self._corners):
            return None
        xy, front = self.project(self._corners.reshape(-1, 3))
        xy, front = xy.reshape(-1, 5, 2), front.reshape(-1, 5)
        a, b = xy[:, [e[0] for e in FRUSTUM_EDGES]], xy[:, [e[1] for e in FRUSTUM_EDGES]]         # [V,8,2]
        ab, ap = b - a, np.array([x, y]) - a
        t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0, 1)
        distance = np.linalg.norm(a + t[..., None] * ab - [x, y], axis=-1).min(-1)                # [V]
        inside = np.array([_inside(quad, (x, y)) for quad in xy[:, 1:]])
        hit = (front.all(-1)) & ((distance <= PICK_RADIUS) | inside)
        if not hit.any():
            return None
        eye = np.linalg.solve(self.display, [*self.cameraPosition().toTuple(), 1.0])[:3]
        depth = np.linalg.norm(self._corners.mean(1) - eye, axis=-1)
        return int(np.flatnonzero(hit)[np.argmin(depth[hit])])

    def mousePressEvent(self, event) -> None:
        self._press = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        press, self._press = self._press, None
        if press is not None and event.button() == Qt.LeftButton and \
                (event.position() - press).manhattanLength() <= CLICK_SLOP:
            index = self.pick(event.position().x(), event.position().y())
            if index is not None:
                self.frustumClicked.emit(index)
        super().mouseReleaseEvent(event)

    def disconnect_session(self) -> None:
        events = self.session.events
        for event, callback in [(events.views, self.rebuild), (events.display, self.rebuild),
                                (events.context, self.update_colors), (events.selection, self.update_colors),
                                (events.camera, self.update_imagined), (events.region, self.update_region)]:
            event.disconnect(callback)


def _qmatrix(matrix: np.ndarray) -> QMatrix4x4:
    return QMatrix4x4(*np.asarray(matrix, np.float32).ravel())


def _inside(quad: np.ndarray, point: tuple[float, float]) -> bool:
    """Whether `point` lies inside the convex quadrilateral `quad` [4,2] (either winding)."""
    edges = np.roll(quad, -1, 0) - quad
    rel = np.asarray(point) - quad
    cross = edges[:, 0] * rel[:, 1] - edges[:, 1] * rel[:, 0]
    return bool((cross >= 0).all() or (cross <= 0).all())
