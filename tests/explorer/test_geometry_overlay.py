"""The viewport's "Geometry" overlay is the procedural scene itself: seen through a real camera it
covers the pixels the exact renderer covers, in the renderer's colours."""

import numpy as np
import pytest

from explorer import theme
from explorer.session import Session
from explorer_helpers import gl_can_draw, grab_rgb, shown_viewport
from gqn.scenes import render_views

SIDE = 320  # the viewport is at least 320×240


@pytest.mark.parametrize("kind", ["shepard-metzler-7", "shepard-metzler-5"])
def test_overlay_silhouette_and_colours_match_the_exact_render(qtbot, kind):
    if not gl_can_draw():
        pytest.skip("needs an OpenGL platform (xcb under Xvfb)")
    views = render_views(kind, 11, 4, 32)
    session = Session()
    viewport = shown_viewport(qtbot, session, (SIDE, SIDE))
    session.set_views(views)
    session.set_show_photos(False)
    for item in (viewport.grid, viewport.axes, viewport.frustums, viewport.imagined, viewport.points):
        item.setVisible(False)  # only the overlay
    assert viewport.mesh is not None
    intrinsics = views.intrinsics[2] * SIDE / 32
    for index in range(len(views)):
        viewport.look_through(views.c2w[index], intrinsics, (SIDE, SIDE))
        qtbot.wait(10)
        drawn = grab_rgb(viewport).astype(int)
        truth = session.truth_scene().render(views.c2w[index], intrinsics, SIDE)[0].astype(int)
        background = np.array(theme.rgba(theme.BACKGROUND)[:3]) * 255
        drawn_mask = np.abs(drawn - background).max(-1) > 12
        true_mask = truth.max(-1) > 0  # the renderer's background is black
        iou = (drawn_mask & true_mask).sum() / (drawn_mask | true_mask).sum()
        assert iou > 0.95, f"view {index}: silhouettes overlap {iou:.3f}"
        both = drawn_mask & true_mask
        error = np.abs(drawn[both] - truth[both]).max(-1)
        assert np.median(error) <= 3 and (error <= 16).mean() > 0.95, f"view {index}: colours differ"
