"""kill -9 loses nothing acknowledged, and a resend is applied once."""
import os
import subprocess
import time

from harness import TOOLS, CairnTest


class KillNine(CairnTest):
    def test_acknowledged_writes_survive_kill9_exactly_once(self):
        run = self.start_run("durability")
        acks = os.path.join(self.tmp, "acks")
        total = 4000
        stream = subprocess.Popen(
            [os.path.join(TOOLS, "cairn-load"), "stream", self.coord.endpoint, run,
             str(total), acks], stderr=subprocess.PIPE, text=True)
        for _ in range(2):  # kill twice while the client streams
            self.wait_for_acks(acks, 300, timeout=30)
            self.coord.kill9()
            time.sleep(0.5)
            self.coord.start()
        _, err = stream.communicate(timeout=180)
        self.assertEqual(stream.returncode, 0, err)

        with open(acks) as f:
            acked = [int(line) for line in f]
        self.assertEqual(acked, list(range(total)))
        steps = [p["step"] for p in self.cli_json("metrics", run, "x")]
        self.assertEqual(sorted(steps), list(range(total)), "every acked point, exactly once")
        self.assertEqual(steps, list(range(total)), "in logging order")

    def test_concurrent_clients_survive_kill9_exactly_once(self):
        """Several clients at once: their requests share groups, whose
        single points are held and appended at the group's commit."""
        runs = [self.start_run(f"durability-{i}") for i in range(6)]
        total = 3000  # far more than the two kills need: no stream ends before them
        streams = []
        for i, run in enumerate(runs):
            acks = os.path.join(self.tmp, f"acks-{i}")
            proc = subprocess.Popen(
                [os.path.join(TOOLS, "cairn-load"), "stream", self.coord.endpoint, run,
                 str(total), acks], stderr=subprocess.PIPE, text=True)
            streams.append((run, acks, proc))
        for _ in range(2):  # kill twice while all of them stream
            for _, acks, _ in streams:
                self.wait_for_acks(acks, 100, timeout=60)
            self.coord.kill9()
            time.sleep(0.5)
            self.coord.start()
        for run, acks, proc in streams:
            _, err = proc.communicate(timeout=180)
            self.assertEqual(proc.returncode, 0, err)
            with open(acks) as f:
                self.assertEqual([int(line) for line in f], list(range(total)))
            steps = [p["step"] for p in self.cli_json("metrics", run, "x")]
            self.assertEqual(steps, list(range(total)), "every acked point, once, in order")
