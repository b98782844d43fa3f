"""What the model registry's integration tests share: runs with artifacts,
registered versions, and Python programs run against the test's coordinator."""
import hashlib
import os
import subprocess
import sys
import textwrap

from harness import BIN, Result

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIBRARY = os.environ.get("CAIRN_LIBRARY") or \
    os.path.abspath(os.path.join(BIN, "..", "lib", "libcairn.so"))
# A sanitizer-built libcairn cannot be loaded into an uninstrumented python3.
PYTHON_SKIP = "sanitize" in BIN


class RegistryMixin:
    """For CairnTest subclasses."""

    def artifact_run(self, content=b"weights", name="model.bin", experiment="churn", *args):
        """A run of experiment with one artifact (name) holding content; its id."""
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        run = self.start_run(experiment, *args)
        self.cli("runs", "log", run, "--artifact", path)
        return run

    def register(self, model="churn", content=None, *extra):
        """Registers a new run's artifact; returns (version, run, sha256)."""
        content = content if content is not None else os.urandom(64)
        run = self.artifact_run(content)
        out = self.cli("models", "register", model, "--run", run, "--artifact", "model.bin",
                       *extra).out
        return int(out.strip()), run, hashlib.sha256(content).hexdigest()

    def refused(self, *args, code=1, says=None):
        """Runs a CLI command that must fail with code; returns its stderr."""
        r = self.cli(*args, check=False)
        self.assertEqual(r.code, code, f"{args}: {r.out} {r.err}")
        if says:
            self.assertIn(says, r.err)
        return r.err

    def version_json(self, ref):
        return self.cli_json("models", "version", ref)

    def py(self, code, check=True):
        """Runs code (dedented) in a python3 using sdk/python against the coordinator."""
        path = os.path.join(self.tmp, "prog.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(code))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update({"PYTHONPATH": os.path.join(ROOT, "sdk", "python"),
                    "CAIRN_COORDINATOR": self.coord.endpoint, "CAIRN_LIBRARY": LIBRARY})
        proc = subprocess.run([sys.executable, path], capture_output=True, text=True,
                              timeout=300, env=env, cwd=self.tmp)
        r = Result(proc)
        if check and r.code != 0:
            self.fail(f"python program exited {r.code}:\n{r.err}")
        return r
