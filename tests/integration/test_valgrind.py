"""valgrind finds no leak and no memory error in the coordinator's normal life."""
import os
import re
import shutil
import unittest

from harness import BIN, CairnTest, Coordinator, valgrind


@unittest.skipIf("sanitize" in BIN, "valgrind cannot run AddressSanitizer builds")
@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class Valgrind(CairnTest):
    def setUp(self):
        super().setUp()
        self.coord.stop()
        self.valgrind_log = os.path.join(self.tmp, "valgrind.log")
        # valgrind cannot reserve the default 64 GiB map: 1 GiB is plenty here.
        conf = os.path.join(self.tmp, "vg.conf")
        with open(conf, "w") as f:
            f.write("store: { map_size_mb = 1024; };\n")
        self.coord = Coordinator(os.path.join(self.tmp, "vg"), extra_args=["-c", conf],
                                 wrapper=valgrind(self.valgrind_log)).start()

    def test_coordinator_shutdown_is_clean(self):
        run = self.start_run("vg", "--tag", "a=b")
        artifact = os.path.join(self.tmp, "a.bin")
        with open(artifact, "wb") as f:
            f.write(os.urandom(3 << 20))
        self.cli("runs", "log", run, "--param", "p=1", "--metric", "m=0.5@1", "--artifact", artifact)
        self.cli("runs", "list", "--experiment", "vg", "--filter", "metrics.m > 0.1")
        self.cli("metrics", run, "m")
        self.cli("artifacts", "get", run, "a.bin", "-o", os.path.join(self.tmp, "back.bin"))
        self.cli("runs", "log", run, "--param", "p=2", check=False)  # a refused write
        self.cli("runs", "end", run)
        self.cli("events")
        self.tool("garbage", self.coord.endpoint, 50, 3)
        self.assert_valgrind_clean(self.coord.stop(timeout=60), self.valgrind_log)
