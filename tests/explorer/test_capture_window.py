"""A capture in the window: level and framed in the viewport, its points drawn, and a region box
that the model is given and that is remembered for the capture."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.capture import Region
from explorer.session import Session
from explorer_helpers import gl_can_draw, shown_viewport, wait_full
from test_capture import arc_capture


def test_a_tilted_capture_is_shown_level_and_in_view(qtbot):
    if not gl_can_draw():
        pytest.skip("needs an OpenGL platform (xcb under Xvfb)")
    views, up = arc_capture(tilt_deg=25.0, points=500)
    session = Session()
    viewport = shown_viewport(qtbot, session, (480, 360))
    session.set_views(views)
    viewport.axis_view("front")
    (centre, above), _ = viewport.project(np.array([session.center, session.center + session.scene_radius * up]))
    assert abs(above[0] - centre[0]) < 1.0 and above[1] < centre[1] - 50  # the capture's up points up on screen
    grid_up = np.array(viewport.grid.transform().data(), np.float64).reshape(4, 4).T[:3, 2]
    np.testing.assert_allclose(grid_up, up, atol=1e-6)  # the grid lies level with the capture
    viewport.reset_view()
    xy, in_front = viewport.project(views.positions)
    assert in_front.all() and (xy >= 0).all() and (xy[:, 0] <= 480).all() and (xy[:, 1] <= 360).all()
    assert len(viewport.points.pos) == 500


def test_region_box_is_given_to_the_model_and_remembered_for_the_capture(qtbot, make_window, model, scene_folder):
    window = make_window(model=model)
    assert window.open_paths([str(scene_folder)])
    panel, session = window.region_panel, window.session
    assert not panel.isVisible() and session.region is None
    window.region_action.trigger()
    assert panel.isVisible()
    panel.enabled.click()
    region = session.region
    assert region is not None and session.views.meta["region"] == region.to_meta()
    assert window.viewport.region_box.visible() and len(window.viewport.region_box.pos) == 24
    wait_full(qtbot, window)

    spin = panel.spins["max", 0]
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, f"{region.high[0] - 0.5:.3f}")
    qtbot.keyClick(spin, Qt.Key_Enter)
    assert session.region.high[0] == pytest.approx(region.high[0] - 0.5, abs=1e-3)
    assert session.region.low == region.low
    prediction = wait_full(qtbot, window)  # a new view is drawn for the new box
    assert prediction.seq > 0

    edited = session.region
    spin = panel.spins["min", 1]
    spin.setValue(edited.high[1] + 1.0)  # min above max: refused and said why
    assert session.region == edited and "below its max" in panel.note.text()

    later = make_window(model=model)
    assert later.open_paths([str(scene_folder)])
    assert later.session.region == edited  # remembered for this capture
    later.region_panel.enabled.click()
    assert later.session.region is None and "region" not in later.session.views.meta
    again = make_window(model=model)
    again.open_paths([str(scene_folder)])
    assert again.session.region is None  # and so is taking it away


def test_a_scene_without_files_says_its_region_is_not_remembered(qtbot, make_window, scene):
    window = make_window(scene)
    window.region_action.trigger()
    window.region_panel.fit_button.click()
    assert isinstance(window.session.region, Region)
    assert "Not remembered" in window.region_panel.note.text()
