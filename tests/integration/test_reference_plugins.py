"""The plugins shipped in plugins/, run by real agents against a real
coordinator: a prediction log tailed into events, a threshold alerting on
them, a webhook delivering the alert to an HTTP server, and a model deployed
with the symlink deployer from a blob the coordinator stores, then rolled
back."""
import hashlib
import http.server
import json
import os
import threading
import time

from harness import BIN
from test_agent import Agent
from test_agent_plugins import PluginTest, plugin_conf

SHIPPED = os.path.abspath(os.path.join(os.path.dirname(BIN), "plugins"))


class Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class ShippedPlugins(PluginTest):
    def start_shipped(self, plugins, **settings):
        path = os.path.join(self.tmp, "agent.conf")
        with open(path, "w") as f:
            f.write(plugin_conf(plugins, **settings).replace(
                os.path.abspath(os.path.join(os.path.dirname(BIN), "tests", "plugins")), SHIPPED))
        self.agent = Agent(self.tmp, self.coord.endpoint, ["-c", path])
        return self.agent.start()

    def test_prediction_log_to_alert_to_webhook(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        Hook.received = []
        log = os.path.join(self.tmp, "predictions.jsonl")
        open(log, "w").close()
        self.start_shipped([
            ("predictions", "jsonl-tail.so", False, {"path": log, "poll_ms": 50}),
            ("slow", "threshold.so", False, {"event_type": "prediction", "field": "latency_ms",
                                             "above": 100.0, "consecutive": 3,
                                             "alert_name": "slow_predictions"}),
            ("pager", "webhook.so", True,
             {"url": f"http://127.0.0.1:{server.server_port}/hook", "timeout_ms": 2000}),
        ])
        with open(log, "a") as f:
            for i, latency in enumerate([20, 150, 160, 170, 30]):
                f.write(json.dumps({"model": "churn", "latency_ms": latency, "i": i}) + "\n")
            f.write("not json\n")
        predictions = self.wait_events("prediction", 5)
        self.assertEqual([e["fields"]["i"] for e in predictions], [0, 1, 2, 3, 4])
        self.assertTrue(all(e["source"] == "predictions" for e in predictions))
        alerts = self.wait_events("alert", 2)
        self.assertEqual([a["fields"]["state"] for a in alerts], ["firing", "resolved"])
        self.assertEqual(alerts[0]["fields"]["value"], 170.0)
        self.assertEqual(alerts[0]["source"], "slow")
        self.wait_until("the webhook's deliveries", lambda: len(Hook.received) >= 2)
        self.assertEqual(Hook.received[0]["type"], "alert")
        self.assertEqual(Hook.received[0]["fields"]["alert"], "slow_predictions")
        # The isolated webhook's counters come over with its next ping (1 s).
        plugins = self.wait_until(
            "counters", lambda: (lambda p: p if p["pager"]["counters"].get("sent") == 2 else None)(
                self.plugins()))
        self.assertEqual(plugins["predictions"]["counters"]["bad_lines"], 1)
        self.assertTrue(plugins["pager"]["isolated"])

    def test_symlink_deploys_a_stored_blob_and_rolls_back(self):
        root = os.path.join(self.tmp, "models")
        os.mkdir(root)
        run = self.start_run("deploy")
        shas = []
        for version in ("1", "2"):
            artifact = os.path.join(self.tmp, f"model-{version}.bin")
            data = os.urandom((6 << 20) + int(version))  # two chunks of blob.get
            with open(artifact, "wb") as f:
                f.write(data)
            shas.append(hashlib.sha256(data).hexdigest())
            self.cli("runs", "log", run, "--artifact", artifact)
        self.start_shipped([("models", "symlink.so", False, {"root": root})])
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))

        def deploy(version, sha):
            r = self.cli("deploy", "churn", version, "--sha256", sha, "--selector", "all",
                         "--json", check=False)
            return r.json(), r.code

        rows, code = deploy("1", shas[0])
        self.assertEqual(code, 0, rows)
        self.assertEqual(rows[0]["reply"]["version"], "1")
        current = os.path.join(root, "churn", "current")
        self.assertEqual(os.readlink(current), "versions/1")
        with open(os.path.join(current, "model"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), shas[0])
        rows, code = deploy("2", shas[1])
        self.assertEqual(code, 0, rows)
        self.assertEqual(os.readlink(current), "versions/2")
        # A hash the coordinator does not have: refused, nothing switched.
        rows, code = deploy("3", "f" * 64)
        self.assertEqual(code, 1)
        self.assertIn("RESOURCE_DOES_NOT_EXIST", rows[0]["error"])
        self.assertEqual(os.readlink(current), "versions/2")
        r = self.cli("rollback", "churn", "--selector", "all", "--json")
        self.assertEqual(r.json()[0]["result"], "ok")
        self.assertEqual(os.readlink(current), "versions/1")
        self.assertIn("event=fetched plugin=models", self.agent.log())
