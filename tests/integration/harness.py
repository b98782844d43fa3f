"""Real cairn processes for integration tests: a coordinator in a temporary
directory on a kernel-chosen loopback port, and the cairn CLI against it."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("CAIRN_BIN", "build/bin")
TOOLS = os.environ.get("CAIRN_TOOLS", "build/tests")


class Daemon:
    """One of our daemons as a process: started on its log file until it says
    it listens, stopped with SIGTERM (its exit code returned) or killed -9, and
    restartable. Subclasses give name, command() and on_listening()."""
    name = "daemon"
    listening = r"event=listening"

    def __init__(self, log_path, wrapper=()):
        self.log_path = log_path
        self.wrapper = list(wrapper)  # e.g. valgrind() and its options
        self.proc = None

    def start(self, timeout=30):
        self._log = open(self.log_path, "a")
        offset = self._log.tell()
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                f.seek(offset)
                m = re.search(self.listening, f.read())
            if m:
                self.on_listening(m)
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.log()}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not start: " + self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit code."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        self._log.close()
        return code

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        self._log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Coordinator(Daemon):
    """One cairn-coordinator process; restartable on the same endpoint and data."""
    name = "coordinator"
    listening = r"event=listening endpoint=(\S+)"

    def __init__(self, data_dir, listen="tcp://127.0.0.1:*", extra_args=(), wrapper=()):
        super().__init__(os.path.join(data_dir, "coordinator.log"), wrapper)
        self.data_dir = data_dir
        self.listen = listen
        self.extra_args = list(extra_args)
        self.endpoint = None

    def start(self, timeout=30):
        os.makedirs(self.data_dir, exist_ok=True)
        return super().start(timeout)

    def command(self):
        return [*self.wrapper, os.path.join(BIN, "cairn-coordinator"), "--data-dir", self.data_dir,
                "--listen", self.endpoint or self.listen, *self.extra_args]

    def on_listening(self, m):
        self.endpoint = m.group(1)


def valgrind(log_file):
    """The wrapper that runs a daemon under valgrind, failing on any leak."""
    return ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=99",
            f"--log-file={log_file}"]


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)


class CairnTest(unittest.TestCase):
    """Each test gets its own temporary directory and coordinator."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cairn-it-")
        # Registered first, so it runs last: after a test's own cleanups (a file
        # system mounted inside it is unmounted by then), and even when setUp
        # stops halfway (a skip), when tearDown does not run.
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.coord = Coordinator(os.path.join(self.tmp, "coord")).start()

    def tearDown(self):
        if self.coord.alive():
            code = self.coord.stop()
            self.assertEqual(code, 0, "coordinator did not exit cleanly:\n" + self.coord.log())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def restart_coordinator(self, conf_text):
        """The coordinator again, on the same data, with a config file of conf_text."""
        self.coord.stop()
        conf = os.path.join(self.tmp, "coordinator.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        self.coord.extra_args = ["-c", conf]
        self.coord.start()

    def cli(self, *args, check=True, endpoint=None, timeout=120, env=None):
        cmd = [os.path.join(BIN, "cairn"), "--coordinator", endpoint or self.coord.endpoint,
               *[str(a) for a in args]]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
        r = Result(proc)
        if check and r.code != 0:
            self.fail(f"{' '.join(cmd)} exited {r.code}: {r.err}")
        return r

    def cli_json(self, *args):
        return self.cli(*args, "--json").json()

    def tool(self, *args, check=True, timeout=300):
        proc = subprocess.run([os.path.join(TOOLS, "cairn-load"), *[str(a) for a in args]],
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            self.fail(f"cairn-load {args[0]} exited {proc.returncode}: {proc.stderr}")
        return proc

    def assert_valgrind_clean(self, exit_code, log_file):
        """A daemon run under valgrind() exited 0 with no error and no leak."""
        with open(log_file) as f:
            report = f.read()
        self.assertEqual(exit_code, 0, report)
        self.assertRegex(report, r"ERROR SUMMARY: 0 errors")
        self.assertIsNone(re.search(r"(definitely|indirectly|possibly) lost: [1-9]", report),
                          report)

    def wait_for_acks(self, path, more, timeout):
        """Waits until `more` lines were added to the acknowledgement file a
        `cairn-load stream` writes, failing when the stream stalls."""
        start = count_lines(path)
        deadline = time.monotonic() + timeout
        while count_lines(path) < start + more:
            self.assertLess(time.monotonic(), deadline, "the stream stopped making progress")
            time.sleep(0.01)

    def start_run(self, experiment="it", *args):
        return self.cli("runs", "start", "--experiment", experiment, *args).out.strip()
