import base64, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
seed = bytes(range(32))
key = Ed25519PrivateKey.from_private_bytes(seed)
pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "gw-1", "use": "sig", "alg": "EdDSA", "x": b64(pub)}]}
IAT = 1767225600  # 2026-01-01T00:00:00Z
def token(sub, email, groups, amr, auth_age, jti, extra=None):
    header = {"alg": "EdDSA", "typ": "JWT", "kid": "gw-1"}
    claims = {"iss": "https://idp.example.com", "aud": "gateway", "sub": sub, "email": email,
              "groups": groups, "amr": amr, "auth_time": IAT - auth_age, "iat": IAT, "exp": IAT + 8 * 3600, "jti": jti}
    if extra: claims.update(extra)
    signing = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
    return signing + "." + b64(key.sign(signing.encode()))
tokens = {
  "alice": token("00u-alice", "alice@example.com", ["staff"], ["pwd"], 60, "t-alice"),
  "bob": token("00u-bob", "bob@example.com", ["admins", "staff"], ["pwd"], 3600, "t-bob"),
  "carol": token("00u-carol", "carol@example.com", ["admins"], ["pwd", "mfa"], 120, "t-carol", {"contractor": True}),
}
open("tokens.txt", "w").write("".join(f"{k} {v}\n" for k, v in tokens.items()))
open("jwks.json", "w").write(json.dumps(jwks, indent=2) + "\n")
print("now_ms", (IAT + 600) * 1000)
