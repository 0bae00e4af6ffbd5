"""The classical yardsticks on captures the project renders itself: portrait, landscape, wide-angle."""

import numpy as np
import pytest

from gqn import ViewSet, camera
from gqn.baselines import nearest_photo, nearest_views, plane_sweep
from gqn.data.images import fit_image
from gqn.data.photo_scene import default_cameras, make_scene, render
from gqn.evaluate_capture import held_out_indices
from gqn.errors import GQNError
from gqn.metrics import psnr


def rendered_capture(n: int, height: int, width: int, fov_x_deg: float, off_centre=(0.0, 0.0), seed: int = 0) -> ViewSet:
    """n photos of the textured box scene on an arc, with one camera model (principal point shifted
    by `off_centre` × image size)."""
    scene = make_scene(seed)
    c2w = default_cameras(n, seed, arc_deg=70.0)
    intrinsics = camera.intrinsics_from_fov(width, height, fov_x_deg) + [0, 0, off_centre[0] * width, off_centre[1] * height]
    images = np.stack([render(scene, pose, intrinsics, width, height) for pose in c2w])
    return ViewSet(images, c2w, np.tile(intrinsics, (n, 1)), names=[f"photo-{i:02d}.png" for i in range(n)])


CAPTURES = {
    "portrait": dict(height=96, width=54, fov_x_deg=42.0),
    "landscape": dict(height=54, width=96, fov_x_deg=60.0),
    "wide-angle off-centre": dict(height=72, width=96, fov_x_deg=88.0, off_centre=(0.06, -0.04)),
}


@pytest.fixture(scope="module", params=list(CAPTURES))
def capture(request):
    return rendered_capture(16, **CAPTURES[request.param])


def test_plane_sweep_beats_the_nearest_photo_on_held_out_views(capture):
    held, contexts = held_out_indices(capture.names, 4, 1)
    intrinsics = capture.normalised_intrinsics()
    sweep, nearest = [], []
    for i in held:
        truth = capture.images[i]
        sweep.append(psnr(plane_sweep(capture[contexts], capture.c2w[i], intrinsics[i], capture.size), truth))
        nearest.append(psnr(nearest_photo(capture[contexts], capture.c2w[i], intrinsics[i], capture.size), truth))
    assert np.mean(sweep) > np.mean(nearest) + 1.0, (np.mean(sweep), np.mean(nearest))


def test_baselines_render_at_the_asked_camera_and_size(capture):
    query = capture.c2w[3]
    for render_view in (plane_sweep, nearest_photo):
        out = render_view(capture[[0, 1, 2, 4, 5]], query, np.array([0.9, 1.2, 0.5, 0.5]), (40, 30))
        assert out.shape == (40, 30, 3) and out.dtype == np.uint8


def test_nearest_views_prefer_position_and_viewing_direction():
    c2w = camera.orbit_path(8, 4.0, 20.0)
    query = c2w[2].copy()
    query[:3, 3] = 0.8 * c2w[2, :3, 3] + 0.2 * c2w[3, :3, 3]
    assert list(nearest_views(c2w, query, 3, 4.0)[0][:2]) == [2, 3]
    turned = c2w[5].copy()
    turned[:3, 3] = c2w[2, :3, 3]       # at view 2's place, looking as view 5 does
    assert nearest_views(c2w, turned, 1, 4.0)[0, 0] == 2


def test_held_out_protocol_counts_sorted_names():
    names = ["b.jpg", "a.jpg", "e.jpg", "c.jpg", "d.jpg", "g.jpg", "f.jpg", "h.jpg"]
    held, contexts = held_out_indices(names, 5, 2)
    assert [names[i] for i in held] == ["c.jpg", "h.jpg"]     # sorted positions 2 and 7
    assert sorted(names[i] for i in contexts) == ["a.jpg", "b.jpg", "d.jpg", "e.jpg", "f.jpg", "g.jpg"]
    with pytest.raises(GQNError, match="leaves none out"):
        held_out_indices(names, 5, 9)
    with pytest.raises(GQNError, match="at least 2"):
        held_out_indices(names[:3], 2, 0)


def test_fit_image_keeps_the_middle_at_the_asked_aspect():
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 20:60] = 255                     # the centred square is white
    assert fit_image(image, (16, 16)).min() >= 230          # (the filter rings a little at the edges)
    assert fit_image(image, (10, 40)).shape == (10, 40, 3)
