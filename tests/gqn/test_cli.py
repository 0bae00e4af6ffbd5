"""The CLI's error contract: a GQNError is one line on stderr and exit code 2; anything else is a bug,
reported as one line naming the file that holds its traceback (exit code 1); --debug prints it too."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import gqn.cli
import gqn.data.info


def test_a_gqn_error_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gqn", "info", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"gqn info: error: {tmp_path / 'missing'}: no such file or folder"


@pytest.fixture
def a_bug(monkeypatch, tmp_path):
    """`gqn info` with a bug in it (a real one cannot be kept in the code), logs under tmp_path."""
    def describe(*args, **kwargs):
        return {"views": 1 / 0}
    monkeypatch.setattr(gqn.data.info, "describe", describe)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_a_bug_is_one_line_saying_so_and_where_its_traceback_is(a_bug, tmp_path, capsys):
    assert gqn.cli.main(["info", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "internal error (a bug in gqn" in err and "ZeroDivisionError: division by zero" in err
    log = Path(err.split("the full traceback is in ")[1].split(" (--debug")[0])
    assert log.parent == tmp_path / "gqn-logs"
    assert "Traceback" in log.read_text() and "1 / 0" in log.read_text()


@pytest.mark.parametrize("argv", [["--debug", "info", "X"], ["info", "X", "--debug"]])
def test_debug_prints_the_traceback_too(a_bug, tmp_path, capsys, argv):
    argv = [str(tmp_path) if a == "X" else a for a in argv]
    assert gqn.cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "1 / 0" in err and err.strip().splitlines()[-1].startswith("gqn info: error")


def test_with_json_the_error_is_also_a_json_event(a_bug, tmp_path, capsys):
    import json
    assert gqn.cli.main(["info", str(tmp_path), "--json"]) == 1
    event = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert event["event"] == "error" and event["bug"] is True and Path(event["log"]).is_file()
