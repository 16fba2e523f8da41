"""HS256 JSON Web Tokens for the protocol tests (docs/protocol.md section 3), made with the
standard library only: hmac, hashlib, base64, json.

    secret_path = write_secret(tmp_dir)             # a file for --jwt-keys main:hs256:PATH
    token = make_token("alice", caps={"join": ["*"], "publish": ["*"]})

make_token() signs with SECRET under kid "main" unless told otherwise; every claim can be
set, left out (None) or replaced by a wrong value, and the header and signature can be
broken on purpose (alg "none", another secret, an unknown kid, a `crit` header)."""

import base64
import hashlib
import hmac
import json
import os
import time

# Test secrets (never used anywhere else). At least 32 bytes, as section 3.2 requires.
SECRET = b"tidegate-integration-hs256-secret-0123456789abcdef"
OTHER_SECRET = b"another-hs256-secret-the-gateway-does-not-know-0123"
KID = "main"
TTL_S = 3600

_UNSET = object()


def b64url(data):
    """base64url without padding (RFC 7515 section 2)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(obj):
    """One JWS segment: a dict is serialized compactly; str or bytes are taken as they are
    (to send a JSON text no serializer would write)."""
    if isinstance(obj, (dict, list)):
        obj = json.dumps(obj, separators=(",", ":"))
    return b64url(obj)


def write_secret(directory, name="jwt-hs256.key", secret=SECRET):
    """Writes `secret` (raw bytes) to directory/name, mode 0600; returns the path."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return path


def jwt_keys_arg(path, kid=KID):
    """The --jwt-keys value for one HS256 key file."""
    return f"{kid}:hs256:{path}"


def claims(sub="alice", exp=_UNSET, nbf=None, iat=_UNSET, aud=None, iss=None, caps=None,
           now=None, **extra):
    """A payload dict. exp defaults to now + TTL_S and iat to now; pass None to leave a
    claim out. `extra` adds any other claim (unknown claims must be ignored)."""
    now = int(time.time()) if now is None else now
    payload = {}
    if sub is not None:
        payload["sub"] = sub
    if iat is _UNSET:
        iat = now
    if iat is not None:
        payload["iat"] = iat
    if exp is _UNSET:
        exp = now + TTL_S
    if exp is not None:
        payload["exp"] = exp
    if nbf is not None:
        payload["nbf"] = nbf
    if aud is not None:
        payload["aud"] = aud
    if iss is not None:
        payload["iss"] = iss
    if caps is not None:
        payload["caps"] = caps
    payload.update(extra)
    return payload


def sign(header, payload, secret=SECRET):
    """A compact JWS of `header` and `payload` (dicts, or JSON text) with an HS256
    signature over them made with `secret`; secret=None leaves the signature empty."""
    signing_input = segment(header) + "." + segment(payload)
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def make_token(sub="alice", secret=SECRET, kid=KID, alg="HS256", header=None, **claim_args):
    """A signed HS256 token for user `sub`. `header` replaces the whole header; otherwise
    it is {"alg": alg, "typ": "JWT", "kid": kid} (kid left out when None). The claims are
    those of claims(sub, **claim_args)."""
    if header is None:
        header = {"alg": alg, "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
    return sign(header, claims(sub, **claim_args), secret)


def unsigned_token(sub="alice", **claim_args):
    """alg "none" with an empty signature: must always be refused."""
    return sign({"alg": "none", "typ": "JWT"}, claims(sub, **claim_args), secret=None)


def expires_at_ms(exp, leeway_s=30):
    """What `connected.expires_at` must say for a token with this `exp`:
    (exp + leeway) * 1000 (protocol.md section 7.1)."""
    return (exp + leeway_s) * 1000
