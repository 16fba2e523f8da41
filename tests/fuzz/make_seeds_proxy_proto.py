#!/usr/bin/python3
"""Writes the seed corpus for tests/fuzz/fuzz_proxy_proto.c into tests/fuzz/corpus/proxy_proto/.

Seeds are PROXY headers as HAProxy and AWS NLB send them (v1 text, v2 binary for every
family, with the TLVs each sends and a valid CRC32C), followed by the client's first bytes,
headers broken in each way the parser distinguishes, and address ranges as text (the target
also feeds its input to the CIDR parser). Run it again after editing the lists; it rewrites
every file it owns and leaves other files in the directory alone.

    /usr/bin/python3 tests/fuzz/make_seeds_proxy_proto.py
"""
import ipaddress
import os
import struct

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
HTTP = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n"
TLS_HELLO = bytes.fromhex("1603010200010001fc0303") + bytes(32)


def crc32c(data):
    """CRC-32C (Castagnoli), reflected, bit by bit: the checksum PP2_TYPE_CRC32C carries."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def tlv(kind, value):
    return struct.pack(">BH", kind, len(value)) + value


def inet(src, sport, dst, dport):
    return (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
            + struct.pack(">HH", sport, dport))


def v2(command, family, body, crc=False, length=None):
    """A v2 header; with crc, a CRC32C TLV is appended and filled in."""
    if crc:
        body += tlv(0x03, bytes(4))
    size = len(body) if length is None else length
    header = bytearray(SIGNATURE + bytes([0x20 | command, family]) + struct.pack(">H", size)
                       + body)
    if crc:
        value = crc32c(bytes(header))
        header[-4:] = struct.pack(">I", value)
    return bytes(header)


def ssl(client, verify, subs):
    return tlv(0x20, bytes([client]) + struct.pack(">I", verify)
               + b"".join(tlv(kind, value) for kind, value in subs))


INET = inet("203.0.113.9", 51000, "10.0.0.5", 8443)
INET6 = inet("2001:db8:1::77", 61000, "2001:db8:2::1", 443)
UNIX = b"/run/haproxy.sock".ljust(108, b"\x00") + b"/run/tidegate.sock".ljust(108, b"\x00")

VALID = {
    "v1_tcp4": b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n" + HTTP,
    "v1_tcp6": b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 8080\r\n" + HTTP,
    "v1_tcp6_mapped": b"PROXY TCP6 ::ffff:192.0.2.7 ::1 40000 8080\r\n" + TLS_HELLO,
    "v1_unknown": b"PROXY UNKNOWN\r\n" + HTTP,
    "v1_unknown_rest": b"PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n",
    "v1_edges": b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
    "v2_inet": v2(1, 0x11, INET) + HTTP,
    "v2_inet6": v2(1, 0x21, INET6) + TLS_HELLO,
    "v2_inet_dgram": v2(1, 0x12, INET),
    "v2_unix": v2(1, 0x31, UNIX + tlv(0x01, b"http/1.1")),
    "v2_unspec": v2(1, 0x00, b""),
    "v2_local_check": v2(0, 0x00, b""),
    "v2_local_odd_family": v2(0, 0xFF, b"\x01\xff\xff"),
    "v2_haproxy_options": v2(1, 0x11, INET + tlv(0x01, b"http/1.1")
                             + tlv(0x02, b"chat.example.com")
                             + tlv(0x05, b"0123456789abcdef"), crc=True) + HTTP,
    "v2_haproxy_ssl": v2(1, 0x21, INET6 + ssl(0x07, 0, [
        (0x21, b"TLSv1.3"), (0x22, b"client-7"), (0x23, b"TLS_AES_128_GCM_SHA256"),
        (0x24, b"SHA256"), (0x25, b"EC256"), (0x28, b"\x30\x03\x01\x01\xff")]), crc=True),
    "v2_aws_nlb": v2(1, 0x11, INET + tlv(0xEA, b"\x01vpce-0123456789abcdef")),
    "v2_noop_netns": v2(1, 0x11, INET + tlv(0x04, b"") + tlv(0x30, b"blue")
                        + tlv(0x04, bytes(7))),
}

BROKEN = {
    "bad_v1_syntax": b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "bad_v1_address": b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
    "bad_v1_port": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    "bad_v1_lf": b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    "bad_v1_too_long": b"PROXY UNKNOWN " + b"x" * 120 + b"\r\n",
    "bad_v2_version": v2(1, 0x11, INET)[:12] + b"\x11" + v2(1, 0x11, INET)[13:],
    "bad_v2_command": v2(1, 0x11, INET)[:12] + b"\x22" + v2(1, 0x11, INET)[13:],
    "bad_v2_family": v2(1, 0x13, INET),
    "bad_v2_short": v2(1, 0x21, INET),
    "bad_v2_too_long": v2(1, 0x11, INET, length=2000) + bytes(2000),
    "bad_v2_truncated": v2(1, 0x21, INET6)[:40],
    "bad_v2_tlv_overrun": v2(1, 0x11, INET + b"\x01\x00\x09h2"),
    "bad_v2_ssl_overrun": v2(1, 0x11, INET + b"\x20\x00\x0a\x01\x00\x00\x00\x00\x21\x00\x03TL"),
    "bad_v2_alpn_empty": v2(1, 0x11, INET + tlv(0x01, b"")),
    "bad_v2_authority_utf8": v2(1, 0x11, INET + tlv(0x02, b"\xc0\x80")),
    "bad_v2_crc": v2(1, 0x11, INET + tlv(0x03, b"\xde\xad\xbe\xef")),
    "bad_v2_duplicate": v2(1, 0x11, INET + tlv(0x01, b"h2") + tlv(0x01, b"h2")),
    "bad_signature": b"\r\n\r\n\x00\r\nQUIT!" + bytes(20),
    "absent_http": HTTP,
    "absent_tls": TLS_HELLO,
}

RANGES = {
    "cidr_ipv4": b"10.0.0.0/8",
    "cidr_host": b"192.168.1.10",
    "cidr_ipv6": b"fd00::/8",
    "cidr_loopback6": b"::1/128",
    "cidr_mapped": b"::ffff:10.0.0.0/104",
    "cidr_odd_prefix": b"100.64.0.0/10",
    "cidr_host_bits": b"10.0.0.1/8",
}


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "proxy_proto")
    os.makedirs(out_dir, exist_ok=True)
    seeds = {**VALID, **BROKEN, **RANGES}
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), out_dir))


if __name__ == "__main__":
    main()
