"""kill -9 loses nothing acknowledged, and a resend is applied once."""
import hashlib
import os
import subprocess
import time

from harness import BIN, TOOLS, CairnTest


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

    def test_an_upload_cut_by_a_coordinator_restart_starts_again(self):
        # The restarted coordinator has forgotten the unfinished upload and
        # asks for it from offset 0: the SDK starts over instead of failing.
        run = self.start_run("restart")
        big = os.path.join(self.tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(120 << 20))
        cli = subprocess.Popen([os.path.join(BIN, "cairn"), "--coordinator", self.coord.endpoint,
                                "--timeout", "60s", "runs", "log", run, "--artifact", big],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        parts = os.path.join(self.coord.data_dir, "blobs", "tmp")
        deadline = time.monotonic() + 60
        def received():  # bytes the coordinator has of the upload so far
            total = 0
            for name in os.listdir(parts) if os.path.isdir(parts) else []:
                try:
                    total += os.path.getsize(os.path.join(parts, name))
                except FileNotFoundError:
                    pass  # renamed into the store meanwhile
            return total
        while received() < (16 << 20):  # several chunks in: not a fresh start
            self.assertLess(time.monotonic(), deadline, "the upload never got going")
            time.sleep(0.002)
        self.coord.kill9()
        self.coord.start()
        out, err = cli.communicate(timeout=120)
        self.assertEqual(cli.returncode, 0, err)
        shown = self.cli_json("runs", "show", run)["artifacts"]
        with open(big, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual([(a["path"], a["size"], a["sha256"]) for a in shown],
                         [("big.bin", 120 << 20, digest)])

