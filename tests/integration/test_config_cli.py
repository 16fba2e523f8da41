"""Configuration as an operator meets it: `--help` documents every option with its default,
`--check-config FILE` validates a file before a deploy, and every mistake (in a file or on
the command line) is refused with exit code 2 and a sentence that names the option, the
value and what would have been accepted. Options set in a file and on the command line
take effect (the command line wins)."""

import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, SOURCE_DIR, Message, RawClient,  # noqa: E402
                              Server, run_binary)

# Every option of the spec with its documented default, as --help should show it.
DEFAULTS = {
    "listen": "0.0.0.0:8080", "admin_listen": "127.0.0.1:9090", "workers": "0",
    "echo": "false", "max_message_bytes": "1m", "max_header_bytes": "8k", "max_headers": "32",
    "handshake_timeout": "5s", "ping_interval": "25s", "idle_timeout": "60s",
    "close_timeout": "5s", "allowed_origins": None, "subprotocols": None,
    "send_queue_bytes_max": "1m", "max_connections": "100000", "recv_buffer_bytes": "16k",
    "recv_buffer_count": "512", "log_level": "info",
    "jwt_keys": None, "jwt_audience": None, "jwt_issuer": None, "jwt_leeway": "30s",
    "max_token_bytes": "4k", "allow_anonymous": "false", "connect_timeout": "10s",
    "max_publish_bytes": "64k", "max_channels_per_connection": "128",
    "client_messages_per_s": "50", "client_messages_burst": "100", "typing_per_s": "1",
    "error_burst": "20", "history_page_max": "100", "presence_max_members": "1000",
    "recovery_max_messages": "1000", "recovery_max_bytes": "512k", "max_channels": "1000000",
    "api_listen": "127.0.0.1:9091", "api_keys": None, "api_max_connections": "256",
    "api_max_body_bytes": "1m", "mailbox_ring_slots": "4096", "mailbox_overflow_max": "65536",
    "proxy_protocol": "off", "proxy_trusted": None, "proxy_header_bytes_max": "1k",
    "max_connections_per_ip": "1000", "new_connections_per_ip_per_s": "100",
    "new_connections_per_ip_burst": "1000", "ip_limit_ipv6_prefix_bits": "64",
    "ip_limit_tracked_max": "131072", "drain_window": "10s",
}


def flag(name):
    return "--" + name.replace("_", "-")


class ConfigFiles(unittest.TestCase):
    def write_config(self, text):
        handle = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        handle.write(text)
        handle.close()
        self.addCleanup(os.unlink, handle.name)
        return handle.name

    def assert_usage_error(self, result, *must_mention):
        """Exit 2, a message on stderr mentioning every string in `must_mention`."""
        self.assertEqual(result.returncode, 2, f"stdout={result.stdout!r} stderr={result.stderr!r}")
        message = result.stderr
        self.assertTrue(message.strip(), "the error must be explained on stderr")
        for text in must_mention:
            self.assertIn(text, message)
        self.assertNotIn("Segmentation", message)
        return message


class TestHelp(ConfigFiles):
    def test_help_lists_every_option_with_its_default_and_exits_0(self):
        result = run_binary("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        text = result.stdout
        # a flag followed by its value word: --max-channels is not --max-channels-per-connection
        positions = sorted((text.find(flag(name) + " "), name) for name in DEFAULTS)
        for pos, name in positions:
            self.assertGreaterEqual(pos, 0, f"--help does not mention {flag(name)}")
        # the default of each option is shown in its own entry (between its flag and the next)
        starts = [m.start() for m in re.finditer(r"(?m)^\s*--[a-z]", text)]
        for name, default in DEFAULTS.items():
            if default is None:
                continue
            start = text.find(flag(name) + " ")
            end = min([s for s in starts if s > start] + [len(text)])
            self.assertIn(default, text[start:end], f"--help entry of {flag(name)} should "
                          f"show its default {default}:\n{text[start:end]}")

    def test_help_and_docs_configuration_list_the_same_options(self):
        doc_path = os.path.join(SOURCE_DIR, "docs", "configuration.md")
        self.assertTrue(os.path.exists(doc_path), "docs/configuration.md documents the options")
        with open(doc_path, encoding="utf-8") as f:
            doc = f.read()
        help_text = run_binary("--help").stdout
        flags = set(re.findall(r"(?m)^\s*--([a-z][a-z0-9-]*)", help_text))
        flags -= {"config", "check-config", "help", "version"}
        self.assertTrue(flags >= {flag(n)[2:] for n in DEFAULTS}, flags)
        for f in sorted(flags):
            self.assertIn(f.replace("-", "_"), doc, f"docs/configuration.md lacks {f}")


class TestCheckConfig(ConfigFiles):
    def test_good_file_is_accepted_and_printed(self):
        path = self.write_config(
            "# production settings\n"
            "\n"
            "listen = 0.0.0.0:8443\n"
            "admin_listen = 127.0.0.1:9191\n"
            "workers = 4\n"
            "echo = false\n"
            "max_message_bytes = 64k\n"
            "max_publish_bytes = 16k\n"
            "max_header_bytes = 16k\n"
            "max_headers = 64\n"
            "handshake_timeout = 250ms\n"
            "ping_interval = 20s\n"
            "idle_timeout = 2m\n"
            "close_timeout = 3s\n"
            "allowed_origins = https://app.example.com, https://admin.example.com\n"
            "subprotocols = chat.v2,chat.v1\n"
            "send_queue_bytes_max = 16m\n"
            "max_connections = 50000\n"
            "recv_buffer_bytes = 32k\n"
            "recv_buffer_count = 1024\n"
            "log_level = warn\n")
        result = run_binary("--check-config", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout + result.stderr, r"(?i)\bok\b|valid")
        self.assertIn("chat.v2", result.stdout, "the checked configuration is printed")
        self.assertIn("0.0.0.0:8443", result.stdout)

    def test_bad_size_names_file_line_option_value_and_what_is_allowed(self):
        path = self.write_config("echo = true\n\nmax_message_bytes = 12x\n")
        message = self.assert_usage_error(run_binary("--check-config", path),
                                          f"{path}:3", "max_message_bytes", "12x")
        self.assertRegex(message, r"\d+[kKmM]", "the message shows what a size looks like")

    def test_bad_enum_lists_the_allowed_values(self):
        path = self.write_config("log_level = loud\n")
        self.assert_usage_error(run_binary("--check-config", path), f"{path}:1", "log_level",
                                "loud", "debug", "info", "warn", "error")

    def test_bad_bool_says_true_or_false(self):
        path = self.write_config("echo = maybe\n")
        self.assert_usage_error(run_binary("--check-config", path), "echo", "maybe", "true",
                                "false")

    def test_bad_duration_names_option_and_value(self):
        path = self.write_config("handshake_timeout = soon\n")
        message = self.assert_usage_error(run_binary("--check-config", path),
                                          "handshake_timeout", "soon")
        self.assertRegex(message, r"\d+(ms|s)\b", "the message shows what a duration looks like")

    def test_number_out_of_range_names_the_range(self):
        path = self.write_config("max_headers = 100000000\n")
        self.assert_usage_error(run_binary("--check-config", path), "max_headers", "100000000")

    def test_unknown_option_in_file(self):
        path = self.write_config("max_mesage_bytes = 1m\n")
        message = self.assert_usage_error(run_binary("--check-config", path),
                                          f"{path}:1", "max_mesage_bytes")
        self.assertIn("unknown", message.lower())

    def test_line_without_equals_sign(self):
        path = self.write_config("echo = true\nthis line has no equals sign\n")
        self.assert_usage_error(run_binary("--check-config", path), f"{path}:2")

    def test_missing_file_is_a_usage_error(self):
        result = run_binary("--check-config", "/nonexistent/tidegate.conf")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("/nonexistent/tidegate.conf", result.stderr)


class TestChannelConfiguration(ConfigFiles):
    """Namespaces, JWT keys and API keys, as the documentation's example sets them."""

    SECRET = b"tidegate-integration-hs256-secret-0123456789"

    def write_secret(self, data=SECRET):
        handle = tempfile.NamedTemporaryFile("wb", suffix=".key", delete=False)
        handle.write(data)
        handle.close()
        self.addCleanup(os.unlink, handle.name)
        return handle.name

    def test_documented_example_is_valid_and_printed_whole(self):
        key = self.write_secret(self.SECRET + b"\n")
        api_key = "k" * 40
        path = self.write_config(
            f"jwt_keys = main:hs256:{key}\n"
            "jwt_audience = chat.example.com\n"
            f"api_keys = {api_key}\n"
            "namespace.chat.presence = on\n"
            "namespace.chat.typing = on\n"
            "namespace.chat.history_size = 500\n"
            "namespace.prices.publish = none\n"
            "namespace.prices.join = anonymous\n"
            "namespace.prices.slow_consumer = skip\n"
            "namespace.prices.history_size = 0\n")
        result = run_binary("--check-config", path, "--namespace.team-7.history-size", "3",
                            "--namespace.team-7.typing")
        self.assertEqual(result.returncode, 0, result.stderr)
        out = result.stdout
        for line in ("namespace.chat.presence = true", "namespace.chat.typing = true",
                     "namespace.chat.history_size = 500", "namespace.chat.join = caps",
                     "namespace.prices.publish = none", "namespace.prices.join = anonymous",
                     "namespace.prices.slow_consumer = skip",
                     "namespace.prices.history_size = 0", "namespace.default.history_size = 100",
                     "namespace.team-7.history_size = 3", "namespace.team-7.typing = true",
                     'jwt_keys = "***"', 'jwt_audience = "chat.example.com"',
                     'api_keys = "***"'):
            self.assertIn(line + "\n", out)
        self.assertNotIn(api_key, out + result.stderr, "API keys are never printed")
        self.assertNotIn(key, out + result.stderr, "jwt_keys (they may be inline) are never printed")
        # what --check-config prints loads back (the keys aside, which it hides)
        printed = self.write_config(out.replace('api_keys = "***"', "")
                                    .replace('jwt_keys = "***"', ""))
        again = run_binary("--check-config", printed)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again.stdout.split("\n", 1)[1], out.split("\n", 1)[1]
                         .replace('api_keys = "***"', 'api_keys = ""')
                         .replace('jwt_keys = "***"', 'jwt_keys = ""'))

    def test_durable_namespace_is_refused_without_postgres_url(self):
        path = self.write_config("namespace.orders.durable = true\n")
        message = self.assert_usage_error(run_binary("--check-config", path),
                                          "namespace.orders.durable", "PostgreSQL",
                                          "postgres_url is not set")
        self.assertNotIn("Segmentation", message)
        path = self.write_config("namespace.orders.durable = true\n"
                                 "postgres_url = host=/nonexistent password=hunter2\n")
        result = run_binary("--check-config", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('postgres_url = "***"', result.stdout)
        self.assertNotIn("hunter2", result.stdout + result.stderr)

    def test_unreachable_database_stops_the_start_with_a_sentence(self):
        result = run_binary("--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                            "--postgres-url", "host=127.0.0.1 port=1 connect_timeout=2")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("postgres_migrate: could not connect to PostgreSQL", result.stderr)
        self.assertIn("postgres_migrate = false", result.stderr)

    def test_namespace_mistakes_name_the_line_and_the_rule(self):
        for text, must_mention in (
                ("namespace.Chat.presence = on\n", ["Chat", "a-z, 0-9, _ and -"]),
                ("namespace.chat.colour = blue\n", ["colour", "history_size", "slow_consumer"]),
                ("namespace.chat.join = none\n", ["join", "none", "caps, authenticated"]),
                ("namespace.chat.history_size = 10001\n", ["history_size", "10001", "10000"]),
                ("namespace.chat = on\n", ["namespace.NAME.OPTION"])):
            with self.subTest(text=text):
                path = self.write_config("echo = false\n" + text)
                self.assert_usage_error(run_binary("--check-config", path), f"{path}:2",
                                        *must_mention)
        self.assert_usage_error(run_binary("--namespace.chat.slow-consumer", "drop"),
                                "namespace.chat.slow_consumer", "drop", "disconnect, skip")

    def test_a_bad_jwt_key_file_exits_2_naming_the_item(self):
        missing = "/nonexistent/jwt.key"
        short = self.write_secret(b"too-short\n")
        for item, reason in ((f"main:hs256:{missing}", "cannot open"),
                             (f"main:hs256:{short}", "needs 32 to 512"),
                             (f"main:rs256:{short}", "BEGIN PUBLIC KEY"),
                             (f"main:hs384:{short}", "hs256, rs256, es256"),
                             ("main:hs256", "kid:alg:path")):
            with self.subTest(item=item):
                path = self.write_config(f"jwt_keys = {item}\n")
                self.assert_usage_error(run_binary("--check-config", path), "jwt_keys", item,
                                        reason)
                # the same at start, before anything listens
                self.assert_usage_error(run_binary("--jwt-keys", item), "jwt_keys", reason)

    def test_public_key_files_load(self):
        keys = os.path.join(SOURCE_DIR, "tests", "unit", "jwt_keys")
        result = run_binary("--check-config", "/dev/null", "--jwt-keys",
                            f"rsa-1:rs256:{keys}/rsa_public.pem,ec-1:es256:{keys}/ec_public.pem")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_malformed_api_keys_are_refused_without_quoting_them(self):
        for keys in ("short-key", "k" * 40 + ",has space" + "x" * 30, "k" * 257):
            with self.subTest(keys=keys[:20]):
                message = self.assert_usage_error(run_binary("--api-keys", keys), "api_keys")
                for key in keys.split(","):
                    self.assertNotIn(key, message)

    def test_max_publish_bytes_must_be_below_max_message_bytes(self):
        self.assert_usage_error(run_binary("--max-message-bytes", "64k"), "max_publish_bytes",
                                "max_message_bytes")
        self.assert_usage_error(run_binary("--max-publish-bytes", "1m"), "max_publish_bytes",
                                "max_message_bytes")
        # echo mode runs no protocol, so nothing is published: not checked there
        result = run_binary("--check-config", "/dev/null", "--echo", "--max-message-bytes", "64k")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_mailbox_ring_slots_must_be_a_power_of_two(self):
        self.assert_usage_error(run_binary("--mailbox-ring-slots", "1000"), "mailbox_ring_slots",
                                "1000", "power of two")

    def test_without_keys_or_anonymous_access_a_warning_says_no_client_can_connect(self):
        with Server() as server:
            _, line = server.wait_for_log(r"level=warn .*no jwt_keys and allow_anonymous = false")
            self.assertIn("no client can connect", line)
        key = self.write_secret()
        with Server("--jwt-keys", f"main:hs256:{key}") as server:
            server.wait_for_log(r'msg="ready"')
            self.assertFalse([l for l in server.log_lines() if "no client can connect" in l])
        with Server("--allow-anonymous") as server:
            server.wait_for_log(r'msg="ready"')
            self.assertFalse([l for l in server.log_lines() if "no client can connect" in l])


class TestCommandLineErrors(ConfigFiles):
    def test_unknown_option_is_refused_with_a_sentence(self):
        message = self.assert_usage_error(run_binary("--frobnicate", "yes"), "--frobnicate")
        self.assertIn("--help", message, "the sentence says where to look")

    def test_bad_values_name_option_and_value(self):
        for args, option, value in (
                (["--workers", "abc"], "workers", "abc"),
                (["--max-message-bytes=12x"], "max_message_bytes", "12x"),
                (["--listen", "localhost:80"], "listen", "localhost:80"),
                (["--log-level", "loud"], "log_level", "loud"),
                (["--idle-timeout", "-5s"], "idle_timeout", "-5s"),
                (["--echo", "perhaps"], "echo", "perhaps")):
            with self.subTest(args=args):
                self.assert_usage_error(run_binary(*args), option, value)

    def test_idle_timeout_must_exceed_ping_interval(self):
        """Clients answering every ping would still be cut: refused, naming both options."""
        self.assert_usage_error(run_binary("--ping-interval", "20s", "--idle-timeout", "10s"),
                                "idle_timeout", "ping_interval")

    def test_recv_buffer_count_must_be_a_power_of_two(self):
        self.assert_usage_error(run_binary("--recv-buffer-count", "100"), "recv_buffer_count",
                                "100")

    def test_option_without_its_value(self):
        self.assert_usage_error(run_binary("--workers"), "--workers")

    def test_config_without_file_name(self):
        self.assert_usage_error(run_binary("--config"), "--config")


class TestOptionsTakeEffect(ConfigFiles):
    def assert_echo_limit(self, server, fits, too_big):
        client = RawClient.connect(server.ws_port)
        try:
            client.send_binary(b"f" * fits)
            self.assertEqual(client.recv_message(), Message(OP_BINARY, b"f" * fits))
            client.send_binary(b"t" * too_big)
            client.expect_close(1009)
        finally:
            client.abort()

    def test_config_file_settings_apply(self):
        path = self.write_config("echo = true\nmax_message_bytes = 1k\nmax_publish_bytes = 512\n"
                                 "ping_interval = 0\n")
        with Server("--config", path) as server:
            self.assert_echo_limit(server, fits=1024, too_big=1025)

    def test_command_line_overrides_the_file(self):
        path = self.write_config("echo = true\nmax_message_bytes = 1k\nmax_publish_bytes = 512\n")
        with Server("--config", path, "--max-message-bytes", "4k") as server:
            self.assert_echo_limit(server, fits=4096, too_big=4097)

    def test_workers_0_means_one_per_online_cpu(self):
        with Server(workers=0) as server:
            _, line = server.wait_for_log(r'msg="listening" kind=ws')
            self.assertIn(f"workers={os.cpu_count()}", line)
            self.assertEqual(server.metrics().label_values("tidegate_connections_open", "worker"),
                             {str(w) for w in range(os.cpu_count())})

    def test_equals_form_on_the_command_line(self):
        with Server("--echo=true", "--max-message-bytes=2k", "--max-publish-bytes=1k") as server:
            self.assert_echo_limit(server, fits=2048, too_big=2049)


if __name__ == "__main__":
    unittest.main()
