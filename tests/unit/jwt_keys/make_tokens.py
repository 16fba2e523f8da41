#!/usr/bin/python3
"""Writes tokens.h (test tokens for tests/unit/test_jwt.c) and the fuzz seed corpus
tests/fuzz/corpus/jwt/ from the keys in this directory. Standard library and the openssl
CLI only; run it from anywhere:  /usr/bin/python3 tests/unit/jwt_keys/make_tokens.py

The keys were made once with OpenSSL 3.0 and are committed (test keys, never used anywhere
else):
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa_private.pem
  openssl pkey -in rsa_private.pem -pubout -out rsa_public.pem
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec_private.pem
  openssl pkey -in ec_private.pem -pubout -out ec_public.pem
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 | openssl pkey -pubout \
      -out rsa1024_public.pem
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 | openssl pkey -pubout \
      -out ec384_public.pem

Output is deterministic, so running the script again changes nothing: HS256 is computed
here, RS256 (PKCS#1 v1.5) by `openssl dgst -sign`, which is deterministic, and ES256 here
with a nonce derived from the key and the message (HMAC-SHA-256, in the spirit of RFC 6979;
OpenSSL 3.0 has no deterministic ECDSA). Every ES256 signature is checked with
`openssl dgst -verify` before it is written, so this file's curve arithmetic is not trusted
on its own.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "fuzz", "corpus", "jwt")

NOW = 1700000000
HS_SECRET = b"tidegate-test-hs256-secret-0123456789"  # 37 bytes
HS_SECRET_2 = b"tidegate-second-hs256-secret-abcdefgh"  # 37 bytes, key id "k2"

# NIST P-256 (FIPS 186-4, D.1.2.3)
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


def read(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()


def openssl(*args, data=b""):
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True).stdout


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


# ---- ES256 ----

def ec_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = (3 * a[0] * a[0] - 3) * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def ec_mul(k, point):
    result = None
    while k:
        if k & 1:
            result = ec_add(result, point)
        point = ec_add(point, point)
        k >>= 1
    return result


def ec_private_scalar():
    der = openssl("ec", "-in", os.path.join(HERE, "ec_private.pem"), "-outform", "DER")
    # SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING (32) d, ... }
    assert der[2:7] == b"\x02\x01\x01\x04\x20", "unexpected EC private key layout"
    d = int.from_bytes(der[7:39], "big")
    public = openssl("pkey", "-in", os.path.join(HERE, "ec_private.pem"), "-pubout",
                     "-outform", "DER")
    x, y = ec_mul(d, (GX, GY))
    assert public.endswith(b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big"))
    return d


def der_integer(value):
    raw = value.to_bytes(32, "big").lstrip(b"\0") or b"\0"
    if raw[0] & 0x80:
        raw = b"\0" + raw
    return b"\x02" + bytes([len(raw)]) + raw


def der_signature(r, s):
    body = der_integer(r) + der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def es256_sign(d, message):
    z = int.from_bytes(hashlib.sha256(message).digest(), "big")
    counter = 0
    while True:
        seed = d.to_bytes(32, "big") + message + bytes([counter])
        k = int.from_bytes(hmac.new(b"es256-nonce", seed, hashlib.sha256).digest(), "big") % N
        counter += 1
        if k == 0:
            continue
        r = ec_mul(k, (GX, GY))[0] % N
        s = pow(k, -1, N) * (z + r * d) % N
        if r and s:
            break
    with tempfile.NamedTemporaryFile() as sig:
        sig.write(der_signature(r, s))
        sig.flush()
        openssl("dgst", "-sha256", "-verify", os.path.join(HERE, "ec_public.pem"),
                "-signature", sig.name, data=message)
    return r, s


# ---- tokens ----

class Signer:
    def __init__(self):
        self.ec_d = ec_private_scalar()

    def sign(self, alg, signing_input, secret=HS_SECRET):
        data = signing_input.encode()
        if alg == "HS256":
            return hmac.new(secret, data, hashlib.sha256).digest()
        if alg == "RS256":
            return openssl("dgst", "-sha256", "-sign", os.path.join(HERE, "rsa_private.pem"),
                           data=data)
        r, s = es256_sign(self.ec_d, data)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def token(self, header, payload, secret=HS_SECRET):
        signing_input = part(header) + "." + part(payload)
        sig = self.sign(header["alg"], signing_input, secret)
        return signing_input + "." + b64url(sig)


def claims(**changes):
    c = {"sub": "alice", "iat": NOW - 60, "exp": NOW + 3600, "aud": "chat.example.com",
         "iss": "https://auth.example.com",
         "caps": {"join": ["chat:*", "news"], "publish": ["chat:room1"]}}
    c.update(changes)
    return c


def swap_part(token, index, text):
    parts = token.split(".")
    parts[index] = text
    return ".".join(parts)


def make_tokens(signer):
    """(name, comment, token) in the order tokens.h lists them."""
    out = []
    headers = {"HS256": {"alg": "HS256", "typ": "JWT"},
               "RS256": {"alg": "RS256", "typ": "JWT", "kid": "rsa-1"},
               "ES256": {"alg": "ES256", "typ": "JWT", "kid": "ec-1"}}
    for alg, header in headers.items():
        good = signer.token(header, claims())
        out.append((f"{alg}_VALID", f"{json.dumps(header)} with the standard claims", good))
        other = dict(header, x=1)
        out.append((f"{alg}_HEADER_TAMPERED", f"{json.dumps(other)}: header changed after "
                    "signing", swap_part(good, 0, part(other))))
        out.append((f"{alg}_PAYLOAD_TAMPERED", "sub changed to \"mallory\" after signing",
                    swap_part(good, 1, part(claims(sub="mallory")))))
        out.append((f"{alg}_EXPIRED", "exp = NOW - 10", signer.token(header,
                    claims(exp=NOW - 10))))
    out.append(("RS256_NO_KID", "RS256 without kid", signer.token({"alg": "RS256"}, claims())))
    out.append(("ES256_NO_KID", "ES256 without kid", signer.token({"alg": "ES256"}, claims())))

    es = signer.token(headers["ES256"], claims())
    raw = base64.urlsafe_b64decode(es.split(".")[2] + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    out.append(("ES256_DER_SIGNATURE", "ES256_VALID's signature as DER instead of R || S",
                swap_part(es, 2, b64url(der_signature(r, s)))))
    out.append(("ES256_ZERO_R", "ES256_VALID's signature with R = 0",
                swap_part(es, 2, b64url(bytes(32) + raw[32:]))))
    out.append(("ES256_HIGH_S", "ES256_VALID's signature with S replaced by N - S (also valid "
                "ECDSA: JWT does not require low S)",
                swap_part(es, 2, b64url(raw[:32] + (N - s).to_bytes(32, "big")))))

    pem = read("rsa_public.pem")
    out.append(("HS256_CONFUSION", "HS256 with rsa_public.pem's bytes as the HMAC secret",
                signer.token({"alg": "HS256", "typ": "JWT"}, claims(), secret=pem)))
    out.append(("HS256_CONFUSION_KID", "the same, naming the RSA key's kid",
                signer.token({"alg": "HS256", "kid": "rsa-1"}, claims(), secret=pem)))
    out.append(("HS256_K2", "HS256 with kid \"k2\", signed with HS_SECRET_2",
                signer.token({"alg": "HS256", "kid": "k2"}, claims(), secret=HS_SECRET_2)))
    return out


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def c_lines(text):
    """A macro body: one C string per line of text, continued with backslashes."""
    lines = text.splitlines(keepends=True)
    return " \\\n".join("    " + c_string(line) for line in lines)


def write_header(tokens):
    pkcs1 = openssl("rsa", "-pubin", "-in", os.path.join(HERE, "rsa_public.pem"),
                    "-RSAPublicKey_out").decode()
    out = ["/* Generated by make_tokens.py from the keys beside it; do not edit. */",
           "/* The layout is the generator's (so reruns diff cleanly), not clang-format's. */",
           "/* clang-format off */",
           "#ifndef TIDEGATE_TESTS_JWT_TOKENS_H", "#define TIDEGATE_TESTS_JWT_TOKENS_H", "",
           "/* The time every token below is checked at. */",
           f"#define JWT_TEST_NOW_S {NOW}", "",
           "/* The standard claims: sub \"alice\", iat NOW - 60, exp NOW + 3600, aud",
           " * \"chat.example.com\", iss \"https://auth.example.com\",",
           " * caps {\"join\": [\"chat:*\", \"news\"], \"publish\": [\"chat:room1\"]}. */",
           f"#define JWT_TEST_HS_SECRET {c_string(HS_SECRET.decode())}",
           f"#define JWT_TEST_HS_SECRET_2 {c_string(HS_SECRET_2.decode())}", ""]
    for macro, name in [("RSA_PUBLIC_PEM", "rsa_public.pem"), ("EC_PUBLIC_PEM", "ec_public.pem"),
                        ("RSA_PRIVATE_PEM", "rsa_private.pem"),
                        ("RSA1024_PUBLIC_PEM", "rsa1024_public.pem"),
                        ("EC384_PUBLIC_PEM", "ec384_public.pem")]:
        out += [f"#define JWT_TEST_{macro} \\", c_lines(read(name).decode()), ""]
    out += ["/* rsa_public.pem as PKCS#1 (\"BEGIN RSA PUBLIC KEY\"). */",
            "#define JWT_TEST_RSA_PKCS1_PEM \\",
            c_lines(pkcs1), ""]
    for name, comment, token in tokens:
        out += [f"/* {comment} */", f"#define JWT_TOKEN_{name} \\", f"    {c_string(token)}", ""]
    out += ["#endif", ""]
    with open(os.path.join(HERE, "tokens.h"), "w") as f:
        f.write("\n".join(out))


def sign_mode_seeds():
    """Fuzz inputs that fuzz_jwt.c signs itself: 0x01, header, NUL, payload, NUL, channel."""
    seeds = {
        "sign_standard": ({"alg": "HS256", "typ": "JWT"}, claims(), "chat:room1"),
        "sign_aud_array": ({"alg": "HS256"}, claims(aud=["x", "chat.example.com"]), "news"),
        "sign_caps_star": ({"alg": "HS256"}, claims(caps={"join": ["*"], "publish": []}), "a"),
        "sign_kid_k2": ({"alg": "HS256", "kid": "k2"}, claims(), "chat:x"),
        "sign_escapes": ({"alg": "HS256"}, claims(sub="\u00e5lice\u2603\U0001F600"), "news"),
        "sign_nbf": ({"alg": "HS256"}, claims(nbf=NOW + 10, exp=NOW + 20), "chat:"),
        "sign_expired": ({"alg": "HS256"}, claims(exp=NOW - 100), "news"),
        "sign_bad_caps": ({"alg": "HS256"}, claims(caps={"join": ["a*b"]}), "ab"),
        "sign_no_exp": ({"alg": "HS256"}, {"sub": "bob", "aud": "chat.example.com",
                                             "iss": "https://auth.example.com"}, "x"),
    }
    for name, (header, payload, channel) in seeds.items():
        text = (b"\x01" + json.dumps(header).encode() + b"\0" + json.dumps(payload).encode() +
                b"\0" + channel.encode())
        yield name, text


def write_corpus(tokens):
    os.makedirs(CORPUS, exist_ok=True)
    for name, _, token in tokens:
        with open(os.path.join(CORPUS, "token_" + name.lower()), "wb") as f:
            f.write(b"\x00" + token.encode())
    for name, text in sign_mode_seeds():
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(text)


def main():
    tokens = make_tokens(Signer())
    write_header(tokens)
    write_corpus(tokens)


if __name__ == "__main__":
    main()
