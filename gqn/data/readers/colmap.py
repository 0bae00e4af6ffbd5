"""COLMAP sparse models (cameras, images, points3D) in text and binary: reader, writers, and a ViewSet.

Own small parsers rather than pycolmap's: they read what they can of a file that was cut short and
say which entries were lost, where pycolmap refuses the whole model. Formats as in COLMAP's
`src/colmap/scene/reconstruction_io.cc`. COLMAP works on the raw pixel grid of each photo (it never
applies EXIF orientation), so photos of a COLMAP model are loaded without it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gqn import camera
from gqn.data.images import DEFAULT_MAX_SIZE, is_regular_file
from gqn.data.readers.common import Frame, frames_to_viewset, reasons, skip
from gqn.data.viewset import ViewSet
from gqn.errors import GQNError

# name -> (COLMAP model id, number of parameters). Only the first five are turned into views; the
# others are listed so that a binary file that uses them can still be parsed.
CAMERA_MODELS = {
    "SIMPLE_PINHOLE": (0, 3), "PINHOLE": (1, 4), "SIMPLE_RADIAL": (2, 4), "RADIAL": (3, 5), "OPENCV": (4, 8),
    "OPENCV_FISHEYE": (5, 8), "FULL_OPENCV": (6, 12), "FOV": (7, 5), "SIMPLE_RADIAL_FISHEYE": (8, 4),
    "RADIAL_FISHEYE": (9, 5), "THIN_PRISM_FISHEYE": (10, 12), "RAD_TAN_THIN_PRISM_FISHEYE": (11, 16),
}
MODEL_NAMES = {model_id: name for name, (model_id, _) in CAMERA_MODELS.items()}
POINT2D_DTYPE = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<i8")])  # point3D id -1: none


@dataclass
class Camera:
    id: int
    model: str
    width: int
    height: int
    params: np.ndarray


@dataclass
class Image:
    id: int
    qvec: np.ndarray                 # world-to-camera rotation (w, x, y, z)
    tvec: np.ndarray                 # world-to-camera translation
    camera_id: int
    name: str
    xys: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))              # [N,2] 2D points
    point3d_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [N], -1 = none


@dataclass
class Point3D:
    id: int
    xyz: np.ndarray
    rgb: np.ndarray
    error: float = 0.0
    track: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # [L,2] (image_id, point2D_idx)


@dataclass
class Model:
    cameras: dict[int, Camera] = field(default_factory=dict)
    images: dict[int, Image] = field(default_factory=dict)
    points: dict[int, Point3D] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)  # what could not be read, {"name","reason"}
    binary: bool = False


class _CutShort(Exception):
    pass


class _BinaryReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise _CutShort
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values

    def read_array(self, dtype: np.dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        if self.pos + dtype.itemsize * count > len(self.data):
            raise _CutShort
        array = np.frombuffer(self.data, dtype, count, self.pos)
        self.pos += dtype.itemsize * count
        return array

    def read_name(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise _CutShort
        name = self.data[self.pos:end].decode("utf-8", errors="replace")
        self.pos = end + 1
        return name


# --- reading -----------------------------------------------------------------------------------

def model_files(folder: Path) -> tuple[dict[str, Path], bool] | None:
    """The cameras/images/points3D files of the model in `folder` (binary preferred), or None."""
    for ext, binary in ((".bin", True), (".txt", False)):
        files = {part: folder / f"{part}{ext}" for part in ("cameras", "images", "points3D")}
        if files["cameras"].is_file() and files["images"].is_file():
            return files, binary
    return None


def read_model(folder: Path) -> Model:
    folder = Path(folder)
    found = model_files(folder)
    if found is None:
        raise GQNError(f"{folder}: no COLMAP model here (cameras.bin/images.bin or cameras.txt/images.txt)")
    files, binary = found
    model = Model(binary=binary)
    for part, reader in (("cameras", _cameras_bin if binary else _cameras_txt),
                         ("images", _images_bin if binary else _images_txt),
                         ("points3D", _points_bin if binary else _points_txt)):
        if files[part].is_file():
            reader(files[part], model)
    return model


def _read_binary(path: Path, model: Model, what: str, read_one) -> None:
    reader = _BinaryReader(path.read_bytes())
    done, count = 0, None
    try:
        (count,) = reader.read("Q")
        for done in range(count):
            read_one(reader)
        done = count
    except _CutShort:
        total = "an unknown number" if count is None else str(count)
        model.problems.append(skip(path.name, f"file cut short: read {done} of {total} {what}"))
    except (KeyError, UnicodeDecodeError) as error:
        model.problems.append(skip(path.name, f"unreadable after {done} {what} ({error})"))


def _cameras_bin(path: Path, model: Model) -> None:
    def one(r: _BinaryReader) -> None:
        camera_id, model_id, width, height = r.read("iiQQ")
        name = MODEL_NAMES[model_id]
        params = np.array(r.read("d" * CAMERA_MODELS[name][1]))
        model.cameras[camera_id] = Camera(camera_id, name, width, height, params)
    _read_binary(path, model, "cameras", one)


def _images_bin(path: Path, model: Model) -> None:
    def one(r: _BinaryReader) -> None:
        image_id, *pose, camera_id = r.read("i7di")
        name = r.read_name()
        (n,) = r.read("Q")
        points = r.read_array(POINT2D_DTYPE, n)
        model.images[image_id] = Image(image_id, np.array(pose[:4]), np.array(pose[4:]), camera_id, name,
                                       np.stack([points["x"], points["y"]], -1).astype(np.float64),
                                       points["id"].astype(np.int64))
    _read_binary(path, model, "images", one)


def _points_bin(path: Path, model: Model) -> None:
    def one(r: _BinaryReader) -> None:
        point_id, x, y, z, red, green, blue, error, length = r.read("Q3d3BdQ")
        track = r.read_array("<i4", 2 * length).reshape(length, 2).astype(np.int64)
        model.points[point_id] = Point3D(point_id, np.array([x, y, z]), np.array([red, green, blue], np.uint8),
                                         error, track)
    _read_binary(path, model, "points", one)


def _text_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) for every line that is not a comment, blank lines kept (images.txt needs them)."""
    lines = path.read_text(errors="replace").splitlines()
    return [(i + 1, line.strip()) for i, line in enumerate(lines) if not line.lstrip().startswith("#")]


def _cameras_txt(path: Path, model: Model) -> None:
    for number, line in _text_lines(path):
        if not line:
            continue
        try:
            fields = line.split()
            camera_id, name, width, height = int(fields[0]), fields[1], int(fields[2]), int(fields[3])
            params = np.array([float(v) for v in fields[4:]])
            expected = CAMERA_MODELS.get(name, (None, len(params)))[1]
            if len(params) != expected:
                raise ValueError(f"{name} needs {expected} parameters, found {len(params)}")
            model.cameras[camera_id] = Camera(camera_id, name, width, height, params)
        except (IndexError, ValueError, OverflowError) as error:
            model.problems.append(skip(f"{path.name} line {number}", f"unreadable camera ({error})"))


def _images_txt(path: Path, model: Model) -> None:
    lines = _text_lines(path)
    i = 0
    while i < len(lines):
        number, line = lines[i]
        if not line:
            i += 1
            continue
        points_line = lines[i + 1][1] if i + 1 < len(lines) else ""
        i += 2
        fields = line.split()
        try:
            if len(fields) < 10:
                raise ValueError(f"{len(fields)} fields, expected 10")
            values = [float(v) for v in fields[1:8]]
            image = Image(int(fields[0]), np.array(values[:4]), np.array(values[4:]), int(fields[8]),
                          " ".join(fields[9:]))
        except ValueError as error:
            model.problems.append(skip(f"{path.name} line {number}", f"unreadable image entry ({error})"))
            continue
        try:
            points = points_line.split()
            if len(points) % 3:
                raise ValueError
            image.xys = np.array([float(v) for v in points[0::3]] + [float(v) for v in points[1::3]]).reshape(2, -1).T
            image.point3d_ids = np.array([int(v) for v in points[2::3]], np.int64)
        except (ValueError, OverflowError):
            model.problems.append(skip(image.name, "its 2D points line is unreadable; points ignored"))
        model.images[image.id] = image


def _points_txt(path: Path, model: Model) -> None:
    for number, line in _text_lines(path):
        if not line:
            continue
        try:
            fields = line.split()
            if len(fields) < 8 or (len(fields) - 8) % 2:
                raise ValueError(f"{len(fields)} fields")
            track = np.array([int(v) for v in fields[8:]], np.int64).reshape(-1, 2)
            rgb = [int(v) for v in fields[4:7]]
            if not all(0 <= c <= 255 for c in rgb):
                raise ValueError(f"colour {rgb} is not three values 0-255")
            point = Point3D(int(fields[0]), np.array([float(v) for v in fields[1:4]]), np.array(rgb, np.uint8),
                            float(fields[7]), track)
            model.points[point.id] = point
        except (ValueError, OverflowError) as error:
            model.problems.append(skip(f"{path.name} line {number}", f"unreadable point ({error})"))


# --- writing -----------------------------------------------------------------------------------

def write_model(model: Model, folder: Path, binary: bool) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (_write_binary if binary else _write_text)(model, folder)


def _write_text(model: Model, folder: Path) -> None:
    def numbers(values) -> str:
        return " ".join(repr(float(v)) for v in values)

    lines = ["# Camera list with one line of data per camera:", "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
             f"# Number of cameras: {len(model.cameras)}"]
    lines += [f"{c.id} {c.model} {c.width} {c.height} {numbers(c.params)}" for c in model.cameras.values()]
    (folder / "cameras.txt").write_text("\n".join(lines) + "\n")

    lines = ["# Image list with two lines of data per image:",
             "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
             "#   POINTS2D[] as (X, Y, POINT3D_ID)", f"# Number of images: {len(model.images)}"]
    for im in model.images.values():
        lines.append(f"{im.id} {numbers(im.qvec)} {numbers(im.tvec)} {im.camera_id} {im.name}")
        lines.append(" ".join(f"{x!r} {y!r} {int(p)}" for (x, y), p in zip(im.xys.tolist(), im.point3d_ids)))
    (folder / "images.txt").write_text("\n".join(lines) + "\n")

    lines = ["# 3D point list with one line of data per point:",
             "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
             f"# Number of points: {len(model.points)}"]
    lines += [f"{p.id} {numbers(p.xyz)} {' '.join(str(int(c)) for c in p.rgb)} {float(p.error)!r} "
              f"{' '.join(str(int(v)) for v in p.track.ravel())}".rstrip() for p in model.points.values()]
    (folder / "points3D.txt").write_text("\n".join(lines) + "\n")


def _write_binary(model: Model, folder: Path) -> None:
    out = [struct.pack("<Q", len(model.cameras))]
    for c in model.cameras.values():
        out.append(struct.pack("<iiQQ", c.id, CAMERA_MODELS[c.model][0], c.width, c.height))
        out.append(np.asarray(c.params, "<f8").tobytes())
    (folder / "cameras.bin").write_bytes(b"".join(out))

    out = [struct.pack("<Q", len(model.images))]
    for im in model.images.values():
        out.append(struct.pack("<i7di", im.id, *im.qvec, *im.tvec, im.camera_id))
        out.append(im.name.encode() + b"\0" + struct.pack("<Q", len(im.xys)))
        points = np.zeros(len(im.xys), dtype=POINT2D_DTYPE)
        points["x"], points["y"], points["id"] = im.xys[:, 0], im.xys[:, 1], im.point3d_ids
        out.append(points.tobytes())
    (folder / "images.bin").write_bytes(b"".join(out))

    out = [struct.pack("<Q", len(model.points))]
    for p in model.points.values():
        out.append(struct.pack("<Q3d3BdQ", p.id, *p.xyz, *p.rgb, p.error, len(p.track)))
        out.append(np.asarray(p.track, "<i4").tobytes())
    (folder / "points3D.bin").write_bytes(b"".join(out))


# --- into a ViewSet ----------------------------------------------------------------------------

def camera_intrinsics(cam: Camera) -> tuple[np.ndarray, dict[str, float]]:
    """(fx, fy, cx, cy) and the distortion coefficients of a supported camera model."""
    if not (1 <= cam.width < 2**31 and 1 <= cam.height < 2**31):
        raise ValueError(f"camera {cam.id} is {cam.width}×{cam.height} pixels; a camera needs at least 1×1")
    p = cam.params
    if cam.model in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL"):
        intrinsics = np.array([p[0], p[0], p[1], p[2]])
        distortion = dict(zip(("k1", "k2"), p[3:]))
    elif cam.model in ("PINHOLE", "OPENCV"):
        intrinsics = np.array(p[:4])
        distortion = dict(zip(("k1", "k2", "p1", "p2"), p[4:]))
    else:
        raise ValueError(f"camera model {cam.model} is not supported (use SIMPLE_PINHOLE, PINHOLE, "
                         "SIMPLE_RADIAL, RADIAL or OPENCV; undistort fisheye models first)")
    return intrinsics, {k: float(v) for k, v in distortion.items() if v}


def find_image_folder(model_folder: Path, names: list[str]) -> Path:
    """Where the photos of a model live: images/ beside it, beside sparse/, beside sparse/0, or the model folder."""
    model_folder = model_folder.resolve()
    candidates = [model_folder / "images", model_folder.parent / "images", model_folder.parent.parent / "images",
                  model_folder]
    found = [sum(is_regular_file(folder / name) for name in names) for folder in candidates]
    return candidates[int(np.argmax(found))]


def read_colmap(folder: Path, max_size: int | None = DEFAULT_MAX_SIZE) -> ViewSet:
    folder = Path(folder)
    model = read_model(folder)
    if not model.images:
        raise GQNError(f"{folder}: the COLMAP model has no readable images — "
                       f"{reasons(model.problems) or 'it lists no images'}")
    images = sorted(model.images.values(), key=lambda im: im.name)
    image_folder = find_image_folder(folder, [im.name for im in images])
    skipped = list(model.problems)
    frames = []
    for im in images:
        cam = model.cameras.get(im.camera_id)
        if cam is None:
            skipped.append(skip(im.name, f"camera {im.camera_id} is not in the model's cameras file"))
            continue
        try:
            intrinsics, distortion = camera_intrinsics(cam)
        except ValueError as error:
            skipped.append(skip(im.name, str(error)))
            continue
        frames.append(Frame(im.name, image_folder / im.name, camera.colmap_to_c2w(im.qvec, im.tvec), intrinsics,
                            (cam.width, cam.height), distortion))
    with np.errstate(over="ignore"):
        points = np.array([p.xyz for p in model.points.values()], np.float32).reshape(-1, 3)
    finite = (np.abs(points) < camera.MAX_COORDINATE).all(1)  # NaN, or absurdly far: not part of the scene
    points = points[finite]
    colors = np.array([p.rgb for p in model.points.values()], np.uint8).reshape(-1, 3)[finite]
    return frames_to_viewset(frames, "colmap-binary" if model.binary else "colmap-text", folder, max_size, skipped,
                             honour_exif=False, meta={"image_folder": str(image_folder)},
                             points=points if len(points) else None, point_colors=colors if len(colors) else None)
