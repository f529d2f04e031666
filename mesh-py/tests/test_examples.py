import os
import pathlib
import subprocess
import sys

import pytest

EX = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


def run(args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_soar_playbook(tmp_path):
    r = run([str(EX / "soar_playbook.py")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "after: deny (revoked)" in r.stdout


def test_batch_normalize(tmp_path):
    r = run([str(EX / "batch_normalize.py")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "events.ndjson").stat().st_size > 0


def test_dask_normalize(tmp_path):
    try:
        import dask.bag  # noqa: F401
        import dask.distributed  # noqa: F401
    except ImportError:
        if os.environ.get("MESH_REQUIRE_DASK"):
            raise
        pytest.skip("dask[bag,distributed] is not installed: example not run")
    r = run([str(EX / "dask_normalize.py"), str(EX.parent / "data" / "mixed.log"), str(tmp_path / "out")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path / "out")
