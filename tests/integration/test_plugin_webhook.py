"""The webhook notifier POSTs alerts to a local HTTP server through
cairn-plugin-check, and tells delivered, retry and give up apart."""
import http.server
import json
import socket
import threading
import time

from test_plugin_harness import PluginCheckTest

ALERT = {"type": "alert", "alert": "slow", "state": "firing", "field": "latency_ms",
         "value": 180.5, "bound": 100.0, "direction": "above", "consecutive": 3,
         "source_event_type": "prediction", "not_listed": "left out"}


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers POST /<status>[/slow] with that status and records the request."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.path, dict(self.headers), body))
        parts = self.path.strip("/").split("/")
        if "slow" in parts:
            time.sleep(2)
        try:
            self.send_response(int(parts[0]))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting: what the slow case tests

    def log_message(self, *args):
        pass


class Webhook(PluginCheckTest):
    PLUGIN = "webhook"

    def setUp(self):
        super().setUp()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.server.requests = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        super().tearDown()

    def deliver(self, path, events=(ALERT,), expect=0, **config):
        out = self.check(expect=expect, config=self.config(url=self.base + path, **config),
                         events=events)
        return out, [d["result"] for d in out.of("deliver")]

    def test_2xx_is_delivered_with_the_event_as_json_and_the_headers(self):
        out, results = self.deliver("/200", headers=["X-Token: s3cret", "X-Team: ml"])
        self.assertEqual(results, ["ok"])
        self.assertEqual(out.counters().get("sent"), 1)
        (path, headers, body), = self.server.requests
        self.assertEqual(headers.get("X-Token"), "s3cret")
        self.assertEqual(headers.get("X-Team"), "ml")
        self.assertEqual(headers.get("Content-Type"), "application/json")
        doc = json.loads(body)
        self.assertEqual(doc["type"], "alert")
        self.assertIsInstance(doc["source"], str)
        self.assertIsInstance(doc["time"], int)
        expected = {k: v for k, v in ALERT.items() if k not in ("type", "not_listed")}
        self.assertEqual(doc["fields"], expected)

    def test_5xx_and_429_ask_for_a_retry(self):
        for status in ("/500", "/503", "/429"):
            out, results = self.deliver(status)
            self.assertEqual(results, ["retry"], status)
            self.assertEqual(out.counters().get("retries"), 1)

    def test_other_4xx_gives_up(self):
        out, results = self.deliver("/404", expect=1)
        self.assertEqual(results, ["error"])
        self.assertEqual(out.counters().get("failed"), 1)

    def test_no_connection_asks_for_a_retry(self):
        with socket.socket() as s:  # a port that was free a moment ago
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = self.check(config=self.config(url=f"http://127.0.0.1:{port}/"), events=[ALERT])
        self.assertEqual([d["result"] for d in out.of("deliver")], ["retry"])

    def test_a_slow_endpoint_times_out_and_asks_for_a_retry(self):
        _, results = self.deliver("/200/slow", timeout_ms=300)
        self.assertEqual(results, ["retry"])

    def test_fields_and_subscribe_choose_what_is_sent(self):
        drift = {"type": "drift", "model": {"name": "m", "version": 3}, "psi": [0.1, 0.25],
                 "flag": True}
        _, results = self.deliver("/204", events=[drift], subscribe=["drift"],
                                  fields=["model.version", "psi", "flag", "absent"])
        self.assertEqual(results, ["ok"])
        doc = json.loads(self.server.requests[0][2])
        self.assertEqual(doc["type"], "drift")
        self.assertEqual(doc["fields"], {"model.version": 3, "psi": [0.1, 0.25], "flag": True})

    def test_bad_configuration_is_refused(self):
        for conf in (self.config(url="ftp://example.invalid/"),
                     self.config(url=self.base, timeout_ms=0),
                     self.config(url=self.base, headers=["no colon"]),
                     self.config(url=self.base, fields=[""])):
            out = self.check(expect=1, config=conf)
            self.assertIn("bad_config", out.err)
