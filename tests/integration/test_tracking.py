"""What is logged is what is read back, exactly, through the CLI's --json."""
import hashlib
import math
import os
import re

from harness import CairnTest
from test_events import RawClient, new_ulid


def load_value(i):
    # The same formula as cairn-load's load_value().
    return math.sin(i) * 1000.0 + i / 7.0


class TrackingRoundTrip(CairnTest):
    def test_100k_points_100_params_and_50mb_artifact(self):
        run = self.start_run("roundtrip", "--name", "big", "--tag", "team=growth")
        self.tool("points", self.coord.endpoint, run, 100000, 1000, "loss")

        params = {f"p{i:03d}": f"value-{i}" for i in range(100)}
        args = []
        for k, v in params.items():
            args += ["--param", f"{k}={v}"]
        self.cli("runs", "log", run, *args)

        artifact = os.path.join(self.tmp, "model.bin")
        with open(artifact, "wb") as f:
            block = os.urandom(1 << 20)
            for i in range(50):
                f.write(bytes([i]) + block[1:])
        self.cli("runs", "log", run, "--artifact", artifact)
        self.cli("runs", "end", run, "--status", "FINISHED")

        shown = self.cli_json("runs", "show", run)
        self.assertEqual(list(shown), ["id", "experiment", "name", "status", "start_time",
                                       "end_time", "params", "metrics", "tags", "artifacts"])
        self.assertEqual(shown["id"], run)
        self.assertEqual(shown["status"], "FINISHED")
        self.assertEqual(shown["params"], params)
        self.assertEqual(shown["tags"]["team"], "growth")
        self.assertEqual(shown["metrics"]["loss"], load_value(99999))

        history = self.cli_json("metrics", run, "loss")
        self.assertEqual(len(history), 100000)
        for i, point in enumerate(history):
            self.assertEqual(point["step"], i)
            self.assertEqual(point["value"], load_value(i), f"point {i}")

        with open(artifact, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(shown["artifacts"], [{"path": "model.bin", "size": 50 << 20,
                                               "sha256": digest}])
        out = os.path.join(self.tmp, "back.bin")
        self.cli("artifacts", "get", run, "model.bin", "-o", out)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest)

    def test_identical_artifacts_are_stored_once(self):
        run = self.start_run("dedup")
        path = os.path.join(self.tmp, "same.txt")
        with open(path, "w") as f:
            f.write("the same bytes\n")
        self.cli("runs", "log", run, "--artifact", path)
        other = self.start_run("dedup")
        self.cli("runs", "log", other, "--artifact", path)
        blobs = []
        for root, _, files in os.walk(os.path.join(self.coord.data_dir, "blobs")):
            if os.path.basename(root) != "tmp":
                blobs += files
        self.assertEqual(len(blobs), 1)

    def test_nan_and_infinities_in_json(self):
        run = self.start_run("special")
        self.cli("runs", "log", run, "--metric", "a=nan@0", "--metric", "a=inf@1",
                 "--metric", "a=-inf@2")
        history = self.cli_json("metrics", run, "a")
        self.assertEqual([p["value"] for p in history], ["NaN", "Infinity", "-Infinity"])
        self.assertEqual(self.cli_json("runs", "show", run)["metrics"]["a"], "-Infinity")


class Resends(CairnTest):
    def test_a_resent_last_chunk_is_answered_with_what_it_stored(self):
        # The SDK checks the answer against its own hash: after a lost reply
        # and another upload to the same path, the resend must still get the
        # first upload's size and sha256, or a stored upload reads as failed.
        raw = RawClient(self.coord.endpoint)
        self.addCleanup(raw.close)
        run = new_ulid()
        raw.ok("run.start", {"run": run, "experiment": "resend"})

        def put(content, id_=None):
            return raw.ok("artifact.put", {"upload": new_ulid(), "run": run, "path": "model.bin",
                                           "offset": 0, "data": content, "last": True}, id_)
        first_id = new_ulid()
        first = put(b"first content", first_id)
        self.assertEqual(first["sha256"], hashlib.sha256(b"first content").hexdigest())
        put(b"second content!")
        again = put(b"first content", first_id)
        self.assertTrue(again["duplicate"])
        self.assertEqual((again["size"], again["sha256"], again["seq"]),
                         (first["size"], first["sha256"], first["seq"]))

    def test_resends_answered_from_the_dedup_record_are_counted(self):
        raw = RawClient(self.coord.endpoint)
        self.addCleanup(raw.close)
        run, last_id = new_ulid(), new_ulid()
        raw.ok("run.start", {"run": run, "experiment": "resend"})
        put = {"upload": new_ulid(), "run": run, "path": "a", "offset": 0, "data": b"x",
               "last": True}
        for _ in range(3):
            raw.ok("artifact.put", put, last_id)
        self.coord.stop()
        stats = re.findall(r"event=stats .*duplicates=(\d+)", self.coord.log())
        self.assertEqual(stats[-1], "2", "the two resends")

    def test_a_resent_run_start_names_its_experiment(self):
        raw = RawClient(self.coord.endpoint)
        self.addCleanup(raw.close)
        raw.ok("run.start", {"run": new_ulid(), "experiment": "first"})
        start = {"run": new_ulid(), "experiment": "second"}
        id_ = new_ulid()
        first = raw.ok("run.start", start, id_)
        again = raw.ok("run.start", start, id_)
        self.assertEqual((again["duplicate"], again["experiment_id"]), (True, 2))
        self.assertEqual(first["experiment_id"], 2)

