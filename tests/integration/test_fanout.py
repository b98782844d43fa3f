"""Agents' presence and fan-out: simulated agents (cairn-fleet) against a real
coordinator, driven through the cairn CLI."""
import json
import os
import re
import select
import signal
import subprocess
import time

import unittest

from harness import BIN, TOOLS, CairnTest
from test_events import AGENT_A, RawClient, new_ulid, packb

HEARTBEAT_MS = 200


class Fleet:
    """A cairn-fleet process: COUNT simulated agents."""

    def __init__(self, endpoint, count, *args):
        self.proc = subprocess.Popen(
            [os.path.join(TOOLS, "cairn-fleet"), endpoint, str(count), *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout=30):
        """Waits for the "ready" line: every agent's hello was acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                line = self.proc.stdout.readline()
                if line.startswith("ready"):
                    return self
                if not line:
                    break
        raise RuntimeError("cairn-fleet not ready: " + self.stop_and_read())

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def kill(self):
        self.proc.send_signal(signal.SIGCONT)  # a stopped process must run to die
        self.proc.kill()
        self.proc.wait(10)

    def stop_and_read(self):
        if self.proc.poll() is None:
            self.kill()
        return self.proc.stderr.read()

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()


class FanoutTest(CairnTest):
    """A coordinator whose agents heartbeat every 200 ms (down after 600 ms)."""

    heartbeat_ms = HEARTBEAT_MS

    def setUp(self):
        super().setUp()
        self.restart_coordinator(f"agents: {{ heartbeat_ms = {self.heartbeat_ms}; }};\n")
        self.fleets = []

    def tearDown(self):
        for f in self.fleets:
            f.close()
        super().tearDown()

    def fleet(self, count, *args):
        f = Fleet(self.coord.endpoint, count, *args)
        self.fleets.append(f)
        return f.wait_ready()

    def agents(self):
        return self.cli_json("agents")

    def wait_for(self, what, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    def ping(self, selector, *args, check=False):
        r = self.cli("ping", "--selector", selector, *args, "--json", check=check)
        return r, (json.loads(r.out) if r.out.strip() else None)

    def by_host(self, results):
        return {r["host"]: r for r in results}


class Presence(FanoutTest):
    def test_agents_lists_simulated_agents_up(self):
        self.fleet(3, "--labels", "role=serving,model=churn", "--host-prefix", "gpu-")
        agents = self.agents()
        self.assertEqual([a["host"] for a in agents], ["gpu-00000", "gpu-00001", "gpu-00002"])
        for a in agents:
            self.assertEqual(list(a), ["id", "host", "labels", "version", "status", "last_seen",
                                       "spool_depth"])
            self.assertRegex(a["id"], r"^[0-9A-HJKMNP-TV-Z]{26}$")
            self.assertEqual(a["labels"], {"model": "churn", "role": "serving"})
            self.assertEqual(a["status"], "up")
            self.assertTrue(a["version"].startswith("cairn-fleet "))
            self.assertGreater(a["last_seen"], 1_600_000_000_000)
            self.assertEqual(a["spool_depth"], 0)
        table = self.cli("agents").out
        self.assertIn("STATUS", table.splitlines()[0])
        self.assertEqual(len(table.splitlines()), 4)
        self.assertIn("model=churn, role=serving", table)

    def test_silent_agents_go_down_and_come_back_up(self):
        fleet = self.fleet(2)
        fleet.pause()  # connected, but silent: no heartbeats
        self.wait_for("agents down", lambda: all(a["status"] == "down" for a in self.agents()))
        fleet.resume()  # the next heartbeat brings them back
        self.wait_for("agents up", lambda: all(a["status"] == "up" for a in self.agents()))
        log = self.coord.log()
        for a in self.agents():
            self.assertRegex(log, rf"event=agent_down id={a['id']} host=\"{a['host']}\"")
            self.assertGreaterEqual(len(re.findall(rf"event=agent_up id={a['id']}", log)), 2)

    def test_killed_agents_go_down(self):
        fleet = self.fleet(3)
        fleet.kill()
        self.wait_for("agents down", lambda: all(a["status"] == "down" for a in self.agents()))
        self.assertEqual(len(self.agents()), 3)  # known agents stay listed

    def test_agents_are_kept_across_a_restart(self):
        self.fleet(2, "--labels", "zone=a")
        before = {a["id"]: a for a in self.agents()}
        self.coord.stop()
        restarted = time.time() * 1000
        self.coord.start()
        after = {a["id"]: a for a in self.agents()}
        self.assertEqual(set(after), set(before))
        for a in after.values():
            self.assertEqual(a["labels"], {"zone": "a"})
            self.assertEqual(a["status"], "up")  # loaded up: given three intervals to speak
        # The fleet reconnects by itself and goes on heartbeating.
        self.wait_for("heartbeats after the restart",
                      lambda: all(a["last_seen"] > restarted for a in self.agents()))
        _, results = self.ping("all", check=True)
        self.assertEqual([r["result"] for r in results], ["ok", "ok"])

    def test_a_hello_for_another_id_is_refused(self):
        f = Fleet(self.coord.endpoint, 1, "--impostor", "1")
        self.fleets.append(f)
        f.proc.wait(30)
        self.assertEqual(f.proc.returncode, 1)
        err = f.proc.stderr.read()
        self.assertIn("hello refused", err)
        self.assertIn("routing id", err)
        self.assertEqual(self.agents(), [])


    def test_replies_no_fanout_waits_for_are_counted(self):
        # A reply from an agent routing id the coordinator has never seen is
        # dropped and counted, as one that answers no fan-out is.
        stranger = RawClient(self.coord.endpoint, "agent:" + AGENT_A)
        reply = packb({"v": 1, "id": new_ulid(), "type": "command", "ts": time.time_ns(),
                       "from": "agent", "re": new_ulid(), "ok": True, "body": {}})
        stranger.send_raw(reply)
        self.cli("ping")  # the reply was read before this request
        stranger.close()
        self.coord.stop()
        stats = [l for l in self.coord.log().splitlines() if "event=stats" in l]
        self.assertIn("late_replies=1", stats[-1])
        self.coord.start()


class PingAgents(FanoutTest):
    def setUp(self):
        super().setUp()
        self.gpu = self.fleet(3, "--labels", "role=serving,model=churn,env=prod",
                              "--host-prefix", "gpu-")
        self.cpu = self.fleet(2, "--labels", "role=training,env=dev", "--host-prefix", "cpu-")

    def test_ping_every_agent(self):
        r, results = self.ping("all")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual([x["host"] for x in results],
                         ["cpu-00000", "cpu-00001", "gpu-00000", "gpu-00001", "gpu-00002"])
        ids = {a["host"]: a["id"] for a in self.agents()}
        for x in results:
            self.assertEqual(list(x), ["agent", "host", "result", "rtt_ms", "error"])
            self.assertEqual(x["agent"], ids[x["host"]])
            self.assertEqual(x["result"], "ok")
            self.assertIsNone(x["error"])
            self.assertGreater(x["rtt_ms"], 0)
        _, star = self.ping("*", check=True)
        self.assertEqual(len(star), 5)
        human = self.cli("ping", "--selector", "all").out
        self.assertEqual(len(human.splitlines()), 6)
        self.assertIn("RTT_MS", human)

    def test_selector_filters_by_label_and_host_glob(self):
        cases = {
            "role=serving": ["gpu-00000", "gpu-00001", "gpu-00002"],
            "role=serving,model=churn": ["gpu-00000", "gpu-00001", "gpu-00002"],
            "host=cpu-*": ["cpu-00000", "cpu-00001"],
            "host=gpu-0000[12]": ["gpu-00001", "gpu-00002"],
            "env!=dev": ["gpu-00000", "gpu-00001", "gpu-00002"],
            "model!=churn": ["cpu-00000", "cpu-00001"],  # a missing label passes !=
            "role=*ing,host=?pu-00001": ["cpu-00001", "gpu-00001"],
        }
        for selector, hosts in cases.items():
            r, results = self.ping(selector)
            self.assertEqual(r.code, 0, f"{selector}: {r.err}")
            self.assertEqual([x["host"] for x in results], hosts, selector)

    def test_no_agent_matches(self):
        r, results = self.ping("role=batch")
        self.assertEqual(r.code, 1)
        self.assertEqual(results, [])
        self.assertIn("no agent matches the selector 'role=batch'", r.err)

    def test_bad_selector_is_refused_by_the_coordinator(self):
        for selector, words in [("role", "no '=' or '!='"), ("role=x,,env=y", "empty clause"),
                                ("ro le=x", "the key must be")]:
            r = self.cli("ping", "--selector", selector, check=False)
            self.assertEqual(r.code, 1, selector)
            self.assertIn(words, r.err)
            self.assertEqual(r.out, "")

    def test_a_silent_agent_times_out_the_others_answer(self):
        self.cpu.pause()
        r, results = self.ping("all", "--timeout", "1s")
        self.assertEqual(r.code, 1)
        self.assertIn("2 of 5 agents did not answer ok", r.err)
        by_host = self.by_host(results)
        for host in ("gpu-00000", "gpu-00001", "gpu-00002"):
            self.assertEqual(by_host[host]["result"], "ok")
        for host in ("cpu-00000", "cpu-00001"):
            self.assertEqual(by_host[host]["result"], "timeout")
            # Either the command went out and got no answer, or the agent was
            # already marked down (after 600 ms) and was not tried.
            self.assertRegex(by_host[host]["error"], r"no reply within 1000 ms|agent is down")

    def test_a_down_agent_is_reported_as_timeout_without_waiting(self):
        self.cpu.kill()
        self.wait_for("cpu agents down", lambda: all(
            a["status"] == "down" for a in self.agents() if a["host"].startswith("cpu-")))
        r, results = self.ping("all", "--timeout", "30s")
        self.assertEqual(r.code, 1)
        by_host = self.by_host(results)
        self.assertEqual(by_host["cpu-00000"]["result"], "timeout")
        self.assertEqual(by_host["cpu-00000"]["error"], "agent is down")
        self.assertEqual(by_host["gpu-00000"]["result"], "ok")
        self.assertIn("agent is down", self.cli("ping", "--selector", "all", check=False).out)

    def test_fanouts_are_in_the_audit_log(self):
        self.ping("role=serving", check=True)
        self.cpu.pause()
        self.ping("all", "--timeout", "500ms")
        events = [e for e in self.cli_json("events") if e["type"] == "fanout"]
        self.assertEqual(len(events), 2)
        self.assertEqual(events[0]["summary"],
                         'command=ping agents=3 ok=3 error=0 timeout=0 selector="role=serving"')
        self.assertRegex(events[1]["summary"],
                         r'^command=ping agents=5 ok=3 error=0 timeout=2 selector=""$')
        self.assertTrue(events[0]["from"].startswith("cli:"))
        # A selector too long for the summary is cut inside its quotes.
        long_selector = "role=" + "x" * 400
        self.ping(long_selector)
        summary = [e for e in self.cli_json("events") if e["type"] == "fanout"][-1]["summary"]
        self.assertLess(len(summary.encode()), 256)
        self.assertRegex(summary, r' selector="role=x+"$')

    def test_plain_ping_still_pings_the_coordinator(self):
        out = self.cli("ping").out
        self.assertIn("cairn-coordinator", out)
        self.assertIn("version", self.cli_json("ping"))
        r = self.cli("ping", "--timeout", "bogus", check=False)
        self.assertEqual(r.code, 2)


class NotConnected(FanoutTest):
    """Agents stay up for three minutes: a dead one is tried, and refused by ZeroMQ."""

    heartbeat_ms = 60000

    def test_an_agent_gone_but_not_yet_down_is_an_error(self):
        self.fleet(2, "--host-prefix", "a-")
        gone = self.fleet(1, "--host-prefix", "b-")
        gone.kill()

        def refused():
            r, results = self.ping("all", "--timeout", "2s")
            row = self.by_host(results)["b-00000"]
            return (r, results) if row["result"] == "error" else None

        r, results = self.wait_for("the ROUTER to drop the connection", refused)
        self.assertEqual(r.code, 1)
        by_host = self.by_host(results)
        self.assertEqual(by_host["b-00000"]["error"], "not connected")
        self.assertEqual([by_host[h]["result"] for h in ("a-00000", "a-00001")], ["ok", "ok"])
        statuses = {a["host"]: a["status"] for a in self.agents()}
        self.assertEqual(statuses["b-00000"], "up")


AGENT = os.path.join(BIN, "cairn-agent")


@unittest.skipUnless(os.path.exists(AGENT), "cairn-agent is not built")
class RealAgents(FanoutTest):
    """Three real cairn-agent processes against the coordinator."""

    def setUp(self):
        super().setUp()
        self.agents_procs = []
        for i in range(3):
            d = os.path.join(self.tmp, f"a{i}")
            os.makedirs(d)
            log = open(os.path.join(self.tmp, f"a{i}.log"), "w")
            self.agents_procs.append((subprocess.Popen(
                [AGENT, "--coordinator", self.coord.endpoint, "--data-dir", d,
                 "--sdk-endpoint", f"ipc://{d}/a.sock", "--label", "role=x", "--label", f"n={i}"],
                stdout=subprocess.DEVNULL, stderr=log), log))

    def tearDown(self):
        for proc, log in self.agents_procs:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(15)
            log.close()
        super().tearDown()

    def all_ok(self, selector):
        r, results = self.ping(selector, "--timeout", "2s")
        return results if r.code == 0 and results else None

    def wait_heartbeating(self):
        """Waits until every agent is up and has heartbeat since its hello, so
        the timing of the first heartbeat cannot flap the results."""
        start = time.time() * 1000
        self.wait_for("three agents", lambda: len(self.agents()) == 3)
        self.wait_for("heartbeats", lambda: all(
            a["status"] == "up" and a["last_seen"] > start + 2 * HEARTBEAT_MS
            for a in self.agents()), timeout=60)
        return self.wait_for("every agent to answer", lambda: self.all_ok("role=x"))

    def test_real_agents_register_and_answer_pings(self):
        results = self.wait_heartbeating()
        self.assertEqual(len(results), 3)
        agents = self.agents()
        self.assertEqual(sorted(a["labels"]["n"] for a in agents), ["0", "1", "2"])
        self.assertTrue(all(a["status"] == "up" for a in agents))
        self.assertEqual({r["agent"] for r in results}, {a["id"] for a in agents})
        _, some = self.ping("n!=1", check=True)
        self.assertEqual(sorted(self.labels_of(agents, r["agent"]) for r in some), ["0", "2"])

    def test_a_stopped_real_agent_times_out(self):
        self.wait_heartbeating()
        stopped = self.agents_procs[1][0]
        stopped.send_signal(signal.SIGSTOP)
        r, results = self.ping("role=x", "--timeout", "1s")
        self.assertEqual(r.code, 1)
        agents = self.agents()
        by_n = {self.labels_of(agents, x["agent"]): x for x in results}
        self.assertEqual(by_n["1"]["result"], "timeout")
        self.assertEqual([by_n["0"]["result"], by_n["2"]["result"]], ["ok", "ok"])

    @staticmethod
    def labels_of(agents, agent_id):
        return next(a["labels"]["n"] for a in agents if a["id"] == agent_id)
