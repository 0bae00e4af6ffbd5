"""`python main.py --screenshot` in a fresh process, as a user (or the README) runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def run_main(*args, timeout=120):
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "xcb"))
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(autouse=True)
def needs_a_display():
    if not os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        pytest.skip("needs an X display (run under xvfb-run)")


def test_screenshot_of_the_demo(tmp_path, model_dir):
    out = tmp_path / "shot.png"
    result = run_main("--model", model_dir, "--screenshot", out)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as shot:
        assert shot.width >= 800 and shot.height >= 600
        assert len(shot.convert("RGB").getcolors(1 << 16) or range(1 << 16)) > 50  # a drawn window, not a blank


def test_screenshot_of_a_bad_path_fails_with_a_message(tmp_path, model_dir):
    result = run_main(tmp_path / "missing", "--model", model_dir, "--screenshot", tmp_path / "shot.png")
    assert result.returncode != 0 and "missing" in result.stderr
    assert not (tmp_path / "shot.png").exists()
