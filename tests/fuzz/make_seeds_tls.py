#!/usr/bin/python3
"""Writes ClientHellos from OpenSSL (through Python's ssl module, in memory, no socket)
into tests/fuzz/corpus/tls/ as seeds for tests/fuzz/fuzz_tls.c.

Each seed is one byte saying how the fuzz target feeds the rest (0: all at once, n: pieces
of n bytes) followed by a client's first flight. Variants: TLS 1.3 and 1.2 only, both,
with and without SNI, ALPN h2+http/1.1, only h2, none. wolfSSL's own ClientHellos come from
tests/unit/test_tls_records.c (run it with TIDEGATE_TLS_SEED_DIR=tests/fuzz/corpus/tls).
Rewrites the files it owns (openssl_*), leaves the others alone.

    /usr/bin/python3 tests/fuzz/make_seeds_tls.py
"""
import os
import ssl

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tls")


def client_hello(min_version, max_version, sni, alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = min_version
    ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


V12, V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
VARIANTS = {
    "tls13_sni_alpn": (V13, V13, "a.test", ["h2", "http/1.1"]),
    "tls12_sni_alpn": (V12, V12, "b.test", ["http/1.1"]),
    "any_sni_alpn": (V12, V13, "x.a.test", ["h2", "http/1.1"]),
    "tls13_no_sni": (V13, V13, None, ["http/1.1"]),
    "tls13_alpn_h2_only": (V13, V13, "a.test", ["h2"]),
    "tls12_no_alpn": (V12, V12, "unknown.test", None),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, args in VARIANTS.items():
        hello = client_hello(*args)
        for piece in (0, 7):
            with open(os.path.join(OUT, "openssl_%s_piece%d" % (name, piece)), "wb") as f:
                f.write(bytes([piece]) + hello)


if __name__ == "__main__":
    main()
