import json
import pathlib
import threading

import pytest

import mesh
from conftest import NOW

ANALYTICS_DATA = pathlib.Path(__file__).resolve().parents[2] / "mesh-core" / "tests" / "data" / "analytics"
T0 = 1717228800000  # 2024-06-01T00:00:00Z, inside the STIX indicators' validity


def logon(uid, t_ms, user, ip="192.0.2.44", success=False):
    return {
        "class_uid": 3002, "class_name": "Authentication", "category_uid": 3,
        "activity_id": 1, "type_uid": 300201, "severity_id": 1, "time": t_ms,
        "status_id": 1 if success else 2, "status": "Success" if success else "Failure",
        "metadata": {"uid": uid, "version": "1.8.0", "product": {"name": "Okta", "vendor_name": "Okta"}},
        "user": {"email_addr": user, "name": user},
        "src_endpoint": {"ip": ip},
    }


def brute_force(user, t0_ms):
    """Six failed logons, then a success, one every ten seconds."""
    evs = [logon(f"f{i}", t0_ms + i * 10_000, user) for i in range(6)]
    evs.append(logon("ok", t0_ms + 60_000, user, success=True))
    return evs


def process(uid, t_ms, image, cmd):
    return {
        "class_uid": 1007, "activity_id": 1, "type_uid": 100701, "category_uid": 1, "severity_id": 1,
        "time": t_ms,
        "metadata": {"uid": uid, "version": "1.8.0", "event_code": "1",
                     "product": {"name": "Sysmon", "vendor_name": "Microsoft"}},
        "process": {"file": {"path": image, "name": image.rsplit("\\", 1)[-1]}, "cmd_line": cmd, "pid": 4242},
        "actor": {"process": {"file": {"path": "C:\\Windows\\explorer.exe"}}, "user": {"name": "CORP\\bob"}},
        "device": {"hostname": "WS-042", "uid": "dev-042", "type_id": 2},
    }


@pytest.fixture()
def responding(data):
    text = (data / "gateway.toml").read_text() + '\n[response]\nauto_revoke = true\nmin_severity = "low"\n'
    m = mesh.Mesh.from_config(text)
    m.activate_bundle((data / "policies-r1.bundle").read_bytes())
    return m


def test_observe_revokes_actor(responding, tokens):
    m = responding
    tok = tokens["alice"]
    user = m.verify(tok, now=NOW).actor_key
    before = m.authorize(token=tok, action="read", resource='Document::"q3"', now=NOW)
    assert before.reason != "revoked"
    t0 = int(NOW * 1000) - 120_000
    seen = [m.observe(e, now=NOW) for e in brute_force(user, t0)]
    assert all(isinstance(o, mesh.Observation) for o in seen)
    flushed = m.flush_observations(now=NOW)
    findings = [f for o in seen + [flushed] for f in o.findings]
    assert any(f["class_uid"] == 2004 for f in findings)
    assert "brute_force_success" in {f["finding_info"]["analytic"]["uid"] for f in findings}
    applied = [r for o in seen + [flushed] for r in o.applied]
    assert applied, "the response policy revokes the actor"
    assert all(isinstance(r, dict) and r["reason"] for r in applied)
    after = m.authorize(token=tok, action="read", resource='Document::"q3"', now=NOW + 1)
    assert after.effect == "deny" and after.reason == "revoked"
    # Through revocation merge, every other process denies too.
    other = mesh.Mesh.from_config(m.config_text)
    other.merge_revocations(m.export_revocations())
    assert other.authorize(token=tok, action="read", resource='Document::"q3"', now=NOW + 1).reason == "revoked"


def test_observe_accepts_str_and_bytes(responding):
    ev = logon("s1", int(NOW * 1000), "dave@example.com")
    for form in (ev, json.dumps(ev), json.dumps(ev).encode()):
        o = responding.observe(form, now=NOW)
        assert o.events == 1 and o.late == 0 and not o
        assert o.findings == [] and o.errors == []


def test_observe_errors(responding):
    with pytest.raises(mesh.AnalyticsError) as e:
        responding.observe(b"{not json", now=NOW)
    assert e.value.kind == "invalid_event"
    assert isinstance(e.value, mesh.MeshError)
    with pytest.raises(mesh.AnalyticsError) as e:
        responding.observe({"class_uid": "x"}, now=NOW)
    assert e.value.kind == "invalid_event"
    with pytest.raises(TypeError):
        responding.observe(42, now=NOW)


def test_observation_is_frozen(responding):
    o = responding.observe(logon("z", int(NOW * 1000), "erin@example.com"), now=NOW)
    with pytest.raises(AttributeError):
        o.events = 3  # type: ignore[misc]
    d = o.to_dict()
    assert d["events"] == 1 and d["findings"] == []


def test_analytics_detect_builtin():
    a = mesh.Analytics()
    out = a.detect(brute_force("mallory@example.com", T0))
    assert out.events == 7 and not out.errors
    f = [f for f in out.findings if f["class_uid"] == 2004]
    assert f, out
    assert "brute_force_success" in {x["finding_info"]["analytic"]["uid"] for x in f}
    assert "mallory@example.com" in json.dumps(f[0]["actor"])
    assert out.responses == [] and out.applied == []  # no response policy
    s = a.stats
    assert s["events"] == 7 and s["findings"] >= 1 and s["tracked_actors"] >= 1


def test_analytics_response_policy_records():
    policy = {"rules": [{"id": "contain", "match": {"min_severity": "low"},
                         "actions": [{"type": "revoke_subject"}]}]}
    a = mesh.Analytics(response_policy=policy)
    out = a.detect(brute_force("mallory@example.com", T0))
    assert out.findings and out.responses
    assert out.responses[0]["rule_id"] == "contain"
    assert out.applied == []  # a standalone pipeline leaves applying to the host


def test_analytics_incremental_observe_and_flush():
    a = mesh.Analytics()
    found = []
    for e in brute_force("trent@example.com", T0):
        found += a.observe(e).findings
    found += a.flush().findings
    assert found
    assert a.stats["buffered"] == 0


def test_analytics_sigma_and_intel():
    a = mesh.Analytics(
        sigma=ANALYTICS_DATA / "sigma_rules.yml",
        intel=[(ANALYTICS_DATA / "stix_bundle.json").read_text()],
    )
    st = a.stats
    assert st["sigma_rules"] == 7 and st["indicators"] >= 1
    enc = process("p1", T0, "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "powershell.exe -NoP /enc SQBFAFgA")
    titles = [f["finding_info"]["title"] for f in a.observe(enc).findings]
    assert "Encoded PowerShell Command Line" in titles
    hit = logon("ti", T0 + 1000, "peggy@example.com", ip="203.0.113.7", success=True)
    intel = a.observe(hit).findings
    assert intel and "osint" in json.dumps(intel)


def test_analytics_load_errors():
    with pytest.raises(mesh.AnalyticsError) as e:
        mesh.Analytics(sigma="title: x\ndetection: [a, b\n")
    assert e.value.kind == "invalid_rule"
    with pytest.raises(mesh.AnalyticsError) as e:
        mesh.Analytics(intel={"type": "bundle", "objects": [{"type": "indicator"}]})
    assert e.value.kind == "invalid_indicator"
    with pytest.raises(mesh.AnalyticsError) as e:
        mesh.Analytics(response_policy="{}")
    assert e.value.kind == "invalid_policy"
    with pytest.raises(TypeError):
        mesh.Analytics(sigma=3)


def test_mesh_configure_analytics(responding):
    responding.configure_analytics(sigma=ANALYTICS_DATA / "sigma_rules.yml")
    enc = process("p9", int(NOW * 1000), "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "powershell.exe -NoP /enc SQBFAFgA")
    assert responding.observe(enc, now=NOW).findings


def test_detect_errors_have_index_and_line(tmp_path):
    a = mesh.Analytics()
    good = logon("g", T0, "oscar@example.com")
    out = a.detect([good, "{bad", {"class_uid": 3002}, good])
    assert [e.index for e in out.errors] == [1, 2]
    assert all(e.kind == "invalid_event" for e in out.errors)
    p = tmp_path / "events.ndjson"
    lines = [json.dumps(e) for e in brute_force("victor@example.com", T0)]
    p.write_text("\n".join(lines[:3] + ["", "oops"] + lines[3:]) + "\n")
    out = mesh.Analytics().detect_file(p)
    assert [e.line for e in out.errors] == [5]
    assert out.events == 7 and out.findings


def test_detect_from_normalized_records(data):
    events = [e for e in mesh.normalize_many((data / "mixed.log").read_bytes().splitlines(), now=NOW)
              if isinstance(e, dict)]
    out = mesh.Analytics().detect(events)
    assert out.events == len(events)


def test_analytics_threads():
    a = mesh.Analytics()
    errors = []

    def work(k):
        try:
            for i in range(20):
                a.detect(brute_force(f"user{k}-{i}@example.com", T0 + i * 1000), flush=False)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    a.flush()
    st = a.stats
    assert st["events"] + st["late_events"] == 4 * 20 * 7
