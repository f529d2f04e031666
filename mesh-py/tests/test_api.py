import inspect
import json
import pickle
import threading

import pytest

import mesh
from conftest import NOW


def test_all_exported():
    for name in mesh.__all__:
        assert hasattr(mesh, name), name


def test_from_config_forms(data):
    text = (data / "gateway.toml").read_text()
    for cfg in (data / "gateway.toml", str(data / "gateway.toml"), text, text.encode()):
        assert mesh.Mesh.from_config(cfg).revision == 0


def test_from_config_dict():
    m = mesh.Mesh.from_config({"issuers": []})
    assert m.revision == 0


def test_config_error():
    with pytest.raises(mesh.ConfigError) as e:
        mesh.Mesh.from_config("[[issuers]]\nissuer = 3\n")
    assert isinstance(e.value, mesh.MeshError)
    assert e.value.kind


def test_bundle(m, data):
    assert m.revision == 1
    assert m.activate_bundle((data / "policies-r2.bundle").read_bytes()) == 2
    with pytest.raises(mesh.ConfigError) as e:
        m.activate_bundle(b"not a bundle")
    assert e.value.kind.startswith("bundle_")
    assert m.revision == 2


def test_authorize(m, tokens):
    d = m.authorize(token=tokens["alice"], action="read", resource='Document::"q3"', now=NOW)
    assert isinstance(d, mesh.Decision)
    assert d.effect in ("allow", "deny", "challenge")
    assert d.allowed == (d.effect == "allow")
    assert isinstance(d.policies, list)
    assert isinstance(d.explanation, str) and d.explanation
    ev = d.audit_event
    assert isinstance(ev, dict) and "class_uid" in ev
    with pytest.raises(AttributeError):
        d.effect = "allow"  # frozen


def test_authorize_some_allowed(m, tokens):
    effects = {
        n: m.authorize(token=t, action='Action::"read"', resource='Document::"q3"', context={"ip": "10.0.0.1"}, now=NOW).effect
        for n, t in tokens.items()
    }
    assert "allow" in effects.values(), effects


def test_bad_token_is_deny(m):
    d = m.authorize(token="eyJhbGciOiJub25lIn0.e30.", action="read", resource='Document::"x"', now=NOW)
    assert d.effect == "deny" and not d.allowed
    assert d.reason == "credential_rejected"
    assert d.credential_error


def test_bad_resource_raises(m, tokens):
    with pytest.raises(mesh.PolicyError):
        m.authorize(token=tokens["alice"], action="read", resource="not an entity", now=NOW)


def test_verify(m, tokens):
    i = m.verify(tokens["alice"], now=NOW)
    assert isinstance(i, mesh.Identity)
    assert i.actor_key
    assert isinstance(i.to_dict(), dict)


def test_verify_expired(m, tokens):
    with pytest.raises(mesh.IdentityError) as e:
        m.verify(tokens["alice"], now=NOW + 400 * 86400)
    assert e.value.kind == "expired"


def test_verify_bad_signature(m, tokens):
    t = tokens["alice"]
    head, body, sig = t.split(".")
    sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    with pytest.raises(mesh.IdentityError) as e:
        m.verify(".".join((head, body, sig)), now=NOW)
    assert e.value.kind == "bad_signature"


def test_revoke_then_denied(m, tokens):
    i = m.verify(tokens["alice"], now=NOW)
    m.revoke(subject=i.actor_key, before=NOW + 1)
    d = m.authorize(token=tokens["alice"], action="read", resource='Document::"q3"', now=NOW + 2)
    assert d.effect == "deny" and d.reason == "revoked"
    with pytest.raises(mesh.IdentityError) as e:
        m.verify(tokens["alice"], now=NOW + 2)
    assert e.value.kind == "revoked"
    exported = m.export_revocations()
    other = mesh.Mesh.from_config(m.config_text)
    other.merge_revocations(json.loads(exported))
    with pytest.raises(mesh.IdentityError):
        other.verify(tokens["alice"], now=NOW + 2)


def test_pickle_roundtrip(m, tokens):
    m.revoke(subject=m.verify(tokens["bob"], now=NOW).actor_key, before=NOW + 1)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.revision == m.revision
    a = m.authorize(token=tokens["alice"], action="read", resource='Document::"q3"', now=NOW + 2)
    b = m2.authorize(token=tokens["alice"], action="read", resource='Document::"q3"', now=NOW + 2)
    assert (a.effect, a.policies) == (b.effect, b.policies)
    assert m2.authorize(token=tokens["bob"], action="read", resource='Document::"q3"', now=NOW + 2).reason == "revoked"


def test_threads(m, tokens):
    expected = {n: m.authorize(token=t, action="read", resource='Document::"q3"', now=NOW).effect for n, t in tokens.items()}
    errors = []

    def work():
        try:
            for _ in range(200):
                for n, t in tokens.items():
                    assert m.authorize(token=t, action="read", resource='Document::"q3"', now=NOW).effect == expected[n]
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_authorize_many(m, tokens):
    reqs = [{"token": t, "action": "read", "resource": 'Document::"q3"'} for t in tokens.values()]
    out = m.authorize_many(reqs, now=NOW)
    assert [d.effect for d in out] == [m.authorize(now=NOW, **r).effect for r in reqs]


def _decide(args):
    m, token = args
    return m.authorize(token=token, action="read", resource='Document::"q3"', now=NOW).effect


def test_multiprocessing(m, tokens):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        got = pool.map(_decide, [(m, t) for t in tokens.values()])
    assert got == [_decide((m, t)) for t in tokens.values()]


def test_actor_key():
    assert mesh.actor_key("Alice@Example.com")


def test_authorize_arguments(m, tokens):
    t = tokens["alice"]
    with pytest.raises(TypeError, match="token"):
        m.authorize(action="read", resource='Document::"q3"', now=NOW)
    with pytest.raises(TypeError, match="unexpected keyword argument 'subject'"):
        m.authorize(token=t, action="read", resource='Document::"q3"', subject="x", now=NOW)
    with pytest.raises(TypeError):
        m.authorize(t, "read", 'Document::"q3"')  # keyword-only
    with pytest.raises(TypeError, match="token"):
        m.authorize(token=b"bytes", action="read", resource='Document::"q3"', now=NOW)
    with pytest.raises(TypeError):
        m.authorize()
    # Equal strings built at run time (new objects each call) decide the same.
    res = "".join(['Document::"', "q3", '"'])
    a = m.authorize(token="".join(t), action="read", resource=res, now=NOW)
    b = m.authorize(token=t, action="read", resource='Document::"q3"', now=NOW)
    assert (a.effect, a.policies) == (b.effect, b.policies)


def test_authorize_keyword_forms(m, tokens):
    """Keywords built at run time (not interned), explicit None and the signature."""
    t = tokens["alice"]
    want = m.authorize(token=t, action="read", resource='Document::"q3"', now=NOW)
    kw = {"".join(["to", "ken"]): t, "".join(["act", "ion"]): "read", "resource": 'Document::"q3"'}
    got = m.authorize(**kw, context=None, now=NOW)
    assert (got.effect, got.policies) == (want.effect, want.policies)
    with pytest.raises(TypeError, match="missing 2 required keyword-only arguments: 'action', 'resource'"):
        m.authorize(token=t)
    with pytest.raises(TypeError, match="argument 'action'"):
        m.authorize(token=t, action=1, resource='Document::"q3"')
    params = inspect.signature(mesh.Mesh.authorize).parameters
    assert [(n, p.kind.name) for n, p in params.items()][1:] == [
        (n, "KEYWORD_ONLY") for n in ("token", "action", "resource", "context", "now")
    ]


def test_authorize_argument_cache_sees_many_objects(m, tokens):
    """More distinct argument objects than cache slots: every call still decides its own arguments."""
    docs = [f'Document::"d{i}"' for i in range(300)]
    for i, d in enumerate(docs * 2):
        dec = m.authorize(token=tokens["alice"], action="read", resource=d, now=NOW)
        assert d.split('"')[1] in json.dumps(dec.to_dict())
