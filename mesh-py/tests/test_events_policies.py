import json
import pathlib

import pytest

import mesh
from conftest import NOW


def test_normalize_forms(data):
    line = (data / "mixed.log").read_bytes().splitlines()[0]
    a = mesh.normalize(line, now=NOW)
    b = mesh.normalize(line.decode(), now=NOW)
    c = mesh.normalize(json.loads(line), now=NOW)
    assert a == b == c
    assert isinstance(a["class_uid"], int)


def _source_records():
    root = pathlib.Path(__file__).resolve().parents[2]
    files = [root / "examples" / "data" / "mixed.log", root / "mesh-cli" / "src" / "demo_data" / "incident.log"]
    files += sorted((root / "mesh-core" / "tests" / "data" / "sources").glob("**/*"))
    out = []
    for f in files:
        if f.is_file() and f.stat().st_size < 1 << 20:
            out += [ln for ln in f.read_bytes().splitlines() if ln.strip()]
    return out


def test_normalize_many_matches_json_text():
    """The direct Rust -> Python conversion gives what the JSON text says."""
    records = _source_records()
    assert len(records) > 20
    many = mesh.normalize_many(records, now=NOW)
    events, errors = mesh.normalize_ndjson(b"\n".join(records) + b"\n", now=NOW)
    from_text = [json.loads(x) for x in events.splitlines()]
    got = [x for x in many if isinstance(x, dict)]
    assert got == from_text
    assert len(many) - len(got) == len(errors)
    single = [mesh.normalize(r, now=NOW) for r, x in zip(records, many) if isinstance(x, dict)]
    assert single == got


def _as_json_texts(events_ndjson):
    return [json.dumps(json.loads(x)) for x in events_ndjson.splitlines()]


def _scribble(v):
    """Overwrites every value of every dict and list under `v`, in place."""
    if isinstance(v, dict):
        for k in list(v):
            v[k] = _scribble(v[k])
        v["scribbled"] = True
        return v
    if isinstance(v, list):
        v[:] = [_scribble(x) for x in v]
        v.append(0)
        return v
    return "scribbled"


def test_normalize_many_keeps_key_order_and_fresh_dicts():
    """Event dicts have the keys in the order of the JSON text, and changing
    the dicts of one call changes nothing in the next (dicts are made from
    templates that are never handed out)."""
    records = _source_records()
    events, _ = mesh.normalize_ndjson(b"\n".join(records) + b"\n", now=NOW)
    want = _as_json_texts(events)
    for _ in range(2):
        got = [x for x in mesh.normalize_many(records, now=NOW) if isinstance(x, dict)]
        assert [json.dumps(x) for x in got] == want
        for x in got:
            _scribble(x)


def test_normalize_many_same_shape_other_values(data):
    """Records of one shape whose values vary (short and long strings, small
    and large ints, bools, nulls) each keep their own values."""
    base = json.loads((data / "mixed.log").read_bytes().splitlines()[0])
    records = []
    for i in range(40):
        r = json.loads(json.dumps(base))
        r["userIdentity"]["userName"] = ["alice", "bob", "carol"][i % 3]
        r["sourceIPAddress"] = f"203.0.113.{i % 5}"
        r["userAgent"] = "agent " * (i % 4) + "x" * 40
        r["readOnly"] = i % 2 == 0
        r["managementEvent"] = None if i % 3 == 0 else bool(i % 2)
        r["eventTime"] = f"2026-11-25T18:{i % 60:02d}:11Z"
        r["additionalEventData"]["Count"] = [7, 3002, 1 << 40, -5][i % 4]
        records.append(json.dumps(r).encode())
    events, errors = mesh.normalize_ndjson(b"\n".join(records) + b"\n", now=NOW)
    assert not errors
    many = mesh.normalize_many(records, now=NOW)
    assert [json.dumps(x) for x in many] == _as_json_texts(events)
    assert len({x["time"] for x in many}) == 40


@pytest.mark.parametrize("n", [63, 64, 65, 200])
def test_normalize_many_chunks(data, n):
    """Records are normalized in chunks: every count and input form keeps order and results."""
    lines = [ln for ln in (data / "mixed.log").read_bytes().splitlines() if ln.strip()]
    records = [(lines * n)[i] for i in range(n)]
    forms = [r if i % 3 == 0 else r.decode() if i % 3 == 1 else _as_dict_or_bytes(r) for i, r in enumerate(records)]
    many = mesh.normalize_many((x for x in forms), now=NOW)
    assert len(many) == n
    for r, x in zip(records, many):
        try:
            want = mesh.normalize(r, now=NOW)
        except mesh.EventError as e:
            assert isinstance(x, mesh.EventError) and x.kind == e.kind
        else:
            assert x == want
    with pytest.raises(TypeError):
        mesh.normalize_many(forms[:n] + [42], now=NOW)


def _as_dict_or_bytes(line):
    try:
        return json.loads(line)
    except ValueError:
        return line


def test_normalize_error():
    with pytest.raises(mesh.EventError) as e:
        mesh.normalize(b"\x00 garbage that is no record", now=NOW)
    assert e.value.kind
    assert e.value.raw == b"\x00 garbage that is no record"


def test_normalize_many_reports_per_record(data):
    lines = [ln for ln in (data / "mixed.log").read_bytes().splitlines() if ln.strip()]
    out = mesh.normalize_many(lines + [b"garbage!"], now=NOW)
    assert len(out) == len(lines) + 1
    assert isinstance(out[-1], mesh.EventError)
    assert any(isinstance(x, dict) for x in out)


def test_normalize_file(data, tmp_path):
    out = tmp_path / "out.ndjson"
    errors = mesh.normalize_file(data / "mixed.log", out, now=NOW)
    events = [json.loads(x) for x in out.read_text().splitlines()]
    many = mesh.normalize_file(data / "mixed.log", now=NOW)
    assert len(events) == sum(isinstance(x, dict) for x in many)
    assert len(errors) == sum(isinstance(x, mesh.EventError) for x in many)
    assert all(e.line >= 1 for e in errors)


POLICIES = """
@id("p1")
permit(principal == User::"alice", action == Action::"read", resource);
"""


def test_check_policies():
    assert mesh.check_policies(POLICIES) == ["p1"]
    with pytest.raises(mesh.PolicyError) as e:
        mesh.check_policies('permit(principal, action, resource)\nwhen { 1 +  };')
    assert e.value.line == 2 and e.value.column >= 1


def test_test_policies():
    tests = [
        {
            "name": "alice reads",
            "principal": 'User::"alice"', "action": 'Action::"read"', "resource": 'Doc::"a"', "context": {},
            "expect": "allow",
        },
        {
            "name": "bob reads",
            "principal": 'User::"bob"', "action": 'Action::"read"', "resource": 'Doc::"a"', "context": {},
            "expect": "allow",
        },
    ]
    r = mesh.test_policies(POLICIES, tests)
    assert r["passed"] is False
    assert [x["passed"] for x in r["results"]] == [True, False]
