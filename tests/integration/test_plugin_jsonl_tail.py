"""jsonl-tail follows a JSON-lines file through cairn-plugin-check: lines become
events, bad lines are counted, rotation is followed, the position survives a
restart."""
import json
import os
import time

from test_plugin_harness import PluginCheckTest

POLL_MS = 20
SETTLE = 0.5  # seconds: many polls, so the plugin has seen what the test wrote


class JsonlTail(PluginCheckTest):
    PLUGIN = "jsonl-tail"

    def setUp(self):
        super().setUp()
        self.log = self.path("predictions.jsonl")
        self.state = self.path("state")
        os.mkdir(self.state)

    def write(self, text, path=None, mode="a"):
        with open(path or self.log, mode) as f:
            f.write(text)

    def lines(self, *records):
        return "".join(json.dumps(r) + "\n" for r in records)

    def run_tail(self, run_for=300, **config):
        conf = self.config(path=self.log, poll_ms=POLL_MS, **config)
        return self.check(config=conf, state_dir=self.state, run_for=run_for)

    def follow(self, run_for=3000, wait_for="following", **config):
        """Starts following in the background; returns once the plugin has
        opened the file (or, with wait_for="waiting", found none) and read it."""
        conf = self.config(path=self.log, poll_ms=POLL_MS, **config)
        running = self.start(config=conf, state_dir=self.state, run_for=run_for)
        running.wait_log(wait_for)
        time.sleep(SETTLE)
        return running

    def test_each_line_becomes_an_event_of_its_fields(self):
        self.write(self.lines({"model": "m", "latency_ms": 12, "score": 0.5, "ok": True},
                              {"model": "m", "latency_ms": 13, "score": 0.25, "ok": False}))
        out = self.run_tail(event_type="serving.prediction")
        self.assertEqual(out.fields("serving.prediction"), [
            {"model": "m", "latency_ms": 12, "score": 0.5, "ok": True},
            {"model": "m", "latency_ms": 13, "score": 0.25, "ok": False}])
        self.assertEqual(out.emits()[0]["source"], "jsonl-tail")
        self.assertEqual(out.counters().get("lines"), 2)

    def test_nested_values_are_kept_as_json_text_and_null_is_left_out(self):
        self.write(self.lines({"features": {"a": [1, 2]}, "scores": [0.1, 0.9], "label": None}))
        out = self.run_tail()
        fields = out.fields("prediction")[0]
        self.assertEqual(json.loads(fields["features"]), {"a": [1, 2]})
        self.assertEqual(json.loads(fields["scores"]), [0.1, 0.9])
        self.assertNotIn("label", fields)

    def test_bad_lines_are_counted_and_skipped(self):
        self.write(self.lines({"n": 1}) + "not json\n" + "[1, 2]\n" + "\n" +
                   json.dumps({"n": 2, "pad": "x" * 200}) + "\n" + self.lines({"n": 3}))
        out = self.run_tail(max_line_bytes=64)
        self.assertEqual([f["n"] for f in out.fields("prediction")], [1, 3])
        self.assertEqual(out.counters().get("bad_lines"), 3)  # blank lines are not bad
        self.assertIn("bad_line", out.err)

    def test_a_member_no_field_can_hold_is_left_out_not_the_line(self):
        # A dotted key (common in prediction logs) cannot be a field name:
        # that member is counted and the rest of the line is emitted.
        self.write(self.lines({"n": 1}, {"model.version": "v2", "latency_ms": 5, "n": 2},
                              {"n": 3}))
        out = self.run_tail()
        self.assertEqual(out.fields("prediction"),
                         [{"n": 1}, {"latency_ms": 5, "n": 2}, {"n": 3}])
        self.assertEqual(out.counters().get("bad_fields"), 1)
        self.assertNotIn("line_dropped", out.err)

    def test_an_incomplete_last_line_waits_for_its_newline(self):
        self.write(self.lines({"n": 1}) + '{"n": ')
        proc = self.follow()
        self.write('2}\n')
        out = self.finish(proc)
        self.assertEqual([f["n"] for f in out.fields("prediction")], [1, 2])

    def test_rename_rotation_finishes_the_old_file_then_reads_the_new(self):
        self.write(self.lines({"n": 1}, {"n": 2}))
        proc = self.follow()
        # The writer's last lines land just before the rename, the last one
        # without its newline: they are read from the old file all the same.
        self.write(self.lines({"n": 3}) + json.dumps({"n": 4}))
        os.rename(self.log, self.log + ".1")
        self.write(self.lines({"n": 5}))
        time.sleep(SETTLE)
        self.write(self.lines({"n": 6}))
        out = self.finish(proc)
        self.assertEqual([f["n"] for f in out.fields("prediction")], [1, 2, 3, 4, 5, 6])
        self.assertEqual(out.counters().get("rotations"), 1)

    def test_truncation_restarts_from_the_beginning(self):
        self.write(self.lines({"n": 1, "pad": "x" * 40}, {"n": 2, "pad": "x" * 40}))
        proc = self.follow()
        self.write(self.lines({"n": 3}), mode="w")  # copytruncate: same file, shorter
        time.sleep(SETTLE)
        self.write(self.lines({"n": 4}))
        out = self.finish(proc)
        self.assertEqual([f["n"] for f in out.fields("prediction")], [1, 2, 3, 4])
        self.assertEqual(out.counters().get("truncations"), 1)

    def test_a_restart_resumes_after_the_last_line_read(self):
        self.write(self.lines({"n": 1}, {"n": 2}) + '{"n": 3')
        first = self.run_tail()
        self.assertEqual([f["n"] for f in first.fields("prediction")], [1, 2])
        self.assertTrue(os.listdir(self.state), "no position saved in the state directory")

        self.write('}\n' + self.lines({"n": 4}))
        second = self.run_tail()
        self.assertEqual([f["n"] for f in second.fields("prediction")], [3, 4])

        third = self.run_tail()
        self.assertEqual(third.emits(), [])

    def test_a_file_replaced_while_stopped_is_read_from_the_start(self):
        self.write(self.lines({"n": 1}, {"n": 2}, {"n": 3}))
        self.run_tail()
        os.rename(self.log, self.log + ".1")
        self.write(self.lines({"n": 10}))
        out = self.run_tail()
        self.assertEqual([f["n"] for f in out.fields("prediction")], [10])

    def test_a_missing_file_is_waited_for(self):
        proc = self.follow(wait_for="waiting")
        self.write(self.lines({"n": 1}))
        out = self.finish(proc)
        self.assertEqual([f["n"] for f in out.fields("prediction")], [1])

    def test_bad_configuration_is_refused(self):
        for conf in (self.config(path="relative.jsonl"),
                     self.config(path=self.log, poll_ms=0),
                     self.config(path=self.log, max_line_bytes=1)):
            out = self.check(expect=1, config=conf, state_dir=self.state)
            self.assertIn("bad_config", out.err)
        self.check(expect=1, config=self.config(poll_ms=100), state_dir=self.state)  # no path
