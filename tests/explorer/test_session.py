"""The Qt-free session model: driven with no display and no Qt at all."""

import subprocess
import sys

import numpy as np
import pytest

from explorer.session import Session, scene_center, spread_indices
from gqn import camera
from gqn.data.viewset import ViewSet


def recorder(session):
    fired = []
    for name, event in vars(session.events).items():
        event.connect(lambda *args, name=name: fired.append(name))
    return fired


def test_loading_a_scene_picks_contexts_and_snaps_to_a_held_out_view(scene):
    session = Session()
    fired = recorder(session)
    session.set_views(scene)
    assert session.context == tuple(spread_indices(len(scene), 3))
    held_out = min(set(range(len(scene))) - set(session.context))
    assert session.snapped == held_out == session.selected
    np.testing.assert_array_equal(session.camera.c2w, scene.c2w[held_out])
    assert session.comparison_view() == held_out
    np.testing.assert_allclose(session.center, 0.0, atol=1e-6)  # procedural cameras look at the origin
    assert {"views", "context", "camera", "selection"} <= set(fired)


def test_orbit_keeps_the_camera_aimed_at_the_centre_and_unsnaps(scene):
    session = Session()
    session.set_views(scene)
    before = session.camera
    session.orbit(30.0, 10.0)
    cam = session.camera
    assert session.snapped is None
    assert cam.azimuth == pytest.approx(before.azimuth + 30.0)
    assert cam.elevation == pytest.approx(before.elevation + 10.0)
    assert np.linalg.norm(cam.position - session.center) == pytest.approx(before.distance)
    to_center = (session.center - cam.position) / cam.distance
    np.testing.assert_allclose(cam.c2w[:3, 2], to_center, atol=1e-9)
    assert camera.valid_poses(cam.c2w[None])[0]


def test_elevation_and_distance_are_clamped(scene):
    session = Session()
    session.set_views(scene)
    session.orbit(0.0, 500.0)
    assert session.camera.elevation < 90.0
    for _ in range(200):
        session.zoom(0.5)
    assert session.camera.distance > 0.0


def test_snap_is_exact_and_scores_only_views_left_out(scene):
    session = Session()
    session.set_views(scene)
    context_view = session.context[0]
    session.snap_to(context_view)
    np.testing.assert_array_equal(session.camera.c2w, scene.c2w[context_view])
    assert session.snapped == context_view and session.comparison_view() is None
    session.set_pose(scene.c2w[5])
    assert session.snapped == 5
    session.step_snap(1)
    assert session.snapped == 6
    session.snap_to(len(scene) - 1)
    session.step_snap(1)
    assert session.snapped == 0


def test_context_needs_one_view_and_stays_in_range(scene):
    session = Session()
    session.set_views(scene, context=[2])
    messages = []
    session.events.message.connect(messages.append)
    session.toggle_context(2)
    assert session.context == (2,)
    assert messages and messages[0].level == "warning"
    session.toggle_context(5)
    assert session.context == (2, 5)
    with pytest.raises(IndexError):
        session.set_context([0, 99])


def test_truth_renderer_reproduces_the_real_views(scene, photo_scene):
    session = Session()
    session.set_views(scene)
    render = session.truth_renderer()
    np.testing.assert_array_equal(render(scene.c2w[1]), scene.images[1])
    session.set_views(photo_scene)
    assert session.truth_renderer() is None
    index, distance = session.nearest_view()
    assert distance == 0.0 and index == session.snapped


def test_scene_center_of_a_forward_facing_set_is_not_behind_the_cameras():
    eye = np.array([[x, 0.0, 0.0] for x in (-1.0, 0.0, 1.0)])
    c2w = camera.pose_from_forward(eye, np.tile([0.0, 1.0, 0.0], (3, 1)))
    views = ViewSet(np.zeros((3, 8, 8, 3), np.uint8), c2w)
    np.testing.assert_allclose(scene_center(views), [0.0, 4.0, 0.0])   # ahead, twice the rig's spread
    views.meta["depth_range"] = [1.0, 9.0]
    np.testing.assert_allclose(scene_center(views), [0.0, 3.0, 0.0])   # ahead, at the recorded depths' middle


def test_spread_indices():
    assert spread_indices(15, 3) == [0, 5, 10]
    assert spread_indices(2, 3) == [0, 1]


def test_reset_returns_home(scene):
    session = Session()
    session.set_views(scene)
    home, home_view = session.camera.c2w.copy(), session.snapped
    session.orbit(40.0, 0.0)
    session.reset_camera()
    np.testing.assert_array_equal(session.camera.c2w, home)
    assert session.snapped == home_view is not None


def test_the_app_logic_imports_no_qt():
    code = ("import sys; import explorer.session, explorer.inference, explorer.export, explorer.loading, "
            "explorer.compare, explorer.capture, explorer.camera_path, explorer.fitting; bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scene_names_are_short(scene, photo_scene):
    session = Session()
    session.set_views(scene)
    assert session.scene_name == "shepard-metzler-7 #3"
    photo_scene.source = "/data/garden/transforms.json"
    session.set_views(photo_scene)
    assert session.scene_name == "garden"
    photo_scene.source = "/data/kitchen/sparse/0"
    session.set_views(photo_scene)
    assert session.scene_name == "kitchen"


def test_the_demo_scene_matches_the_kind_the_model_was_trained_on(tmp_path, monkeypatch):
    from types import SimpleNamespace
    from explorer import loading
    from gqn.data.dataset import write_dataset
    for kind in ("rooms-ring", "shepard-metzler-7"):
        write_dataset(tmp_path / kind, kind, scenes=1, views=3, size=16)
    monkeypatch.setattr(loading, "DEMO_SCENES", tmp_path)
    def trained_on(kind):
        return SimpleNamespace(config=SimpleNamespace(trained_on={"kind": kind}))
    for kind in ("rooms-ring", "shepard-metzler-7"):
        views, note = loading.demo_views(trained_on(kind))
        assert views.meta["kind"] == kind and note is None
    assert loading.demo_views(None)[0].meta["kind"] == "rooms-ring"  # no model: the first by name


@pytest.fixture
def shipped(tmp_path, monkeypatch, model):
    """Shipped default and photo models in a temporary resources folder (tiny, untrained)."""
    import gqn.shipped
    folders = {}
    for name in ("default", "photo"):
        folders[name] = model.save(tmp_path / name)
    monkeypatch.setattr(gqn.shipped, "DEFAULT_MODEL", folders["default"])
    monkeypatch.setattr(gqn.shipped, "PHOTO_MODEL", folders["photo"])
    return folders


def test_a_shipped_model_follows_the_scene_photos_get_the_photo_model(shipped, scene, photo_scene, model):
    session = Session()
    session.set_model(model, str(shipped["default"]), chosen=False)
    session.set_views(photo_scene)
    assert session.model_path == str(shipped["photo"]) and not session.model_chosen
    assert any("photo" in m.text for m in session.messages)
    session.set_views(scene)                       # a procedural scene: back to the default
    assert session.model_path == str(shipped["default"])


def test_a_model_the_person_chose_stays_for_every_scene(shipped, photo_scene, model):
    session = Session()
    session.set_model(model, "my-model")
    session.set_views(photo_scene)
    assert session.model_path == "my-model" and session.model_chosen
