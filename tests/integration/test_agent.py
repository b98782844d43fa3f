"""cairn-agent: the SDK writes to its local agent, which spools them durably and
forwards them to the coordinator, in order and exactly once, through coordinator
outages, agent crashes and refusals."""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

from harness import BIN, TOOLS, CairnTest, Daemon, valgrind
from registry_helpers import RegistryMixin
from test_events import RawClient, new_ulid


def load_value(i):
    # cairn-load's load_value(): sin(i) * 1000 + i / 7
    import math
    return math.sin(i) * 1000.0 + i / 7.0


class Agent(Daemon):
    """One cairn-agent process; restartable on the same data and endpoints."""
    name = "agent"
    listening = r"event=listening .*agent_id=(\S+)"

    def __init__(self, tmp, coordinator, extra_args=(), wrapper=(), name="agent"):
        super().__init__(os.path.join(tmp, f"{name}.log"), wrapper)
        self.data_dir = os.path.join(tmp, name)
        self.endpoint = f"ipc://{tmp}/{name}.sock"
        self.coordinator = coordinator
        self.extra_args = list(extra_args)

    def command(self, *extra):
        return [*self.wrapper, os.path.join(BIN, "cairn-agent"), "--data-dir", self.data_dir,
                "--sdk-endpoint", self.endpoint, "--coordinator", self.coordinator,
                *self.extra_args, *extra]

    def start(self, timeout=60):
        return super().start(timeout)

    def stop(self, timeout=60):
        return super().stop(timeout)

    def on_listening(self, m):
        self.agent_id = m.group(1)

    def rejected(self):
        r = subprocess.run([os.path.join(BIN, "cairn-agent"), "--data-dir", self.data_dir,
                            "--list-rejected"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        return r.stdout.splitlines()


class AgentTest(CairnTest):
    agent_args = ()

    def setUp(self):
        super().setUp()
        self.agent = Agent(self.tmp, self.coord.endpoint, self.agent_args).start()

    def tearDown(self):
        if self.agent.alive():
            code = self.agent.stop()
            self.assertEqual(code, 0, "agent did not exit cleanly:\n" + self.agent.log())
        super().tearDown()

    def conf(self, text, name="agent.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def via_agent(self, *args, check=True):
        return self.cli(*args, endpoint=self.agent.endpoint, check=check)

    def agent_run(self, experiment="agent"):
        return self.via_agent("runs", "start", "--experiment", experiment).out.strip()

    def wait_until(self, what, predicate, timeout=90):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}\nagent log:\n{self.agent.log()[-4000:]}")
            time.sleep(0.1)

    def history(self, run, key):
        r = self.cli("metrics", run, key, "--json", check=False)
        return r.json() if r.code == 0 else []

    def wait_points(self, run, key, count, timeout=120):
        self.wait_until(f"{count} points of {key}",
                        lambda: len(self.history(run, key)) >= count, timeout)
        return self.history(run, key)

    def events_of(self, type_):
        return [e for e in self.cli_json("events", "--max", "10000") if e["type"] == type_]


class ThroughTheAgent(AgentTest):
    def test_writes_arrive_in_order_exactly_once(self):
        run = self.agent_run("through")
        for i in range(0, 50, 5):
            self.via_agent("runs", "log", run, *[f"--metric=m={i + k}@{i + k}" for k in range(5)])
        self.via_agent("runs", "log", run, "--param", "lr=0.1", "--tag", "team=ml")
        artifact = os.path.join(self.tmp, "model.bin")
        with open(artifact, "wb") as f:
            f.write(os.urandom((2 << 20) + 12345))  # three chunks
        self.via_agent("runs", "log", run, "--artifact", artifact)
        self.via_agent("runs", "end", run, "--status", "FINISHED")

        self.wait_until("the run to end", lambda: self.cli(
            "runs", "show", run, "--json", check=False).code == 0 and self.cli_json(
            "runs", "show", run)["status"] == "FINISHED")
        shown = self.cli_json("runs", "show", run)
        self.assertEqual(shown["params"], {"lr": "0.1"})
        self.assertEqual(shown["tags"]["team"], "ml")
        with open(artifact, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(shown["artifacts"], [{"path": "model.bin", "size": (2 << 20) + 12345,
                                               "sha256": digest}])
        self.assertEqual([p["step"] for p in self.history(run, "m")], list(range(50)))
        # Exactly once: one audit entry per request sent through the agent.
        self.assertEqual(len(self.events_of("run.start")), 1)
        self.assertEqual(len(self.events_of("run.log")), 11)
        self.assertEqual(len(self.events_of("artifact.put")), 1)
        self.assertEqual(len(self.events_of("run.end")), 1)
        # The uploaded file is gone from the agent once the coordinator has it.
        self.wait_until("the upload to be cleaned", lambda: os.listdir(
            os.path.join(self.agent.data_dir, "uploads")) == [])

    def test_reads_are_relayed(self):
        run = self.agent_run("reads")
        self.via_agent("runs", "log", run, "--metric", "x=1.5@3")
        self.wait_points(run, "x", 1)
        self.assertEqual(self.via_agent("metrics", run, "x", "--json").json(),
                         self.cli_json("metrics", run, "x"))
        self.assertIn("cairn-coordinator", self.via_agent("ping").out)
        listed = self.via_agent("runs", "list", "--experiment", "reads", "--json").json()
        self.assertEqual([r["id"] for r in listed], [run])
        back = os.path.join(self.tmp, "none")
        r = self.via_agent("artifacts", "get", run, "missing.bin", "-o", back, check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("missing.bin", r.err)

    def test_agent_id_is_stable_across_restarts(self):
        with open(os.path.join(self.agent.data_dir, "agent_id")) as f:
            stored = f.read().strip()
        self.assertEqual(stored, self.agent.agent_id)
        self.assertRegex(stored, r"^[0-9A-HJKMNP-TV-Z]{26}$")
        first = self.agent.agent_id
        self.assertEqual(self.agent.stop(), 0)
        self.agent.start()
        self.assertEqual(self.agent.agent_id, first)

    def test_malformed_input_is_refused_and_counted(self):
        r = self.tool("garbage", self.agent.endpoint, 200, 11, check=False)
        self.assertIn("unanswered=0", r.stdout)
        self.assertTrue(self.agent.alive())
        self.assertEqual(self.agent.stop(), 0)
        stats = re.findall(r"event=stats .*", self.agent.log())[-1]
        self.assertNotRegex(stats, r"refused=0 ")

    def test_a_write_of_the_wrong_shape_is_refused_not_spooled(self):
        # Acknowledged means the coordinator can apply it: a write whose
        # fields have the wrong types is refused at once, not spooled and
        # rejected later where training code never hears of it.
        raw = RawClient(self.agent.endpoint)
        self.addCleanup(raw.close)
        run = new_ulid()
        raw.ok("run.start", {"run": run, "experiment": "shapes"})
        for body, says in (({"params": {"a": 1}}, "params must map strings to strings"),
                           ({"tags": ["x"]}, "'tags' must be a map"),
                           ({"metrics": [["m", "0.5", 1, 0]]}, "each metric must be"),
                           ({"metrics": [["m", 0.5, 1]]}, "each metric must be"),
                           ({"delete_tags": [1]}, "delete_tags must be an array of strings")):
            reply = raw.call("run.log", {"run": run, **body})
            self.assertEqual(reply["error"]["code"], "BAD_MESSAGE", body)
            self.assertIn(says, reply["error"]["message"])
        raw.ok("run.log", {"run": run, "metrics": [["m", 1, 2, 0]], "params": {"a": "1"}})
        self.assertEqual(self.agent.stop(), 0)
        self.assertEqual(self.agent.rejected(), [])

    def test_a_message_of_too_many_frames_is_answered(self):
        self.assertEqual(self.tool("frames", self.agent.endpoint, 2).stdout.strip(), "ok")
        r = self.tool("frames", self.agent.endpoint, 9)
        self.assertEqual(r.stdout.strip(), "error BAD_MESSAGE: a message of more than 7 frames")
        self.assertEqual(self.tool("nils", self.agent.endpoint, 4_000_000).stdout.strip(), "ok")

    def test_presence_and_commands(self):
        """hello carries the labels; a fan-out `ping` command is answered. Skipped
        while the coordinator does not implement agents yet."""
        self.agent.stop()
        self.agent.extra_args = ["--label", "role=train", "--label", "gpu=a100"]
        self.agent.start()
        listed = self.cli("agents", "--json", check=False)
        if listed.code != 0:
            self.skipTest("the coordinator does not list agents: " + listed.err.strip())
        self.wait_until("the agent to be listed", lambda: any(
            a["id"] == self.agent.agent_id for a in self.cli_json("agents")))
        me = [a for a in self.cli_json("agents") if a["id"] == self.agent.agent_id][0]
        self.assertEqual(me["labels"], {"role": "train", "gpu": "a100"})
        self.assertEqual(me["status"], "up")
        results = self.cli("ping", "--selector", "role=train", "--json").json()
        self.assertEqual([(r["agent"], r["result"]) for r in results],
                         [(self.agent.agent_id, "ok")])
        self.assertNotIn("event=presence_unsupported", self.agent.log())

    def test_a_short_coordinator_heartbeat_is_kept(self):
        """Any interval the coordinator may be configured with is followed:
        an agent keeping its own 5 s would be marked down 150 ms after each
        heartbeat."""
        self.agent.stop()
        self.restart_coordinator("agents: { heartbeat_ms = 50; };\n")
        self.agent.coordinator = self.coord.endpoint
        self.agent.start()
        self.wait_until("the agent to be listed", lambda: any(
            a["id"] == self.agent.agent_id for a in self.cli_json("agents")))
        time.sleep(1.5)
        me = [a for a in self.cli_json("agents") if a["id"] == self.agent.agent_id][0]
        self.assertEqual(me["status"], "up")
        self.assertNotIn("event=agent_down", self.coord.log())
        self.assertIn("event=heartbeat_interval heartbeat_ms=50", self.agent.log())

    def test_presence_without_coordinator_support_is_logged_once(self):
        run = self.agent_run("presence")
        self.via_agent("runs", "log", run, "--metric", "a=1@0")
        self.wait_points(run, "a", 1)
        self.coord.stop()
        self.coord.start()
        self.via_agent("runs", "log", run, "--metric", "a=2@1")
        self.wait_points(run, "a", 2)
        log = self.agent.log()
        self.assertLessEqual(log.count("event=presence_unsupported"), 1)
        self.assertIn("event=connected", log)
        self.assertIn("event=disconnected", log)


class Outages(AgentTest):
    def test_coordinator_outage_loses_nothing(self):
        run = self.agent_run("outage")
        self.via_agent("runs", "log", run, "--param", "p=1")
        self.wait_until("the run at the coordinator", lambda: self.cli(
            "runs", "show", run, check=False).code == 0)
        self.coord.stop()
        self.tool("points", self.agent.endpoint, run, 20000, 100, "loss")
        time.sleep(3)
        self.coord.start()
        history = self.wait_points(run, "loss", 20000)
        self.assertEqual([p["step"] for p in history], list(range(20000)))
        for i, p in enumerate(history):
            self.assertEqual(p["value"], load_value(i), f"point {i}")
        self.assertEqual(len(self.events_of("run.log")), 1 + 200)

    @unittest.skipIf("sanitize" in BIN, "the Python SDK loads the plain build's libcairn")
    def test_30s_coordinator_outage_while_the_sdk_logs_100k_points(self):
        """The SDK logs 100,000 points through the agent while the coordinator is
        stopped for 30 s; once it is back, every point arrives exactly once."""
        root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
        program = os.path.join(self.tmp, "log100k.py")
        with open(program, "w") as f:
            f.write("import cairn\n"
                    "run = cairn.start_run(experiment='outage30', run_name='sdk')\n"
                    "for i in range(100000):\n"
                    "    run.log_metric('loss', i / 7.0, step=i)\n"
                    "run.end()\n"
                    "print(run.id)\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update({"PYTHONPATH": os.path.join(root, "sdk", "python"),
                    "CAIRN_AGENT": self.agent.endpoint,
                    "CAIRN_LIBRARY": os.path.abspath(os.path.join(BIN, "..", "lib", "libcairn.so"))})
        self.coord.stop()
        stopped = time.monotonic()
        proc = subprocess.run([sys.executable, program], capture_output=True, text=True,
                              timeout=60, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)  # durable in the agent's spool
        run = proc.stdout.strip()
        time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
        self.coord.start()
        history = self.wait_points(run, "loss", 100000)
        self.assertEqual([p["step"] for p in history], list(range(100000)))
        self.assertEqual(self.cli_json("runs", "show", run)["status"], "FINISHED")

    def test_agent_kill9_loses_nothing_acknowledged(self):
        run = self.agent_run("kill9")
        acks = os.path.join(self.tmp, "acks")
        total = 3000
        stream = subprocess.Popen(
            [os.path.join(TOOLS, "cairn-load"), "stream", self.agent.endpoint, run, str(total),
             acks], stderr=subprocess.PIPE, text=True)
        for _ in range(2):
            self.wait_for_acks(acks, 300, timeout=60)
            self.agent.kill9()
            time.sleep(0.3)
            self.agent.start()
        _, err = stream.communicate(timeout=300)
        self.assertEqual(stream.returncode, 0, err)
        with open(acks) as f:
            acked = [int(line) for line in f]
        self.assertEqual(acked, list(range(total)))
        steps = [p["step"] for p in self.wait_points(run, "x", total)]
        self.assertEqual(sorted(steps), list(range(total)), "every acked point, exactly once")
        self.assertEqual(steps, list(range(total)), "in logging order")

    def test_coordinator_kill9_while_forwarding(self):
        run = self.agent_run("ckill")
        self.wait_until("the run at the coordinator", lambda: self.cli(
            "runs", "show", run, check=False).code == 0)
        load = subprocess.Popen([os.path.join(TOOLS, "cairn-load"), "points", self.agent.endpoint,
                                 run, "30000", "10", "v"], stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        self.coord.kill9()
        time.sleep(0.5)
        self.coord.start()
        _, err = load.communicate(timeout=300)
        self.assertEqual(load.returncode, 0, err)
        steps = [p["step"] for p in self.wait_points(run, "v", 30000, timeout=180)]
        self.assertEqual(steps, list(range(30000)))

    def test_artifact_spooled_while_the_coordinator_is_away(self):
        self.coord.stop()
        run = self.agent_run("artifact")
        artifact = os.path.join(self.tmp, "weights.bin")
        with open(artifact, "wb") as f:
            f.write(os.urandom((3 << 20) + 7))
        self.via_agent("runs", "log", run, "--metric", "a=1@0", "--artifact", artifact)
        self.via_agent("runs", "log", run, "--metric", "a=2@1")
        self.assertEqual(len(os.listdir(os.path.join(self.agent.data_dir, "uploads"))), 1)
        # A restart of the agent in between: the file and its entry survive it.
        self.assertEqual(self.agent.stop(), 0)
        self.agent.start()
        self.coord.start()
        self.assertEqual([p["step"] for p in self.wait_points(run, "a", 2)], [0, 1])
        with open(artifact, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.wait_until("the artifact", lambda: self.cli_json("runs", "show", run)["artifacts"])
        self.assertEqual(self.cli_json("runs", "show", run)["artifacts"],
                         [{"path": "weights.bin", "size": (3 << 20) + 7, "sha256": digest}])
        self.wait_until("the upload to be cleaned", lambda: os.listdir(
            os.path.join(self.agent.data_dir, "uploads")) == [])
        back = os.path.join(self.tmp, "back.bin")
        self.via_agent("artifacts", "get", run, "weights.bin", "-o", back)
        with open(back, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest)

    def test_a_spooled_artifact_damaged_on_disk_is_refused_not_stored(self):
        # The file waits in the agent's data directory; if its bytes change
        # there, the coordinator must not record them over what the path held.
        run = self.agent_run("damaged spool")
        artifact = os.path.join(self.tmp, "weights.bin")
        with open(artifact, "wb") as f:
            f.write(b"first version\n" * 1000)
        self.via_agent("runs", "log", run, "--artifact", artifact)
        self.wait_until("the first version", lambda: self.cli_json("runs", "show", run)["artifacts"])
        first = self.cli_json("runs", "show", run)["artifacts"]
        self.coord.stop()
        with open(artifact, "wb") as f:
            f.write(b"second version" * 100000)
        self.via_agent("runs", "log", run, "--artifact", artifact)
        uploads = os.path.join(self.agent.data_dir, "uploads")
        [spooled] = os.listdir(uploads)
        with open(os.path.join(uploads, spooled), "r+b") as f:  # same size, other bytes
            f.seek(70000)
            f.write(b"ROT")
        self.via_agent("runs", "log", run, "--metric", "after=1@0")
        self.coord.start()
        self.wait_points(run, "after", 1)
        self.assertEqual(self.cli_json("runs", "show", run)["artifacts"], first)
        rejected = self.agent.rejected()
        self.assertEqual(len(rejected), 1, rejected)
        self.assertIn("sha256", rejected[0])


class FreezingProxy:
    """A TCP relay in front of the coordinator whose connections can be frozen:
    left open but carrying nothing either way, as when the coordinator's host
    loses power or the network drops it. Connections made after a freeze pass."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.frozen = set()
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            pair = (client, upstream)
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            with self.lock:
                if pair in self.frozen:
                    continue  # swallowed: nothing comes back, nothing is refused
            try:
                dst.sendall(data)
            except OSError:
                break
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def freeze(self):
        with self.lock:
            for i in range(0, len(self.sockets), 2):
                self.frozen.add((self.sockets[i], self.sockets[i + 1]))

    def close(self):
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                sock.close()


class SilentCoordinator(AgentTest):
    """A connection to the coordinator that goes silent without closing is
    taken for dead after coordinator_silence_ms and made again."""

    def setUp(self):
        CairnTest.setUp(self)
        self.proxy = FreezingProxy(int(self.coord.endpoint.rsplit(":", 1)[1]))
        self.addCleanup(self.proxy.close)
        conf = self.conf("coordinator_silence_ms = 1000;\n")
        self.agent = Agent(self.tmp, f"tcp://127.0.0.1:{self.proxy.port}", ["-c", conf]).start()

    def connections(self):
        return self.agent.log().count("event=connected")

    def test_writes_and_reads_go_on_after_the_connection_goes_silent(self):
        before = self.agent_run("silent")
        self.wait_until("the first run at the coordinator",
                        lambda: self.cli("runs", "show", before, check=False).code == 0)
        connected = self.connections()
        self.proxy.freeze()
        after = self.agent_run("silent")
        self.wait_until("the run started after the freeze at the coordinator",
                        lambda: self.cli("runs", "show", after, check=False).code == 0,
                        timeout=20)
        self.assertGreater(self.connections(), connected)
        shown = json.loads(self.via_agent("runs", "show", after, "--json").out)
        self.assertEqual(shown["id"], after)

    def test_a_coordinator_never_reached_is_reported(self):
        self.agent.stop()
        closed = socket.create_server(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()  # nothing listens there now
        self.agent.coordinator = f"tcp://127.0.0.1:{port}"
        self.agent.start()
        run = self.agent_run("unreachable")  # still spooled and acknowledged
        self.assertTrue(run)
        self.wait_until("the not_connected warning",
                        lambda: "event=not_connected" in self.agent.log(), timeout=30)
        line = [l for l in self.agent.log().splitlines() if "event=not_connected" in l][-1]
        self.assertIn(f"coordinator=tcp://127.0.0.1:{port}", line)
        self.assertRegex(line, r"for_s=1\d depth=1\b")

    def test_zero_turns_it_off_and_a_tiny_value_is_refused(self):
        self.agent.stop()
        for value, ok in (("0", True), ("50", False)):
            self.agent.extra_args = ["-c", self.conf(f"coordinator_silence_ms = {value};\n")]
            if ok:
                self.agent.start()
                self.agent.stop()
                continue
            with self.assertRaises(RuntimeError) as e:
                self.agent.start()
            self.assertIn("coordinator_silence_ms must be 0 (off) or at least 100",
                          str(e.exception))
        self.agent.extra_args = []
        self.agent.start()


class FullSpool(AgentTest):
    def setUp(self):
        CairnTest.setUp(self)
        conf = self.conf("spool: { max_bytes = 4096; };\n")
        self.agent = Agent(self.tmp, self.coord.endpoint, ["-c", conf]).start()

    def test_backpressure_then_nothing_accepted_is_lost(self):
        self.coord.stop()
        run = self.agent_run("full")
        accepted, refusal = [], None
        for i in range(200):
            r = self.via_agent("runs", "log", run, "--metric", f"m={i}@{i}", check=False)
            if r.code != 0:
                refusal = r
                break
            accepted.append(i)
        self.assertIsNotNone(refusal, "the spool never filled")
        self.assertEqual(refusal.code, 1, refusal.err)
        self.assertIn("spool", refusal.err)
        self.assertIn("spool.max_bytes", refusal.err)
        self.assertGreater(len(accepted), 3)

        self.coord.start()
        steps = [p["step"] for p in self.wait_points(run, "m", len(accepted))]
        self.assertEqual(steps, accepted)
        self.wait_until("the spool to drain", lambda: self.via_agent(
            "runs", "log", run, "--metric", "m=-1@1000", check=False).code == 0)
        self.assertEqual(self.agent.stop(), 0)
        stats = re.findall(r"event=stats .*", self.agent.log())[-1]
        self.assertRegex(stats, r" backpressure=[1-9]")
        self.assertRegex(stats, r" depth=0 ")

    def test_an_artifact_larger_than_the_spool_is_refused_and_dropped(self):
        # It can never fit, however long the client waits: refused for what
        # it is, and its partial file dropped at once, not kept (counted
        # against the spool) until it expires 10 minutes later.
        run = self.agent_run("big")
        artifact = os.path.join(self.tmp, "big.bin")
        with open(artifact, "wb") as f:
            f.write(os.urandom(200_000))
        r = self.via_agent("runs", "log", run, "--artifact", artifact, check=False)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("artifact larger than the agent's spool (spool.max_bytes = 4096 bytes)",
                      r.err)
        self.assertEqual([f for f in os.listdir(os.path.join(self.agent.data_dir, "uploads"))
                          if f.endswith(".part")], [])
        # Refused after some of its chunks were taken: those are dropped too.
        self.agent.stop()
        self.agent.extra_args = ["-c", self.conf("spool: { max_bytes = 3000000; };\n")]
        self.agent.start()
        with open(artifact, "wb") as f:
            f.write(os.urandom(5_000_000))
        r = self.via_agent("runs", "log", run, "--artifact", artifact, check=False)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("(spool.max_bytes = 3000000 bytes)", r.err)
        self.assertEqual([f for f in os.listdir(os.path.join(self.agent.data_dir, "uploads"))
                          if f.endswith(".part")], [])
        self.via_agent("runs", "log", run, "--tag", "t=" + "x" * 7000)
        self.wait_until("the tag", lambda: self.cli_json("runs", "show", run)["tags"].get("t"))


def params_write(test, run, value):
    params = [f"--param=p{i}=" + value * 6000 for i in range(20)]  # 120 KB
    return test.via_agent("runs", "log", run, *params, check=False)


def spool_refusals_until_full(test, run):
    """Spools writes the coordinator will refuse (the run's params were set
    already) until the agent refuses one; returns how many it took and the
    agent's refusal."""
    for taken in range(400):
        r = params_write(test, run, chr(ord("b") + taken % 20))
        if r.code != 0:
            test.assertEqual(r.code, 1, r.err)
            test.assertGreater(taken, 50)
            return taken, r
    test.fail("the spool never filled")


class FullMap(AgentTest):
    """The spool's LMDB map, not spool.max_bytes, runs out first."""

    def setUp(self):
        CairnTest.setUp(self)
        conf = self.conf("spool: { map_size_mb = 16; max_bytes = 1073741824; "
                         "max_rejected_mb = 8; };\nstats_interval_s = 1;\n")
        self.agent = Agent(self.tmp, self.coord.endpoint, ["-c", conf]).start()

    def test_refusals_out_of_a_full_map_are_kept_and_the_spool_drains(self):
        # Moving a refused write to the rejected list needs room before the
        # entry's own pages are freed, and even deletes need a few pages:
        # neither may fail for good, nor forget what was refused.
        run = self.agent_run("fullmap")
        self.coord.stop()
        self.assertEqual(params_write(self, run, "a").code, 0)
        refused, full = spool_refusals_until_full(self, run)
        self.assertIn("spool.map_size_mb", full.err)
        self.coord.start()
        self.wait_until("the spool to drain", lambda: self.via_agent(
            "runs", "log", run, "--metric", "after=1@0", check=False).code == 0)
        self.wait_points(run, "after", 1)
        self.assertEqual(self.cli_json("runs", "show", run)["params"]["p0"], "a" * 6000)
        # A full map's worth of refusals is more than the list keeps (half the
        # map): the oldest went, each counted and logged.
        def pruned():
            return sum(int(n) for n in re.findall(r"event=rejected_pruned count=(\d+)",
                                                  self.agent.log()))
        self.wait_until("every refusal in the rejected list or pruned",
                        lambda: len(self.agent.rejected()) + pruned() == refused)
        self.assertGreater(pruned(), 0)
        kept = re.findall(r"event=rejected_pruned .* kept_bytes=(\d+)", self.agent.log())
        self.assertLessEqual(int(kept[-1]), 8 << 20)
        self.assertEqual(self.agent.stop(), 0)
        stats = re.findall(r"event=stats .*", self.agent.log())[-1]
        self.assertIn(f" rejected={refused} ", stats)
        self.assertIn(" depth=0 ", stats)


def can_mount_tmpfs(where):
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    os.makedirs(where, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", where],
                      capture_output=True).returncode != 0:
        return False
    subprocess.run(["umount", where], check=True)
    return True


class FullDisk(AgentTest):
    """The agent's data directory on a small file system that fills up."""

    def setUp(self):
        CairnTest.setUp(self)
        data_dir = os.path.join(self.tmp, "agent")
        if not can_mount_tmpfs(data_dir):
            self.skipTest("needs root and a tmpfs mount")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", data_dir], check=True)
        self.mounted = data_dir
        conf = self.conf("spool: { map_size_mb = 64; max_bytes = 1073741824; "
                         "max_rejected_mb = 32; };\nstats_interval_s = 1;\n")
        self.agent = Agent(self.tmp, self.coord.endpoint, ["-c", conf]).start()

    def tearDown(self):
        if getattr(self, "agent", None) and self.agent.alive():
            self.assertEqual(self.agent.stop(), 0, self.agent.log())
        if getattr(self, "mounted", None):
            subprocess.run(["umount", self.mounted], check=True)
        CairnTest.tearDown(self)

    def test_refusals_wait_for_room_and_nothing_is_lost(self):
        run = self.agent_run("fulldisk")
        self.assertEqual(params_write(self, run, "a").code, 0)
        self.wait_until("the first params", lambda: self.cli_json(
            "runs", "show", run)["params"].get("p0"))
        filler = os.path.join(self.mounted, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (4 << 20))
        self.coord.stop()
        refused, full = spool_refusals_until_full(self, run)
        self.assertIn("No space left on device", full.err)
        # Every entry is a refusal, and moving one needs room for its copy:
        # the round fails, is forgotten, and is tried again after a backoff.
        self.coord.start()
        self.wait_until("a failed spool update", lambda: "event=spool_update_failed"
                        in self.agent.log())
        self.wait_until("a retry", lambda: "reason=spool_update_failed" in self.agent.log())
        os.unlink(filler)
        self.wait_until("every refusal in the rejected list",
                        lambda: len(self.agent.rejected()) == refused)
        self.via_agent("runs", "log", run, "--metric", "after=1@0")
        self.wait_points(run, "after", 1)
        self.assertEqual(self.agent.stop(), 0)
        stats = re.findall(r"event=stats .*", self.agent.log())[-1]
        self.assertIn(f" rejected={refused} ", stats)
        self.assertIn(" depth=0 ", stats)


class Refusals(AgentTest):
    def test_refused_write_goes_to_rejected_list_and_the_rest_arrives(self):
        run = self.agent_run("refused")
        self.via_agent("runs", "log", run, "--param", "p=1")
        self.via_agent("runs", "log", run, "--param", "p=2")  # accepted by the agent
        self.via_agent("runs", "log", run, "--metric", "after=1@0")
        self.wait_points(run, "after", 1)
        self.assertEqual(self.cli_json("runs", "show", run)["params"], {"p": "1"})
        self.wait_until("the rejection log line",
                        lambda: "event=spool_rejected" in self.agent.log())
        line = [l for l in self.agent.log().splitlines() if "event=spool_rejected" in l][0]
        self.assertIn("code=INVALID_PARAMETER_VALUE", line)
        self.assertIn("type=run.log", line)
        rejected = self.agent.rejected()
        self.assertEqual(len(rejected), 1, rejected)
        self.assertIn("code=INVALID_PARAMETER_VALUE", rejected[0])
        self.assertIn("immutable", rejected[0])
        self.assertEqual(self.agent.stop(), 0)
        stats = re.findall(r"event=stats .*", self.agent.log())[-1]
        self.assertIn("rejected=1 ", stats)
        self.assertIn("depth=0 ", stats)

    def test_the_rejected_list_keeps_the_newest(self):
        self.agent.stop()
        self.agent.extra_args = ["-c", self.conf("spool: { max_rejected = 2; };\n")]
        self.agent.start()
        run = self.agent_run("pruned")
        self.via_agent("runs", "log", run, "--param", "p=0")
        for i in range(1, 5):  # four refusals: a param cannot change
            self.via_agent("runs", "log", run, "--param", f"p={i}")
        self.via_agent("runs", "log", run, "--metric", "after=1@0")
        self.wait_points(run, "after", 1)
        self.wait_until("the pruning", lambda: "event=rejected_pruned" in self.agent.log())
        rejected = self.agent.rejected()
        self.assertEqual(len(rejected), 2, rejected)
        self.assertIn("(got '3')", rejected[0])  # the two newest
        self.assertIn("(got '4')", rejected[1])

    def test_the_rejected_list_keeps_within_its_bytes(self):
        # Refused entries are copies kept in the spool's own map: counted by
        # entries alone, large refusals filled it and every write after them
        # got BACKPRESSURE, for ever. By default they keep to a quarter of it.
        self.agent.stop()
        self.agent.extra_args = ["-c", self.conf("spool: { map_size_mb = 16; };\n")]
        self.agent.start()
        run = self.agent_run("big refusals")

        def params(ch):  # 50 params of 6,000 bytes: a 300 KB write
            return sum((["--param", f"p{i}=" + ch * 6000] for i in range(50)), [])
        self.via_agent("runs", "log", run, *params("a"))
        for ch in "bcdefghijklmnopq":  # 16 refusals, 4.8 MB: a param cannot change
            self.via_agent("runs", "log", run, *params(ch))
        self.via_agent("runs", "log", run, "--metric", "after=1@0")
        self.wait_points(run, "after", 1)

        def kept_bytes():
            return [int(k) for k in re.findall(r"event=rejected_pruned .* kept_bytes=(\d+)",
                                                self.agent.log())]
        self.wait_until("the pruning", kept_bytes)
        self.assertTrue(all(k <= 4 << 20 for k in kept_bytes()), kept_bytes())
        rejected = self.agent.rejected()
        self.assertIn(len(rejected), range(10, 16), rejected)
        self.assertIn("(got 'qqq", rejected[-1])  # the newest are kept
        # max_rejected_mb sets the bound; the list is measured again at start.
        self.assertEqual(self.agent.stop(), 0)
        self.agent.extra_args = ["-c", self.conf(
            "spool: { map_size_mb = 16; max_rejected_mb = 1; };\n")]
        self.agent.start()
        self.via_agent("runs", "log", run, *params("r"))
        self.via_agent("runs", "log", run, "--metric", "after=2@1")
        self.wait_points(run, "after", 2)
        self.wait_until("the pruning to 1 MiB", lambda: kept_bytes()[-1] <= 1 << 20)
        rejected = self.agent.rejected()
        self.assertEqual(len(rejected), 3, rejected)
        self.assertIn("(got 'rrr", rejected[-1])
        # One refusal over the bound alone is still kept: the list keeps the newest.
        big = sum((["--param", f"p{i}=" + "s" * 6000] for i in range(200)), [])  # 1.2 MB
        self.via_agent("runs", "log", run, *big)
        self.via_agent("runs", "log", run, "--metric", "after=3@2")
        self.wait_points(run, "after", 3)
        self.wait_until("the big one alone", lambda: len(self.agent.rejected()) == 1)
        self.assertIn("(got 'sss", self.agent.rejected()[0])

    def test_a_rejected_list_over_half_the_map_is_refused(self):
        conf = self.conf("spool: { map_size_mb = 16; max_rejected_mb = 9; };\n", name="bad.conf")
        r = subprocess.run([os.path.join(BIN, "cairn-agent"), "-c", conf, "--data-dir",
                            os.path.join(self.tmp, "other")], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("spool.max_rejected_mb must be at most half of spool.map_size_mb", r.stderr)

    def test_a_write_larger_than_the_whole_spool_is_refused_as_too_large(self):
        # BACKPRESSURE says "retry": for a write no drained spool can hold,
        # that had the client retry it for ever.
        self.agent.stop()
        self.agent.extra_args = ["-c", self.conf('log_level = "debug";\n'
                                                 "spool: { max_bytes = 100000; };\n")]
        self.agent.start()
        run = self.agent_run("too large")
        params = sum((["--param", f"p{i}=" + "x" * 6000] for i in range(20)), [])  # 120 KB
        r = self.via_agent("runs", "log", run, *params, check=False)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("larger than the agent's whole spool (spool.max_bytes = 100000)", r.err)
        self.assertIn("type=run.log code=MESSAGE_TOO_LARGE", self.agent.log())  # sdk_refused
        self.via_agent("runs", "log", run, *params[:10])  # 30 KB fits
        self.wait_until("the smaller write", lambda: len(
            self.cli_json("runs", "show", run)["params"]) == 5)

    def small_coordinator(self):
        """The coordinator again, taking messages of at most 64 KiB."""
        self.restart_coordinator("limits: { max_message_bytes = 65536; };\n")

    def big_write(self, run):
        params = [f"p{i}=" + "x" * 6000 for i in range(12)]  # 72 KB
        return self.via_agent("runs", "log", run, *sum((["--param", p] for p in params), []),
                              check=False)

    def test_a_restarted_agent_learns_the_limit_before_it_forwards(self):
        # A fresh agent knows no limit: it must wait for the hello's answer
        # before handing the spool over, or the big write goes out first, is
        # answered without an id (the coordinator could not read one), and is
        # sent again every few seconds, for ever.
        run = self.agent_run("limits")
        self.coord.stop()
        self.assertEqual(self.big_write(run).code, 0)
        self.via_agent("runs", "log", run, "--metric", "after=1@0")
        self.assertEqual(self.agent.stop(), 0)
        self.agent.start()
        self.small_coordinator()
        self.wait_points(run, "after", 1)
        rejected = self.agent.rejected()
        self.assertEqual(len(rejected), 1, rejected)
        self.assertIn("limits.max_message_bytes (65536)", rejected[0])
        self.assertNotIn("event=resend", self.agent.log())

    def test_a_write_over_the_coordinators_limit_never_stalls_the_spool(self):
        run = self.agent_run("limits")
        self.coord.stop()
        big = self.big_write(run)  # the limit is unknown: spooled
        self.assertEqual(big.code, 0, big.err)
        self.via_agent("runs", "log", run, "--metric", "after=1@0")
        self.small_coordinator()
        self.wait_points(run, "after", 1)  # not stuck behind the big one
        self.wait_until("the rejection", lambda: "code=MESSAGE_TOO_LARGE" in self.agent.log())
        rejected = self.agent.rejected()
        self.assertEqual(len(rejected), 1, rejected)
        self.assertIn("limits.max_message_bytes (65536)", rejected[0])
        # Now the agent knows the limit: the same write is refused at once.
        refused = self.big_write(run)
        self.assertEqual(refused.code, 1)
        self.assertIn("over the coordinator's limits.max_message_bytes (65536)", refused.err)
        # Artifacts go in chunks that fit under it.
        artifact = os.path.join(self.tmp, "a.bin")
        with open(artifact, "wb") as f:
            f.write(os.urandom(300_000))
        self.via_agent("runs", "log", run, "--artifact", artifact)
        self.wait_until("the artifact", lambda: self.cli_json("runs", "show", run)["artifacts"])
        back = os.path.join(self.tmp, "back.bin")
        self.cli("artifacts", "get", run, "a.bin", "-o", back)
        with open(artifact, "rb") as a, open(back, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_read_times_out_when_the_coordinator_is_away(self):
        self.agent.stop()
        conf = self.conf("relay_timeout_ms = 500;\n")
        self.agent.extra_args = ["-c", conf]
        self.agent.start()
        self.coord.stop()
        r = self.cli("--timeout", "5s", "ping", endpoint=self.agent.endpoint, check=False)
        self.assertNotEqual(r.code, 0)
        self.assertIn("did not answer within 500 ms", r.err)
        self.coord.start()


class RegistryThroughTheAgent(RegistryMixin, AgentTest):
    def test_a_registry_change_is_not_sent_while_the_coordinator_is_away(self):
        # Registry changes are relayed, not spooled. One answered TIMEOUT while
        # the coordinator was down used to wait in the relay's queue and be
        # applied when it came back: the caller was told one thing, the
        # registry did another. It is now refused at once, and never applied.
        self.register()
        self.register()
        self.cli("models", "alias", "churn", "champion", "1")
        self.coord.stop()
        r = self.cli("--timeout", "5s", "models", "alias", "churn", "champion", "2",
                     endpoint=self.agent.endpoint, check=False)
        self.assertNotEqual(r.code, 0)
        self.assertIn("not connected: the change was not sent", r.err)
        self.coord.start()
        self.wait_until("the agent to reconnect",
                        lambda: self.cli("ping", endpoint=self.agent.endpoint,
                                         check=False).code == 0)
        time.sleep(1)
        self.assertEqual(self.cli_json("models", "version", "churn@champion")["version"], 1)
        # Connected, a change goes through the agent as before.
        self.via_agent("models", "alias", "churn", "champion", "2")
        self.assertEqual(self.cli_json("models", "version", "churn@champion")["version"], 2)


class Daemon(AgentTest):
    def _run(self, *args):
        return subprocess.run([os.path.join(BIN, "cairn-agent"), *args], capture_output=True,
                              text=True, timeout=20)

    def test_sdk_socket_mode(self):
        self.agent.stop()
        path = self.agent.endpoint[len("ipc://"):]
        self.agent.extra_args = ["-c", self.conf('sdk_socket_mode = "0660";\n')]
        self.agent.start()
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o660)
        self.agent.stop()
        self.agent.extra_args = ["-c", self.conf('sdk_socket_mode = "0999";\n')]
        with self.assertRaises(RuntimeError) as e:
            self.agent.start()
        self.assertIn("sdk_socket_mode must be octal permissions", str(e.exception))
        self.agent.extra_args = []
        self.agent.start()

    def test_unknown_setting_is_refused(self):
        r = self._run("-c", self.conf("spool: { max_byte = 10; };\n", "bad.conf"))
        self.assertEqual(r.returncode, 78)  # EX_CONFIG: systemd does not restart it
        self.assertIn("unknown setting 'spool.max_byte'", r.stderr)

    def test_bad_values_are_refused(self):
        r = self._run("-c", self.conf('coordinator = 5;\n', "bad.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("'coordinator' must be a string", r.stderr)
        r = self._run("-c", self.conf("heartbeat_ms = 1;\n", "bad.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("heartbeat_ms", r.stderr)
        r = self._run("--label", "host=x", "--data-dir", os.path.join(self.tmp, "x"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("label key 'host'", r.stderr)
        r = self._run("-c", self.conf("labels: { role = 1; };\n", "bad.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("must be a string", r.stderr)

    def test_a_label_value_the_coordinator_would_refuse_is_a_config_error(self):
        """A control character or bad UTF-8 in a label value would get every
        hello refused: the agent would run unlisted and out of every fan-out."""
        where = ["--data-dir", os.path.join(self.tmp, "x"), "--sdk-endpoint",
                 f"ipc://{self.tmp}/x.sock", "--coordinator", self.coord.endpoint]
        r = self._run("-c", self.conf('labels: { zone = "a\\tb"; };\n', "bad.conf"), *where)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("event=bad_config", r.stderr)
        self.assertIn("bad.conf:1: label 'zone'", r.stderr)
        self.assertIn("control characters", r.stderr)
        r = subprocess.run([os.path.join(BIN, "cairn-agent"), "--label", b"zone=\xff", *where],
                           capture_output=True, text=True, timeout=20, errors="replace")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("not valid UTF-8", r.stderr)

    def test_a_number_beyond_32_bits_without_l_is_refused_not_wrapped(self):
        """libconfig reads 5000000000 as 705032704 unless it is written
        5000000000L: a 5 GB spool would silently be a 672 MiB one."""
        where = ["--data-dir", os.path.join(self.tmp, "x"), "--sdk-endpoint",
                 f"ipc://{self.tmp}/x.sock", "--coordinator", self.coord.endpoint]
        for text, message in [
                ("spool: { max_bytes = 5000000000; };\n",
                 "bad.conf:1: 'spool.max_bytes' is beyond 32 bits: write it with an L suffix"),
                ("heartbeat_ms = 4294972296;\n", "'heartbeat_ms' is beyond 32 bits"),
                ("plugins: { watchdog_ms = 4294977296; };\n", "watchdog_ms 100-3600000")]:
            with self.subTest(text=text):
                r = self._run("-c", self.conf(text, "bad.conf"), *where)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn("event=bad_config", r.stderr)
                self.assertIn(message, r.stderr)
        self.agent.stop()
        self.agent.extra_args = ["-c", self.conf("spool: { max_bytes = 5000000000L; };\n")]
        self.agent.start()
        self.via_agent("ping")

    def test_a_known_setting_of_the_wrong_kind_is_not_called_unknown(self):
        r = self._run("-c", self.conf("labels = 5;\n", "bad.conf"))
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("bad.conf:1: 'labels' must be a group", r.stderr)
        self.assertNotIn("unknown setting", r.stderr)
        r = self._run("-c", self.conf("heartbeat_ms: { ms = 5; };\n", "bad.conf"))
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("bad.conf:1: 'heartbeat_ms' must be an integer", r.stderr)
        r = self._run("-c", self.conf("spool: { max_bytes: { x = 1; }; };\n", "bad.conf"))
        self.assertIn("bad.conf:1: 'spool.max_bytes' must be an integer", r.stderr)
        r = self._run("-c", self.conf("coordinator: { x = 1; };\n", "bad.conf"))
        self.assertIn("bad.conf:1: 'coordinator' must be a string", r.stderr)

    def test_syntax_error_names_the_line(self):
        r = self._run("-c", self.conf('coordinator = "x"\nspool: {\n', "bad.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bad.conf:", r.stderr)

    def test_sighup_is_logged_and_ignored(self):
        self.agent.proc.send_signal(signal.SIGHUP)
        run = self.agent_run("hup")
        self.assertTrue(self.agent.alive())
        self.assertEqual(self.agent.stop(), 0)
        self.assertIn("event=signal_ignored signal=HUP", self.agent.log())
        self.assertTrue(run)

    def test_a_second_agent_on_the_same_sdk_socket_is_refused(self):
        other = Agent(self.tmp, self.coord.endpoint, name="other")
        other.endpoint = self.agent.endpoint
        with self.assertRaisesRegex(RuntimeError, "another process is serving that socket"):
            other.start()
        self.via_agent("ping")  # the first agent still has its socket

    def test_second_agent_on_the_same_data_dir_is_refused(self):
        r = self._run("--data-dir", self.agent.data_dir, "--sdk-endpoint",
                      f"ipc://{self.tmp}/other.sock", "--coordinator", self.coord.endpoint)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another cairn-agent", r.stderr)

    def test_shipped_config_is_valid(self):
        here = os.path.dirname(os.path.abspath(__file__))
        conf = os.path.join(here, "..", "..", "conf", "agent.conf")
        self.agent.stop()
        self.agent.extra_args = ["-c", conf, "--label", "role=test"]
        self.agent.start()
        run = self.agent_run("shipped")
        self.via_agent("runs", "log", run, "--metric", "a=1@0")
        self.wait_points(run, "a", 1)

    def test_ipc_directory_is_created(self):
        self.agent.stop()
        self.agent.endpoint = f"ipc://{self.tmp}/made/here/agent.sock"
        self.agent.start()
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "made", "here", "agent.sock")))
        self.via_agent("ping")

    def test_sigterm_exits_cleanly_with_logs(self):
        run = self.agent_run("term")
        self.via_agent("runs", "log", run, "--metric", "a=1@0")
        self.wait_points(run, "a", 1)
        self.assertEqual(self.agent.stop(), 0)
        log = self.agent.log()
        for event in ("event=listening", "event=connected", "event=stopping", "event=stats",
                      "event=stopped"):
            self.assertIn(event, log)
        self.assertRegex(log, r"event=listening sdk_endpoint=ipc://\S+ coordinator=tcp://\S+ "
                              r"agent_id=[0-9A-Z]{26}")
        self.assertRegex(log, r"event=stats spooled=2 forwarded=2 rejected=0 depth=0 bytes=0")
        for line in log.splitlines():
            self.assertRegex(line, r"^ts=\S+ level=\w+ event=\w+")

    def test_sigterm_with_the_coordinator_away_keeps_the_spool(self):
        self.coord.stop()
        run = self.agent_run("kept")
        self.via_agent("runs", "log", run, "--metric", "a=1@0")
        started = time.monotonic()
        self.assertEqual(self.agent.stop(), 0)
        self.assertLess(time.monotonic() - started, 10)
        self.assertRegex(self.agent.log(), r"event=stats .*depth=2 ")
        self.coord.start()
        self.agent.start()
        self.assertEqual([p["step"] for p in self.wait_points(run, "a", 1)], [0])


@unittest.skipIf("sanitize" in BIN, "valgrind cannot run AddressSanitizer builds")
@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class Valgrind(AgentTest):
    def setUp(self):
        CairnTest.setUp(self)
        self.valgrind_log = os.path.join(self.tmp, "valgrind.log")
        conf = self.conf("spool: { map_size_mb = 64; };\nstats_interval_s = 1;\n")
        self.agent = Agent(self.tmp, self.coord.endpoint, ["-c", conf],
                           wrapper=valgrind(self.valgrind_log)).start()

    def test_agent_shutdown_is_clean(self):
        run = self.agent_run("vg")
        artifact = os.path.join(self.tmp, "a.bin")
        with open(artifact, "wb") as f:
            f.write(os.urandom((1 << 20) + 100))
        self.via_agent("runs", "log", run, "--param", "p=1", "--metric", "m=0.5@1",
                       "--artifact", artifact)
        self.via_agent("runs", "log", run, "--param", "p=2")  # refused by the coordinator
        self.wait_points(run, "m", 1)
        self.via_agent("metrics", run, "m")
        self.via_agent("runs", "show", run)
        self.tool("garbage", self.agent.endpoint, 40, 3, check=False)
        self.coord.stop()
        self.via_agent("runs", "log", run, "--metric", "m=0.7@2")  # spooled while away
        self.coord.start()
        self.wait_points(run, "m", 2)
        self.via_agent("runs", "end", run)
        self.assert_valgrind_clean(self.agent.stop(timeout=120), self.valgrind_log)


if __name__ == "__main__":
    unittest.main()
