"""make install gives a library a C program builds against with pkg-config."""
import json
import os
import subprocess
import unittest

from harness import BIN, CairnTest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@unittest.skipIf("sanitize" in BIN, "the installed library is the plain build")
class Install(CairnTest):
    def test_installed_library_serves_a_c_program(self):
        dest = os.path.join(self.tmp, "root")
        subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=/usr", f"DESTDIR={dest}"],
                       check=True, capture_output=True)
        env = {**os.environ, "PKG_CONFIG_PATH": f"{dest}/usr/lib/pkgconfig",
               "PKG_CONFIG_SYSROOT_DIR": dest}
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "cairn"], env=env,
                               check=True, capture_output=True, text=True).stdout.split()
        exe = os.path.join(self.tmp, "log_run")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Werror",
                        os.path.join(ROOT, "examples", "c", "log_run.c"), *flags, "-o", exe],
                       check=True, env=env)
        run = subprocess.run([exe], capture_output=True, text=True, timeout=30,
                             env={**env, "LD_LIBRARY_PATH": f"{dest}/usr/lib",
                                  "CAIRN_COORDINATOR": self.coord.endpoint})
        self.assertEqual(run.returncode, 0, run.stderr)
        printed = json.loads(run.stdout)
        self.assertEqual(printed["status"], "FINISHED")
        self.assertEqual(printed["params"], {"learning_rate": "0.01", "epochs": "3"})
        self.assertEqual(self.cli_json("metrics", printed["id"], "loss")[2]["value"], 1 / 3)
