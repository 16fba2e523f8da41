#!/usr/bin/python3
"""Writes the seed corpus for tests/fuzz/fuzz_api.c into tests/fuzz/corpus/api/.

Each seed is one byte choosing the parser (0 head, 1 publish, 2 broadcast, 3 disconnect,
4 presence query, 5 history query, 6 channels query, 7 a query that must be empty) and
that parser's input: requests as backends send them, and ones broken in each way the
checks distinguish. Run it again after editing the lists; it rewrites every file it owns
and leaves other files in the directory alone.

    /usr/bin/python3 tests/fuzz/make_seeds_api.py
"""
import os

KEY = "alpha-0123456789abcdefghijklmnopqrstuv"


def head(first, lines, body=""):
    return first + "\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n" + body


POST = ["Host: api", "Authorization: Bearer " + KEY, "Content-Type: application/json"]

SEEDS = {
    # 0: heads
    "head_publish": (0, head("POST /api/publish HTTP/1.1", POST + ["Content-Length: 2"], "{}")),
    "head_info_x_api_key": (0, head("GET /api/info HTTP/1.1", ["Host: a", "X-Api-Key: " + KEY])),
    "head_history_query": (0, head("GET /api/history?channel=chat%3Aa&limit=2 HTTP/1.1",
                                   ["Host: a", "X-Api-Key: " + KEY, "Connection: close"])),
    "head_expect": (0, head("POST /api/broadcast HTTP/1.1",
                            POST + ["Expect: 100-continue", "Content-Length: 100"])),
    "head_no_key": (0, head("GET /api/info HTTP/1.1", ["Host: a"])),
    "head_wrong_key": (0, head("GET /api/info HTTP/1.1", ["Host: a", "X-Api-Key: nope"])),
    "head_not_found": (0, head("GET /api/x HTTP/1.1", ["Host: a", "X-Api-Key: " + KEY])),
    "head_method": (0, head("GET /api/publish HTTP/1.1", ["Host: a", "X-Api-Key: " + KEY])),
    "head_chunked": (0, head("POST /api/publish HTTP/1.1",
                             POST + ["Transfer-Encoding: chunked"], "0\r\n\r\n")),
    "head_too_large_body": (0, head("POST /api/publish HTTP/1.1",
                                    POST + ["Content-Length: 99999"])),
    "head_text_plain": (0, head("POST /api/publish HTTP/1.1",
                                ["Host: a", "X-Api-Key: " + KEY, "Content-Type: text/plain",
                                 "Content-Length: 2"])),
    "head_http10": (0, head("GET /api/info HTTP/1.0", ["Host: a"])),
    "head_two_hosts": (0, head("GET /api/info HTTP/1.1", ["Host: a", "Host: b"])),
    "head_partial": (0, "GET /api/info HTTP/1.1\r\nHost: a\r\nX-Api-"),
    # 1: publish
    "publish_full": (1, '{"channel":"chat:lobby","data":{"notice":"deploy at 5"},'
                        '"user_id":"ops"}'),
    "publish_escaped": (1, '{"channel":"ch\\u0061t:x","data":[1,2.5e3,null],"user_id":"\\u00e9"}'),
    "publish_unknown_field": (1, '{"channel":"a","data":1,"extra":true}'),
    "publish_bad_name": (1, '{"channel":"chat:a b","data":1}'),
    "publish_no_namespace": (1, '{"channel":"nope:a","data":1}'),
    "publish_big_data": (1, '{"channel":"a","data":"' + "x" * 80 + '"}'),
    "publish_deep": (1, '{"channel":"a","data":' + "[" * 33 + "]" * 33 + "}"),
    # 2: broadcast
    "broadcast_three": (2, '{"channels":["a","chat:b","chat:c"],"data":{"k":1},'
                           '"user_id":"carol"}'),
    "broadcast_duplicate": (2, '{"channels":["chat:a","b","ch\\u0061t:a"],"data":1}'),
    "broadcast_empty": (2, '{"channels":[],"data":1}'),
    "broadcast_not_strings": (2, '{"channels":["a",1],"data":1}'),
    # 3: disconnect
    "disconnect_user": (3, '{"user_id":"mallory","message":"account suspended"}'),
    "disconnect_client": (3, '{"client_id":"w1-0000002a","reconnect":true}'),
    "disconnect_both": (3, '{"user_id":"a","client_id":"b"}'),
    "disconnect_long_message": (3, '{"user_id":"a","message":"' + "m" * 201 + '"}'),
    # 4-7: queries
    "presence": (4, "channel=chat%3Alobby"),
    "presence_twice": (4, "channel=a&channel=b"),
    "history_all": (5, "channel=chat:a&since=41&epoch=h7Kq2cXz&limit=2&direction=backward"),
    "history_epoch_alone": (5, "channel=a&epoch=x"),
    "history_big_since": (5, "channel=a&since=9007199254740992"),
    "channels_page": (6, "prefix=chat:&cursor=chat:team-7&limit=2"),
    "channels_bad_prefix": (6, "prefix=a*&limit=0"),
    "info_empty": (7, ""),
    "info_param": (7, "verbose=1&&"),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "api")
    os.makedirs(out, exist_ok=True)
    for name, (mode, text) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([mode]) + text.encode("utf-8"))


if __name__ == "__main__":
    main()
