"""What the plugin tests share: running cairn-plugin-check on a built plugin
and reading its JSON lines. No tests of its own.

cairn-plugin-check PLUGIN.so [--config FILE] [--state-dir DIR] [--event JSON]...
    [--command JSON]... [--blob FILE]... [--run-for MS]
prints one JSON object a line (descriptor, emit, progress, done, deliver,
counters) and exits 0, 1 when something failed, 2 on usage errors."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN

CHECK = os.path.join(BIN, "cairn-plugin-check")
PLUGINS = os.path.join(os.path.dirname(os.path.normpath(BIN)), "plugins")

needs_check = unittest.skipUnless(
    os.path.exists(CHECK), f"{CHECK} is not built (the plugin harness, agent/check/)")


def libconfig_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(libconfig_value(v) for v in value) + "]"
    return json.dumps(str(value))  # libconfig strings escape like JSON's


class CheckOutput:
    """The JSON lines of one cairn-plugin-check run, and its exit status."""

    def __init__(self, code, out, err):
        self.code = code
        self.err = err
        self.lines = [json.loads(line) for line in out.splitlines() if line.strip()]

    def of(self, event):
        return [line for line in self.lines if line["event"] == event]

    def emits(self, type_=None):
        return [e for e in self.of("emit") if type_ is None or e["type"] == type_]

    def fields(self, type_=None):
        return [e["fields"] for e in self.emits(type_)]

    def done(self, command):
        found = [d for d in self.of("done") if d["command"] == command]
        assert len(found) == 1, f"expected one done for {command}: {self.lines}"
        return found[0]

    def counters(self):
        last = self.lines[-1] if self.lines else {}
        return last.get("counters", {}) if last.get("event") == "counters" else {}


@needs_check
class PluginCheckTest(unittest.TestCase):
    """A temporary directory per test, and cairn-plugin-check on PLUGIN."""

    PLUGIN = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cairn-plugin-")
        self.so = os.path.join(PLUGINS, self.PLUGIN + ".so")
        self.assertTrue(os.path.exists(self.so), f"{self.so} is not built")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def config(self, **keys):
        path = self.path(f"plugin-{len(os.listdir(self.tmp))}.conf")
        with open(path, "w") as f:
            for key, value in keys.items():
                f.write(f"{key} = {libconfig_value(value)};\n")
        return path

    def argv(self, config=None, state_dir=None, events=(), commands=(), blobs=(), run_for=None):
        args = [CHECK, self.so]
        if config is not None:
            args += ["--config", config]
        if state_dir is not None:
            args += ["--state-dir", state_dir]
        for e in events:
            args += ["--event", json.dumps(e)]
        for c in commands:
            args += ["--command", json.dumps(c)]
        for b in blobs:
            args += ["--blob", b]
        if run_for is not None:
            args += ["--run-for", str(run_for)]
        return args

    def check(self, expect=0, timeout=120, **kw):
        """Runs the checker to its end and returns its output, failing the
        test when the exit status is not `expect`."""
        proc = subprocess.run(self.argv(**kw), capture_output=True, text=True, timeout=timeout)
        out = CheckOutput(proc.returncode, proc.stdout, proc.stderr)
        self.assertEqual(out.code, expect, f"exit {out.code}\nstdout:\n{proc.stdout}\n"
                                           f"stderr:\n{proc.stderr}")
        return out

    def start(self, **kw):
        """Starts the checker in the background, for a test that drives a file
        while it runs; wait_log() and finish() follow."""
        return Background(self.argv(**kw))

    def finish(self, running, expect=0, timeout=120):
        code, stdout, stderr = running.wait(timeout)
        out = CheckOutput(code, stdout, stderr)
        self.assertEqual(out.code, expect, f"exit {out.code}\nstdout:\n{stdout}\n"
                                           f"stderr:\n{stderr}")
        return out


class Background:
    """A checker running in the background, its output read as it comes."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.out, self.err = [], []
        self.readers = [threading.Thread(target=self._read, args=(pipe, into), daemon=True)
                        for pipe, into in ((self.proc.stdout, self.out),
                                           (self.proc.stderr, self.err))]
        for r in self.readers:
            r.start()

    @staticmethod
    def _read(pipe, into):
        for line in pipe:
            into.append(line)

    def wait_log(self, text, timeout=60):
        """Waits until the plugin has logged `text` (stderr is not buffered,
        so this tells what the plugin has done so far)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.err)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the plugin never logged {text!r}: {''.join(self.err)}")
            time.sleep(0.01)

    def wait(self, timeout):
        code = self.proc.wait(timeout)
        for r in self.readers:
            r.join(timeout)
        return code, "".join(self.out), "".join(self.err)
