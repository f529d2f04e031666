"""A SOAR-style playbook: an alert arrives, is normalized to OCSF, the
subject's access is decided, the subject is revoked, and the next authorize
call for the same token is denied.

Run: python examples/python/soar_playbook.py
"""

import pathlib

import mesh

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
NOW = 1767226200.0  # the example tokens are valid at this time

tokens = dict(line.split(None, 1) for line in (DATA / "tokens.txt").read_text().splitlines() if line.strip())
token = tokens["alice"].strip()

m = mesh.Mesh.from_config(DATA / "gateway.toml")
m.activate_bundle((DATA / "policies-r1.bundle").read_bytes())

# 1. The alert: a raw telemetry record, normalized to an OCSF event.
alert = (DATA / "mixed.log").read_bytes().splitlines()[0]
event = mesh.normalize(alert, now=NOW)
print(f"alert: {event.get('class_name')} ({event.get('class_uid')})")

# 2. What can the subject do right now?
before = m.authorize(token=token, action="read", resource='Document::"q3-plan"', now=NOW)
print(f"before: {before.effect} by {before.policies or before.reason}")

# 3. Contain: revoke everything the subject obtained until now.
subject = m.verify(token, now=NOW).actor_key
m.revoke(subject=subject, before=NOW + 1)
print(f"revoked {subject}")

# 4. The next call with the same token is denied.
after = m.authorize(token=token, action="read", resource='Document::"q3-plan"', now=NOW + 2)
print(f"after: {after.effect} ({after.reason})")
assert not after.allowed

# Share the revocation with the other enforcement points.
print(f"revocations to broadcast: {len(m.export_revocations())} bytes")
