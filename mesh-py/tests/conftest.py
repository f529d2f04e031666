import pathlib

import pytest

DATA = pathlib.Path(__file__).resolve().parents[2] / "examples" / "data"
NOW = 1767226200.0


@pytest.fixture(scope="session")
def data():
    return DATA


@pytest.fixture(scope="session")
def tokens():
    out = {}
    for line in (DATA / "tokens.txt").read_text().splitlines():
        if line.strip():
            name, tok = line.split(None, 1)
            out[name] = tok.strip()
    return out


@pytest.fixture()
def m():
    import mesh

    m = mesh.Mesh.from_config(DATA / "gateway.toml")
    m.activate_bundle((DATA / "policies-r1.bundle").read_bytes())
    return m
