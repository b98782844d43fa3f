"""Commands fanned out to simulated agents (cairn-fleet) whose replies carry a
body: any command through the protocol's `fanout`."""
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
