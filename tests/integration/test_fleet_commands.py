"""Commands fanned out to simulated agents (cairn-fleet) whose replies carry a
body: any command through the protocol's `fanout`, and `cairn plugins`,
`cairn deploy`, `cairn rollback` through the CLI."""
import hashlib
import json

from test_events import RawClient, new_ulid
from test_fanout import FanoutTest

SHA = hashlib.sha256(b"model v7").hexdigest()


class FleetCommandTest(FanoutTest):
    def setUp(self):
        super().setUp()
        self.raw = RawClient(self.coord.endpoint, timeout_ms=30000)

    def tearDown(self):
        self.raw.close()
        super().tearDown()

    def fanout(self, command, args=None, selector="", timeout_ms=5000, id_=None):
        return self.raw.call("fanout", {"selector": selector, "command": command,
                                        "args": args or {}, "timeout_ms": timeout_ms}, id_)

    def results(self, command, args=None, **kw):
        reply = self.fanout(command, args, **kw)
        self.assertTrue(reply.get("ok"), reply.get("error"))
        return reply["body"]["results"]

    def cli_results(self, *args, code=0):
        r = self.cli(*args, "--json", check=False)
        self.assertEqual(r.code, code, r.err)
        return json.loads(r.out)


class AnyCommand(FleetCommandTest):
    def test_replies_come_back_with_the_results(self):
        self.fleet(3, "--host-prefix", "gpu-")
        args = {"x": "1", "n": 5, "nested": {"a": [1, 2.5, None, True]}}
        results = self.results("echo", args)
        self.assertEqual([r["host"] for r in results], ["gpu-00000", "gpu-00001", "gpu-00002"])
        for r in results:
            self.assertEqual(list(r), ["agent", "host", "result", "rtt_ms", "reply"])
            self.assertEqual(r["result"], "ok")
            self.assertEqual(r["reply"], {"host": r["host"], "args": args})
        self.assertEqual([r["reply"] for r in self.results("ping")], [{}, {}, {}])

        unknown = self.results("no-such.cmd_2")  # '-', '.', '_' are all allowed
        for r in unknown:
            self.assertEqual(r["result"], "error")
            self.assertEqual(r["error"], "UNKNOWN_TYPE: unknown command 'no-such.cmd_2'")
            self.assertNotIn("reply", r)
        refused = self.fanout("Bad Command")
        self.assertEqual(refused["error"]["code"], "INVALID_PARAMETER_VALUE")

    def test_an_oversized_reply_is_not_passed_on(self):
        self.fleet(1)
        [r] = self.results("echo", {"pad": "x" * 70000})
        self.assertEqual(r["result"], "error")
        self.assertRegex(r["error"], r"^the reply of \d+ bytes exceeds the limit of 65536 bytes$")
        self.assertNotIn("reply", r)
        [small] = self.results("echo", {"pad": "x" * 60000})
        self.assertEqual(small["result"], "ok")
        self.assertEqual(len(small["reply"]["args"]["pad"]), 60000)

    def test_a_resend_gets_the_recorded_replies(self):
        self.fleet(2)
        id_ = new_ulid()
        first = self.fanout("echo", {"k": "v"}, id_=id_)["body"]["results"]
        again = self.fanout("echo", {"k": "v"}, id_=id_)["body"]["results"]
        self.assertEqual(again, first)
        self.assertEqual(again[0]["reply"]["args"], {"k": "v"})
        fanouts = [e for e in self.cli_json("events") if e["type"] == "fanout"]
        self.assertEqual(len(fanouts), 1)  # sent to the agents once


class Plugins(FleetCommandTest):
    def test_plugins_of_every_agent(self):
        self.fleet(2, "--host-prefix", "gpu-")
        self.fleet(1, "--host-prefix", "old-", "--refuse", "plugins")
        out = self.cli_results("plugins", code=1)
        self.assertEqual([r["host"] for r in out], ["gpu-00000", "gpu-00001", "old-00000"])
        ids = {a["host"]: a["id"] for a in self.agents()}
        for i, r in enumerate(out[:2]):
            self.assertEqual(list(r), ["agent", "host", "result", "plugins"])
            self.assertEqual(r["agent"], ids[r["host"]])
            self.assertEqual(r["result"], "ok")
            tracker, deployer = r["plugins"]
            self.assertEqual(list(tracker), ["name", "kind", "version", "state", "isolated",
                                             "restarts", "counters"])
            self.assertEqual(tracker["name"], "fleet-tracker")
            self.assertEqual(tracker["kind"], "tracker")
            self.assertEqual(tracker["state"], "running")
            self.assertIs(tracker["isolated"], False)
            self.assertEqual(tracker["counters"], {"events": i, "errors": 0})
            self.assertEqual(list(deployer)[6:], ["error", "counters"])
            self.assertEqual(deployer["state"], "restarting")
            self.assertEqual(deployer["restarts"], 2)
            self.assertEqual(deployer["error"], "exited with status 1")
        refused = out[2]
        self.assertEqual(list(refused), ["agent", "host", "result", "error", "plugins"])
        self.assertEqual(refused["result"], "error")
        self.assertEqual(refused["error"], "INVALID_STATE: 'plugins' refused (--refuse)")
        self.assertEqual(refused["plugins"], [])

        r = self.cli("plugins", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("1 of 3 agents did not answer ok", r.err)
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["HOST", "AGENT", "PLUGIN", "KIND", "VERSION", "STATE",
                                            "RESTARTS", "COUNTERS", "ERROR"])
        self.assertEqual(len(lines), 1 + 4 + 1)  # two plugins of two agents, one refusal
        self.assertIn("events=1 errors=0", lines[3])
        self.assertIn(ids["gpu-00001"][-8:], lines[3])
        self.assertRegex(lines[5], r"^old-00000 .* error .*INVALID_STATE")

        self.assertEqual(len(self.cli_results("plugins", "--selector", "host=gpu-*")), 2)


class Deploy(FleetCommandTest):
    def setUp(self):
        super().setUp()
        self.fleet(2, "--labels", "role=serving", "--host-prefix", "gpu-")
        self.cpu = self.fleet(1, "--labels", "role=training", "--host-prefix", "cpu-")

    def test_deploy_and_rollback_report_each_agents_reply(self):
        out = self.cli_results("deploy", "churn", "7", "--sha256", SHA.upper(), "--selector",
                               "role=serving")
        self.assertEqual([r["host"] for r in out], ["gpu-00000", "gpu-00001"])
        for r in out:
            self.assertEqual(list(r), ["agent", "host", "result", "rtt_ms", "reply"])
            self.assertEqual(r["result"], "ok")
            self.assertGreater(r["rtt_ms"], 0)
            self.assertEqual(r["reply"], {"model": "churn", "version": "7", "sha256": SHA,
                                          "path": "/srv/models/churn/7",
                                          "message": "deployed on " + r["host"]})
        table = self.cli("deploy", "churn", "7", "--sha256", SHA, "--selector", "role=serving")
        self.assertEqual(table.out.splitlines()[0].split(),
                         ["HOST", "AGENT", "RESULT", "RTT_MS", "DETAIL"])
        self.assertIn("path=/srv/models/churn/7 message=deployed on gpu-00001", table.out)

        back = self.cli_results("rollback", "churn", "--selector", "all")
        self.assertEqual(len(back), 3)
        self.assertEqual({r["reply"]["version"] for r in back}, {"previous"})
        summaries = [e["summary"] for e in self.cli_json("events") if e["type"] == "fanout"]
        self.assertEqual(summaries[0], 'command=deploy agents=2 ok=2 error=0 timeout=0 '
                                       'selector="role=serving"')
        self.assertTrue(summaries[-1].startswith("command=rollback agents=3 ok=3"))

    def test_a_refusing_deployer_fails_the_command(self):
        out = self.cli_results("deploy", "churn", "7", "--sha256", SHA, "--selector", "all",
                               "--deployer", "nope", code=1)
        for r in out:
            self.assertEqual(list(r), ["agent", "host", "result", "rtt_ms", "error"])
            self.assertEqual(r["error"], "RESOURCE_DOES_NOT_EXIST: no deployer 'nope' on this agent")
        r = self.cli("rollback", "churn", "--selector", "all", "--deployer", "nope", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("3 of 3 agents did not answer ok", r.err)
        self.assertIn("no deployer 'nope'", r.out)

    def test_a_silent_agent_times_out(self):
        self.cpu.pause()
        r = self.cli("deploy", "churn", "7", "--sha256", SHA, "--selector", "all",
                     "--timeout", "1s", "--json", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("1 of 3 agents did not answer ok", r.err)
        by_host = self.by_host(json.loads(r.out))
        self.assertEqual(by_host["cpu-00000"]["result"], "timeout")
        self.assertRegex(by_host["cpu-00000"]["error"], r"no reply within 1000 ms|agent is down")
        self.assertNotIn("reply", by_host["cpu-00000"])
        self.assertEqual(by_host["gpu-00000"]["result"], "ok")

    def test_no_agent_matches(self):
        r = self.cli("deploy", "churn", "7", "--sha256", SHA, "--selector", "role=none", "--json",
                     check=False)
        self.assertEqual(r.code, 1)
        self.assertEqual(json.loads(r.out), [])
        self.assertIn("no agent matches the selector 'role=none'", r.err)

    def test_usage_errors(self):
        cases = [
            ["deploy", "churn", "7", "--selector", "all"],  # no --sha256
            ["deploy", "churn", "7", "--sha256", SHA[:63], "--selector", "all"],
            ["deploy", "churn", "7", "--sha256", "g" * 64, "--selector", "all"],
            ["deploy", "churn", "--sha256", SHA, "--selector", "all"],
            ["deploy", "churn", "7", "--sha256", SHA],  # no --selector
            ["deploy", "churn", "7", "--sha256", SHA, "--selector", "all", "--timeout", "x"],
            ["rollback", "--selector", "all"],
            ["rollback", "churn"],
            ["plugins", "extra"],
        ]
        for args in cases:
            r = self.cli(*args, check=False)
            self.assertEqual(r.code, 2, args)
            self.assertIn("usage: cairn", r.err, args)
        self.assertEqual([e for e in self.cli_json("events") if e["type"] == "fanout"], [])
