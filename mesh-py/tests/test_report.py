import json
import pathlib
import pickle

import pytest

import mesh
from conftest import NOW

REPORT_DATA = pathlib.Path(__file__).resolve().parents[2] / "mesh-core" / "tests" / "data" / "report"
HEADINGS = [
    "Coverage",
    "Events by OCSF class over time",
    "Decisions over time",
    "Findings by severity and ATT&amp;CK technique",
    "Posture compliance by rule",
    "Active bundle revision",
]


def events():
    return [json.loads(x) for x in (REPORT_DATA / "events.ndjson").read_text().splitlines() if x.strip()]


def test_summary_counts(m, tokens):
    s = mesh.Summary()
    ds = [m.authorize(token=t, action="read", resource='Document::"q3"', now=NOW) for t in tokens.values()]
    for d in ds:
        s.observe_decision(d)
    s.observe_decisions(ds)
    assert s.totals["decisions"]["allow"] + s.totals["decisions"]["deny"] + s.totals["decisions"]["challenge"] == 2 * len(ds)
    assert s.revision == m.revision
    assert s.observe_events(events() + [{"no": "class"}], now=NOW) == 1
    assert s.totals["events"] == len(events())
    s.observe_revision(7, at=NOW + 60)
    assert s.revision == 7
    with pytest.raises(mesh.ReportError) as e:
        s.observe_event({"class_uid": "x"}, now=NOW)
    assert e.value.kind == "not_ocsf"


def test_summary_findings():
    from test_analytics import T0, brute_force

    out = mesh.Analytics().detect(brute_force("mallory@example.com", T0))
    s = mesh.Summary()
    s.observe_finding(out)
    s.observe_finding(out.findings[0])
    assert s.totals["findings"] == 2 * len(out.findings)
    with pytest.raises(mesh.ReportError):
        s.observe_finding({"class_uid": 3002})


def test_summary_json_roundtrip():
    s = mesh.Summary(bucket_seconds=30)
    s.observe_events(events(), now=NOW)
    d = s.to_dict()
    assert d["limits"]["bucket_ms"] == 30_000
    again = mesh.Summary.from_json(s.to_json())
    assert again.to_dict() == d
    assert pickle.loads(pickle.dumps(s)).to_dict() == d
    with pytest.raises(mesh.ReportError) as e:
        mesh.Summary.from_json("{")
    assert e.value.kind == "json"
    with pytest.raises(mesh.ReportError) as e:
        mesh.Summary(bucket_seconds=0)
    assert e.value.kind == "limits"


def test_report_written(m, tokens, tmp_path):
    from test_analytics import T0, brute_force

    summary = mesh.Summary()
    summary.observe_events(events(), now=NOW)
    decisions = [m.authorize(token=t, action="read", resource='Document::"q3"', now=NOW) for t in tokens.values()]
    found = mesh.Analytics().detect(brute_force("mallory@example.com", T0))
    out = tmp_path / "report.html"
    got = mesh.report(out, summary=summary, decisions=decisions, events=[b"not json"], findings=[found],
                      now=NOW, title="Team <report>")
    assert got == out
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for h in HEADINGS:
        assert f"<h2>{h}</h2>" in html, h
    assert "Team &lt;report&gt;" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    # The summary passed in is not modified.
    assert summary.totals["decisions"]["allow"] + summary.totals["decisions"]["deny"] == 0


def test_render_report_defaults():
    html = mesh.render_report()
    assert "<h2>Coverage</h2>" in html
    with pytest.raises(TypeError):
        mesh.render_report(decisions=[{"outcome": "allow"}])
