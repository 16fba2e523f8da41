#!/usr/bin/python3
"""Writes the seed corpora for fuzz_ws_frame and fuzz_utf8.

    /usr/bin/python3 tests/fuzz/make_seeds_ws.py

ws_frame seeds are one configuration byte (see tests/fuzz/fuzz_ws_frame.c: bits 0-1 pick the
message size limit, bits 4-7 the chunk size scale) followed by a stream of frames, written
once masked (what a server reads) and once unmasked (what a client reads). utf8 seeds are
plain byte strings. Rerunning the script rewrites the same files.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
FIN = 0x80


def frame(b0, payload=b"", masked=True, ext=None):
    """One frame with first byte b0; ext forces the 16-bit (2) or 64-bit (8) length form."""
    n = len(payload)
    bit = 0x80 if masked else 0
    if ext == 8 or (ext is None and n > 0xFFFF):
        head = bytes([b0, bit | 127]) + struct.pack(">Q", n)
    elif ext == 2 or (ext is None and n > 125):
        head = bytes([b0, bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, bit | n])
    if not masked:
        return head + payload
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + body


def close(code, reason=b"", masked=True):
    return frame(FIN | CLOSE, struct.pack(">H", code) + reason, masked)


# Each stream is a function of `masked`, so every seed exists in both roles.
STREAMS = {
    "text": lambda m: frame(FIN | TEXT, b"Hello", m),
    "binary_16bit": lambda m: frame(FIN | BINARY, bytes(range(256)) * 2, m),
    "empty_messages": lambda m: frame(FIN | TEXT, b"", m) + frame(TEXT, b"", m)
    + frame(FIN | CONT, b"", m),
    "fragmented": lambda m: frame(TEXT, b"Hel", m) + frame(FIN | PING, b"ping", m)
    + frame(CONT, b"lo \xe2\x82", m) + frame(FIN | CONT, b"\xac", m),
    "control_mix": lambda m: frame(FIN | PING, b"p" * 125, m) + frame(FIN | PONG, b"", m)
    + frame(FIN | BINARY, b"\x00\xff", m),
    "close_reason": lambda m: frame(FIN | TEXT, b"bye", m) + close(1000, b"done \xc3\xa9", m)
    + frame(FIN | TEXT, b"after", m),
    "close_empty": lambda m: frame(FIN | CLOSE, b"", m),
    "close_4999": lambda m: close(4999, b"", m),
    "nonminimal_16": lambda m: frame(FIN | TEXT, b"abc", m, ext=2),
    "nonminimal_64": lambda m: frame(FIN | BINARY, b"xyz", m, ext=8),
    "incomplete_tail": lambda m: frame(FIN | TEXT, b"whole", m) + frame(FIN | PING, b"12345", m)[:-2],
    "bad_utf8": lambda m: frame(FIN | TEXT, b"ok \xed\xa0\x80", m),
    "bad_utf8_split": lambda m: frame(TEXT, b"abc\xf4", m) + frame(FIN | CONT, b"\x90\x80\x80", m),
    "utf8_cut_at_end": lambda m: frame(TEXT, b"\xf0\x9f", m) + frame(FIN | CONT, b"", m),
    "rsv1": lambda m: frame(FIN | 0x40 | TEXT, b"x", m),
    "opcode_3": lambda m: frame(FIN | 0x3, b"x", m),
    "opcode_b": lambda m: frame(FIN | 0xB, b"", m),
    "long_ping": lambda m: frame(FIN | PING, b"p" * 126, m),
    "fragmented_ping": lambda m: frame(PING, b"", m),
    "orphan_continuation": lambda m: frame(FIN | CONT, b"x", m),
    "text_in_text": lambda m: frame(TEXT, b"a", m) + frame(FIN | TEXT, b"b", m),
    "close_1_byte": lambda m: frame(FIN | CLOSE, b"\x10", m) + frame(FIN | TEXT, b"", m),
    "close_1005": lambda m: close(1005, b"", m),
    "close_bad_reason": lambda m: close(1000, b"\xc3\x28", m),
    "length_high_bit": lambda m: bytes([0x82, (0x80 if m else 0) | 127, 0x80, 0, 0, 0, 0, 0, 0, 1])
    + (MASK if m else b""),
}

# Configuration byte per seed: limits and chunk scales spread over the streams.
CONFIGS = [0x00, 0x11, 0x22, 0x53, 0xB0, 0xF2, 0x41, 0x03]

UTF8_SEEDS = {
    "ascii": b"Hello, tidegate! 0123456789",
    "empty": b"",
    "kosme": "κόσμε".encode(),
    "boundaries": "\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff".encode("utf-8", "surrogatepass"),
    "mixed_long": ("ab" * 20 + "é€😀" + "cd" * 20).encode(),
    "overlong_2": b"\xc0\xaf",
    "overlong_3": b"\xe0\x80\xaf",
    "overlong_4": b"\xf0\x80\x80\xaf",
    "surrogate": b"abc\xed\xa0\x80",
    "above_max": b"\xf4\x90\x80\x80",
    "lead_f5": b"\xf5\x80\x80\x80",
    "stray_cont": b"ascii\x80",
    "truncated": b"0123456789\xf0\x9f\x98",
    "fe_ff": b"\xfe\xff",
    "lead_then_ascii": b"\xc2A",
}


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    ws_dir = os.path.join(HERE, "corpus", "ws_frame")
    for i, (name, build) in enumerate(sorted(STREAMS.items())):
        config = CONFIGS[i % len(CONFIGS)]
        write(ws_dir, name + "_masked", bytes([config]) + build(True))
        write(ws_dir, name + "_unmasked", bytes([config]) + build(False))
    utf8_dir = os.path.join(HERE, "corpus", "utf8")
    for name, data in sorted(UTF8_SEEDS.items()):
        write(utf8_dir, name, data)


if __name__ == "__main__":
    main()
