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
