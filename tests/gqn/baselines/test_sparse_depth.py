"""Depth from sparse points, warp and blend: better than the nearest photo on a photo-world capture."""

import numpy as np
import pytest

from gqn.baselines import sparse_depth_render
from gqn.errors import GQNError
from gqn.metrics import psnr
from gqn.scenes import photo_world


def held_out_split(capture, every: int = 5, start: int = 2):
    """Context views and held-out indices; the context keeps only points that two context views see,
    as structure from motion on the context photos alone would."""
    views = capture.views
    held = np.arange(start, len(views), every)
    context_index = np.setdiff1d(np.arange(len(views)), held)
    context = views[context_index]
    keep = capture.visibility[:, context_index].sum(1) >= 2
    context.points, context.point_colors = views.points[keep], views.point_colors[keep]
    return context, held


@pytest.mark.parametrize("seed", [0, 2])
def test_beats_the_nearest_photo_on_held_out_views(seed):
    capture = photo_world.render_capture(seed, views=25, size=64, points=1500)
    views = capture.views
    context, held = held_out_split(capture)
    ours, nearest = [], []
    for i in held:
        image = sparse_depth_render(context, views.c2w[i], views.normalised_intrinsics()[i], views.size)
        assert image.dtype == np.uint8 and image.shape == (*views.size, 3)
        ours.append(psnr(image, views.images[i]))
        nearest.append(psnr(context.images[context.nearest(views.c2w[i])[0]], views.images[i]))
    assert np.mean(ours) > np.mean(nearest) + 3.0, (ours, nearest)


def test_any_query_size_and_aspect():
    capture = photo_world.render_capture(1, views=12, size=48, points=600)
    views = capture.views
    query = views.normalised_intrinsics()[3]
    for size in [(30, 50), (64, 40)]:
        assert sparse_depth_render(views, views.c2w[3], query, size, k=3).shape == (*size, 3)


def test_without_points_it_says_what_is_missing():
    views = photo_world.render_capture(3, views=4, size=32, points=0).views
    with pytest.raises(GQNError, match="sparse points"):
        sparse_depth_render(views, views.c2w[0], views.normalised_intrinsics()[0], (32, 32))
