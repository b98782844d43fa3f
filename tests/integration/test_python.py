"""The Python SDK (sdk/python): what a Python program logs through it is what the
CLI reads back, exactly; runs end FINISHED or FAILED as the program does; values
are converted as MLflow converts them. Each test runs Python programs in
subprocesses against the test's coordinator (CAIRN_COORDINATOR), with the
libcairn of this build."""
import glob
import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import unittest

from harness import BIN, CairnTest, Result

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIBRARY = os.environ.get("CAIRN_LIBRARY") or \
    os.path.abspath(os.path.join(BIN, "..", "lib", "libcairn.so"))


def load_value(i):
    # Doubles that need all 17 digits: a lossy conversion anywhere shows.
    return math.sin(i) * 1000.0 + i / 7.0


def python_with(module):
    """A python3 that can import module: this one, or Debian's (python3-numpy and
    python3-sklearn live in /usr/bin/python3's dist-packages)."""
    for py in (sys.executable, "/usr/bin/python3"):
        if shutil.which(py) and subprocess.run([py, "-c", f"import {module}"],
                                               capture_output=True).returncode == 0:
            return py
    return None


# The end of a program that forked `pid`: waits for it, or kills it and says
# "hung" when it waits for ever (on a lock held in the parent).
WAIT_FOR_CHILD = """
deadline = time.monotonic() + 20
while os.waitpid(pid, os.WNOHANG) == (0, 0):
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        print("hung", flush=True)
        break
    time.sleep(0.1)
"""


# A sanitizer-built libcairn cannot be loaded into an uninstrumented python3.
@unittest.skipIf("sanitize" in BIN, "the Python SDK loads the plain build's libcairn")
class PythonSDK(CairnTest):
    def py_env(self, env=None):
        """The environment of a python3 subprocess using sdk/python and this
        test's coordinator."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        full_env.update({"PYTHONPATH": os.path.join(ROOT, "sdk", "python"),
                         "CAIRN_COORDINATOR": self.coord.endpoint, "CAIRN_LIBRARY": LIBRARY,
                         "TMPDIR": self.tmp})
        full_env.update(env or {})
        return full_env

    def py(self, code, python=None, check=True, env=None, timeout=120):
        """Runs code (dedented) in a python3 subprocess using sdk/python."""
        path = os.path.join(self.tmp, "prog.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(code))
        proc = subprocess.run([python or sys.executable, path], capture_output=True, text=True,
                              timeout=timeout, env=self.py_env(env), cwd=self.tmp)
        r = Result(proc)
        if check and r.code != 0:
            self.fail(f"python program exited {r.code}:\n{r.err}")
        return r

    # ---- the requirement ----

    def test_10000_points_params_and_artifact_read_back_exactly(self):
        artifact = os.path.join(self.tmp, "model.bin")
        with open(artifact, "wb") as f:
            f.write(os.urandom(3 << 20))
        with open(artifact, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        r = self.py(f"""
            import math
            import cairn

            def load_value(i):
                return math.sin(i) * 1000.0 + i / 7.0

            with cairn.start_run(experiment="py", run_name="ten thousand",
                                 tags={{"team": "growth"}}) as run:
                run.log_params({{"lr": 0.001, "epochs": 30, "optimizer": "adam",
                                 "nesterov": False}})
                run.log_param("layers", [64, 32])
                for i in range(10000):
                    run.log_metric("loss", load_value(i), step=i)
                run.log_metrics({{"special": float("nan")}}, step=0)
                run.log_metrics({{"special": float("inf")}}, step=1)
                run.log_metrics({{"special": float("-inf")}}, step=2)
                run.log_metrics({{"tiny": 5e-324, "big": 1.7976931348623157e308, "third": 1 / 3}})
                run.log_artifact({artifact!r})
                run.log_artifact({artifact!r}, "checkpoints/best")
                run.set_tag("stage", "done")
            print(run.id)
            """)
        run = r.out.strip()

        shown = self.cli_json("runs", "show", run)
        self.assertEqual(list(shown), ["id", "experiment", "name", "status", "start_time",
                                       "end_time", "params", "metrics", "tags", "artifacts"])
        self.assertEqual(shown["id"], run)
        self.assertEqual(shown["experiment"], "py")
        self.assertEqual(shown["name"], "ten thousand")
        self.assertEqual(shown["status"], "FINISHED")
        self.assertIsNotNone(shown["end_time"])
        self.assertEqual(shown["params"], {"epochs": "30", "layers": "[64, 32]", "lr": "0.001",
                                           "nesterov": "False", "optimizer": "adam"})
        self.assertEqual(shown["metrics"], {"big": 1.7976931348623157e308,
                                            "loss": load_value(9999), "special": "-Infinity",
                                            "third": 1 / 3, "tiny": 5e-324})
        self.assertEqual(shown["tags"]["team"], "growth")
        self.assertEqual(shown["tags"]["stage"], "done")
        self.assertIn("cairn.user", shown["tags"])
        self.assertIn("cairn.host", shown["tags"])
        self.assertEqual(shown["artifacts"], [
            {"path": "checkpoints/best/model.bin", "size": 3 << 20, "sha256": digest},
            {"path": "model.bin", "size": 3 << 20, "sha256": digest}])

        history = self.cli_json("metrics", run, "loss")
        self.assertEqual(len(history), 10000)
        for i, point in enumerate(history):
            self.assertEqual(point["step"], i)
            self.assertEqual(point["value"], load_value(i), f"point {i}")
        self.assertEqual([p["value"] for p in self.cli_json("metrics", run, "special")],
                         ["NaN", "Infinity", "-Infinity"])

        back = os.path.join(self.tmp, "back.bin")
        self.cli("artifacts", "get", run, "checkpoints/best/model.bin", "-o", back)
        with open(back, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest)

    # ---- how runs end ----

    def test_exception_in_with_block_ends_the_run_failed_and_propagates(self):
        r = self.py("""
            import cairn
            try:
                with cairn.start_run(experiment="py") as run:
                    run.log_metric("loss", 0.5, step=1)
                    raise ValueError("boom")
            except ValueError as e:
                print(run.id, "caught", e)
            """)
        run, word, message = r.out.split()
        self.assertEqual((word, message), ("caught", "boom"))
        shown = self.cli_json("runs", "show", run)
        self.assertEqual(shown["status"], "FAILED")
        self.assertIsNotNone(shown["end_time"])
        self.assertEqual(shown["metrics"], {"loss": 0.5})

        # Uncaught: the program dies with the exception's traceback, the run FAILED.
        r = self.py("""
            import cairn
            with cairn.start_run(experiment="py") as run:
                print(run.id, flush=True)
                raise KeyError("escaped")
            """, check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("KeyError: 'escaped'", r.err)
        self.assertEqual(self.cli_json("runs", "show", r.out.strip())["status"], "FAILED")

    @unittest.skipUnless(shutil.which("git"), "needs git")
    def test_source_tags_say_whether_the_work_tree_is_dirty(self):
        repo = os.path.join(self.tmp, "repo")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", repo]
        subprocess.run(["git", "init", "-q", repo], check=True)
        with open(os.path.join(repo, "train.py"), "w") as f:
            f.write("lr = 0.1\n")
        subprocess.run([*git, "add", "train.py"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
        commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                                text=True).stdout.strip()

        def source_tags(cwd):
            r = self.py(f"""
                import os
                import cairn
                os.chdir({cwd!r})
                with cairn.start_run(experiment="py-source") as run:
                    print(run.id)
                """)
            tags = self.cli_json("runs", "show", r.out.strip())["tags"]
            return {k: v for k, v in tags.items() if k.startswith("cairn.git.")}

        self.assertEqual(source_tags(repo), {"cairn.git.commit": commit,
                                             "cairn.git.dirty": "false"})
        with open(os.path.join(repo, "train.py"), "a") as f:
            f.write("lr = 0.2\n")
        self.assertEqual(source_tags(repo), {"cairn.git.commit": commit,
                                             "cairn.git.dirty": "true"})
        self.assertEqual(source_tags(self.tmp), {})

    def test_a_forked_child_leaving_the_with_block_does_not_end_the_parents_run(self):
        # A child made by os.fork() inside the block unwinds a copy of the
        # parent's stack: its exception or sys.exit() leaves the block too,
        # but the run is the parent's, still logging.
        r = self.py("""
            import os, sys
            import cairn
            with cairn.start_run(experiment="py") as run:
                run.log_metric("x", 1)
                cairn.flush()
                for how in ("raise", "exit"):
                    pid = os.fork()
                    if pid == 0:
                        if how == "exit":
                            sys.exit(0)
                        raise ValueError("child")
                    os.waitpid(pid, 0)
                print(run.id, cairn.get_run(run.id)["status"])
            """)
        run, status = r.out.split()
        self.assertEqual(status, "RUNNING")
        self.assertEqual(self.cli_json("runs", "show", run)["status"], "FINISHED")

    def test_a_child_forked_during_a_read_can_use_the_registry(self):
        # A thread of the parent is in a read (its client lock held) when the
        # main thread forks: the child has no such thread, so it must not wait
        # for that lock, whichever read call it makes.
        self.coord.stop()
        r = self.py(textwrap.dedent("""
            import os, threading, time
            import cairn
            cairn.configure(read_timeout=2)
            def read():
                try:
                    cairn.get_run("01HZY3ZQ5W8X9V6T4R2P0N1M3K")
                except cairn.CairnError:
                    pass
            threading.Thread(target=read).start()
            time.sleep(0.5)
            pid = os.fork()
            if pid == 0:
                for call in (lambda: cairn.get_model_version("m/1"), lambda: cairn.list_datasets()):
                    try:
                        call()
                    except cairn.CairnError as e:
                        print(e.status, flush=True)
                os._exit(0)
            """) + WAIT_FOR_CHILD, timeout=60)
        self.assertEqual(r.out.split(), ["TIMEOUT", "TIMEOUT"])

    @unittest.skipUnless(shutil.which("git"), "needs git")
    def test_a_child_forked_while_a_run_starts_can_start_runs(self):
        # git status (run by detect_source) takes its time: a child forked
        # meanwhile by another thread must not wait for a lock that thread holds.
        repo = os.path.join(self.tmp, "repo")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", repo]
        subprocess.run(["git", "init", "-q", repo], check=True)
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "first"], check=True)
        slow = os.path.join(self.tmp, "slow")
        os.mkdir(slow)
        with open(os.path.join(slow, "git"), "w") as f:
            f.write(f"#!/bin/sh\nsleep 0.8\nexec {shutil.which('git')} \"$@\"\n")
        os.chmod(os.path.join(slow, "git"), 0o755)
        r = self.py(textwrap.dedent(f"""
            import os, threading, time
            import cairn
            os.chdir({repo!r})
            threading.Thread(target=lambda: cairn.start_run("py").end()).start()
            time.sleep(0.3)
            pid = os.fork()
            if pid == 0:
                cairn.start_run("py").end()
                print("child started a run", flush=True)
                os._exit(0)
            """) + WAIT_FOR_CHILD, env={"PATH": slow + os.pathsep + os.environ["PATH"]}, timeout=60)
        self.assertEqual(r.out.strip(), "child started a run")

    def test_runs_left_open_are_ended_at_exit(self):
        r = self.py("""
            import cairn
            run = cairn.start_run("py", run_name="open")
            run.log_metric("x", 1)
            print(run.id)
            """)
        self.assertEqual(self.cli_json("runs", "show", r.out.strip())["status"], "FINISHED")
        r = self.py("""
            import cairn
            run = cairn.start_run("py", run_name="crashes")
            print(run.id, flush=True)
            1 / 0
            """, check=False)
        self.assertEqual(r.code, 1)
        self.assertEqual(self.cli_json("runs", "show", r.out.strip())["status"], "FAILED")
        r = self.py("""
            import cairn
            run = cairn.start_run("py", run_name="explicit")
            run.end(status="killed")
            print(run.id, run.status)
            """)
        run, status = r.out.split()
        self.assertEqual(status, "KILLED")
        self.assertEqual(self.cli_json("runs", "show", run)["status"], "KILLED")

    def test_multiprocessing_workers_flush_at_their_exit(self):
        # A child started by multiprocessing with fork ends with os._exit(): the
        # atexit flush never runs there, so it must run with multiprocessing's
        # own exit handlers, or every point the worker logged is lost.
        r = self.py("""
            import multiprocessing as mp
            import cairn

            def work(run_id, k):
                run = cairn.Run(run_id)
                for i in range(300):
                    run.log_metric(f"w{k}", i, step=i)

            if __name__ == "__main__":
                mp.set_start_method("fork")
                run = cairn.start_run("py", run_name="workers")
                cairn.flush()
                procs = [mp.Process(target=work, args=(run.id, k)) for k in range(2)]
                for p in procs:
                    p.start()
                for p in procs:
                    p.join()
                pool = mp.Pool(2)
                pool.starmap(work, [(run.id, 2), (run.id, 3)])
                pool.close()
                pool.join()
                run.end()
                print(run.id)
            """)
        run = r.out.strip()
        for k in range(4):
            points = self.cli_json("metrics", run, f"w{k}")
            self.assertEqual([p["value"] for p in points], list(range(300)), f"w{k}")

    def test_exit_waits_once_for_all_open_runs(self):
        # Nothing answers: each open run's end times out. At exit they share one
        # deadline, or 100 open runs would hold the interpreter 100 timeouts.
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = self.py(f"""
            import os, time
            import cairn
            from cairn import _tracking
            cairn.configure(endpoint="tcp://127.0.0.1:{port}", flush_ms=10)
            runs = [cairn.start_run("py") for _ in range(4)]
            for run in runs:
                run.log_metric("x", 1)
            t0 = time.monotonic()
            _tracking._at_exit(timeout=1)  # what the interpreter's exit runs, with 30 s
            print(round(time.monotonic() - t0))
            os._exit(0)
            """)
        self.assertLessEqual(int(r.out.split()[-1]), 2, r.err)

    def test_a_full_queue_at_exit_still_ends_the_run(self):
        # The queue is full when the interpreter exits and the coordinator comes
        # back a second later: the end waits for room instead of being dropped.
        self.coord.stop()
        path = os.path.join(self.tmp, "full_at_exit.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent("""
                import cairn
                cairn.configure(max_queued=1000, flush_ms=10)
                run = cairn.start_run("py", run_name="full")
                for i in range(999):
                    run.log_metric("x", i, step=i)
                print(run.id, flush=True)
                """))
        proc = subprocess.Popen([sys.executable, path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.py_env(), cwd=self.tmp)
        time.sleep(1)
        self.coord.start()
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn("BACKPRESSURE", err)
        shown = self.cli_json("runs", "show", out.strip())
        self.assertEqual(shown["status"], "FINISHED")
        self.assertEqual(len(self.cli_json("metrics", out.strip(), "x")), 999)

    def test_a_fifo_is_refused_not_waited_on(self):
        # Opening a FIFO for reading waits for a writer: in the tracker's sender
        # that wedged every later flush. Only regular files are artifacts.
        r = self.py("""
            import os
            import cairn
            os.mkfifo("pipe")
            run = cairn.start_run("py", run_name="fifo")
            try:
                run.log_artifact("pipe")
                print("uploaded")
            except cairn.CairnError as e:
                print(e.status, "not a regular file" in e.message)
            run.log_artifact(__file__, "/")  # "/" is the run's top directory
            run.log_metric("after", 1)
            run.end(timeout=10)
            print(run.id)
            """, timeout=60)
        status, named, run = r.out.split()
        self.assertEqual((status, named), ("INVALID_PARAMETER_VALUE", "True"))
        shown = self.cli_json("runs", "show", run)
        self.assertEqual(shown["metrics"]["after"], 1)
        self.assertEqual([a["path"] for a in shown["artifacts"]], ["prog.py"])

    # ---- values ----

    def test_bools_and_params_are_converted_as_mlflow_does(self):
        r = self.py("""
            import decimal, fractions, json
            import cairn
            out = {}
            with cairn.start_run(experiment="py") as run:
                run.log_params({"t": True, "f": False, "float": 0.1, "int": 3, "none": None,
                                "big": 10**20, "exp": 1e-7, "dict": {"a": 1}, "s": "text"})
                run.log_metric("flag", True, step=0)
                run.log_metric("flag", False, step=1)
                run.log_metrics({"dec": decimal.Decimal("0.25"), "frac": fractions.Fraction(1, 3),
                                 "int": 7})
                for bad in ("0.5", 1j, None, [1.0], 10**400):
                    try:
                        run.log_metric("bad", bad)
                        out[repr(bad)[:8]] = "accepted"
                    except (TypeError, ValueError) as e:
                        out[repr(bad)[:8]] = type(e).__name__ + (" named" if "'bad'" in str(e) else "")
            out["id"] = run.id
            print(json.dumps(out))
            """)
        out = json.loads(r.out)
        self.assertEqual({k: v for k, v in out.items() if k != "id"},
                         {"'0.5'": "TypeError named", "1j": "TypeError named",
                          "None": "TypeError named", "[1.0]": "TypeError named",
                          "10000000": "ValueError named"})
        shown = self.cli_json("runs", "show", out["id"])
        self.assertEqual(shown["params"], {"big": "100000000000000000000", "dict": "{'a': 1}",
                                           "exp": "1e-07", "f": "False", "float": "0.1",
                                           "int": "3", "none": "None", "s": "text", "t": "True"})
        self.assertEqual(shown["metrics"], {"dec": 0.25, "flag": 0.0, "frac": 1 / 3, "int": 7.0})
        self.assertEqual([(p["step"], p["value"]) for p in self.cli_json("metrics", out["id"],
                                                                          "flag")],
                         [(0, 1.0), (1, 0.0)])
        self.assertNotIn("bad", shown["metrics"])

    def test_numpy_values(self):
        py = python_with("numpy")
        if not py:
            self.skipTest("no python3 with numpy")
        r = self.py("""
            import sys
            import numpy as np
            import cairn
            with cairn.start_run(experiment="py") as run:
                run.log_params({"f32": np.float32(0.1), "f64": np.float64(0.1), "i64": np.int64(5),
                                "b": np.bool_(True), "arr": np.arange(3)})
                run.log_metrics({"f32": np.float32(0.1), "f64": np.float64(2.5),
                                 "i64": np.int64(-7), "u8": np.uint8(200), "b": np.bool_(True),
                                 "zero_d": np.array(0.75), "nan": np.float64("nan")},
                                step=np.int64(3))
                for i, v in enumerate(np.linspace(0.0, 1.0, 5)):
                    run.log_metric("curve", v, step=i)
                try:
                    run.log_metric("vector", np.arange(3))
                except TypeError:
                    print("vector refused", file=sys.stderr)
                for name, cx in (("complex", 1 + 2j), ("np.complex128", np.complex128(1 + 2j))):
                    try:
                        run.log_metric("cx", cx)
                    except TypeError:
                        print(name, "refused", file=sys.stderr)
            print(run.id)
            """, python=py)
        self.assertIn("vector refused", r.err)
        # Not its real part alone: the imaginary one would be lost unsaid.
        self.assertIn("np.complex128 refused", r.err)
        self.assertIn("complex refused", r.err)
        run = r.out.strip()
        shown = self.cli_json("runs", "show", run)
        # str() of each value, as MLflow stores it.
        self.assertEqual(shown["params"], {"arr": "[0 1 2]", "b": "True", "f32": "0.1",
                                           "f64": "0.1", "i64": "5"})
        self.assertEqual(shown["metrics"], {"b": 1.0, "curve": 1.0, "f32": 0.10000000149011612,
                                            "f64": 2.5, "i64": -7.0, "nan": "NaN", "u8": 200.0,
                                            "zero_d": 0.75})
        self.assertEqual([p["step"] for p in self.cli_json("metrics", run, "f32")], [3])
        self.assertEqual([p["value"] for p in self.cli_json("metrics", run, "curve")],
                         [0.0, 0.25, 0.5, 0.75, 1.0])

    # ---- reads ----

    def test_reads_return_the_cli_json(self):
        path = os.path.join(self.tmp, "notes.txt")
        with open(path, "w") as f:
            f.write("notes\n")
        r = self.py(f"""
            import json
            import cairn
            ids = []
            for auc in (0.7, 0.9, 0.8):
                with cairn.start_run(experiment="reads", run_name=f"auc {{auc}}") as run:
                    run.log_params({{"auc_target": auc}})
                    run.log_metrics({{"auc": auc, "odd": float("nan")}}, step=1)
                    run.log_metric("loss", 1 / 3, step=2)
                    run.log_artifact({path!r})
                ids.append(run.id)
            open_run = cairn.start_run("reads", run_name="still running")
            open_run.log_metric("auc", 0.1)
            try:
                cairn.get_run("01M8DEE6BQ3XH394E74QMZV8R1")
                missing = None
            except cairn.CairnError as e:
                missing = e.status
            print(json.dumps({{
                "ids": ids,
                "open": open_run.id,
                "runs": [cairn.get_run(i) for i in ids + [open_run.id]],
                "search": cairn.search_runs("reads", order_by="metrics.auc DESC"),
                "filtered": cairn.search_runs("reads", filter="metrics.auc > 0.75",
                                              order_by=["metrics.auc ASC"], max_results=1),
                "history": cairn.get_metric_history(ids[0], "loss"),
                "missing": missing,
            }}))
            open_run.end()
            """)
        out = json.loads(r.out)
        for run in out["runs"][:3]:
            shown = self.cli_json("runs", "show", run["id"])
            self.assertEqual(run, shown)
            self.assertEqual(list(run), list(shown))
        # Read while running, from the same process that logs: its writes are there.
        self.assertEqual(out["runs"][3]["status"], "RUNNING")
        self.assertIsNone(out["runs"][3]["end_time"])
        self.assertEqual(out["runs"][3]["metrics"], {"auc": 0.1})
        self.assertEqual(out["runs"][0]["metrics"]["odd"], "NaN")

        listed = self.cli_json("runs", "list", "--experiment", "reads",
                               "--order-by", "metrics.auc DESC")
        self.assertEqual([r["id"] for r in out["search"]], [r["id"] for r in listed])
        self.assertEqual([r["id"] for r in out["search"]],
                         [out["ids"][1], out["ids"][2], out["ids"][0], out["open"]])
        self.assertEqual(out["search"][:3], listed[:3])  # the open run has ended since
        self.assertEqual([r["id"] for r in out["filtered"]], [out["ids"][2]])
        self.assertEqual(out["history"], self.cli_json("metrics", out["ids"][0], "loss"))
        self.assertEqual(out["missing"], "RESOURCE_DOES_NOT_EXIST")

    # ---- errors ----

    def test_refused_write_is_raised_by_the_end_of_the_run(self):
        r = self.py("""
            import cairn
            try:
                with cairn.start_run(experiment="py") as run:
                    run.log_param("lr", 0.1)
                    run.log_param("lr", 0.2)  # params are immutable: refused
            except cairn.CairnError as e:
                print(run.id, e.status)
            """)
        run, status = r.out.split()
        self.assertEqual(status, "INVALID_PARAMETER_VALUE")
        self.assertEqual(self.cli_json("runs", "show", run)["params"], {"lr": "0.1"})

    def test_full_queue_raises_backpressure(self):
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = self.py(f"""
            import os
            import cairn
            cairn.configure(endpoint="tcp://127.0.0.1:{port}", max_queued=100, flush_ms=10)
            run = cairn.start_run("py")
            for i in range(100000):
                try:
                    run.log_metric("x", i, step=i)
                except cairn.CairnError as e:
                    print(e.status, i < 1000, flush=True)
                    break
            else:
                print("never refused", flush=True)
            try:
                cairn.flush(timeout=0.2)
                print("flushed", flush=True)
            except cairn.CairnError as e:
                print(e.status, flush=True)
            os._exit(0)  # nothing will ever answer: skip the flush at exit
            """)
        self.assertEqual(r.out.split(), ["BACKPRESSURE", "True", "TIMEOUT"])

    # ---- threads ----

    def test_threads_log_to_one_run(self):
        r = self.py("""
            import threading
            import cairn
            run = cairn.start_run("py", run_name="threads")
            def worker(k):
                for i in range(2000):
                    run.log_metric(f"t{k}", k * 10000 + i, step=i)
                run.set_tag(f"worker{k}", "done")
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            run.end()
            print(run.id)
            """)
        run = r.out.strip()
        shown = self.cli_json("runs", "show", run)
        self.assertEqual({k: v for k, v in shown["tags"].items() if k.startswith("worker")},
                         {f"worker{k}": "done" for k in range(4)})
        for k in range(4):
            history = self.cli_json("metrics", run, f"t{k}")
            self.assertEqual([(p["step"], p["value"]) for p in history],
                             [(i, float(k * 10000 + i)) for i in range(2000)])

    def test_a_sweep_stepping_many_runs_in_turn_sends_each_runs_points_together(self):
        r = self.py("""
            import cairn
            runs = [cairn.start_run("sweep", run_name=f"r{i}") for i in range(300)]
            for step in range(10):
                for i, run in enumerate(runs):
                    run.log_metric("loss", i * 100 + step, step=step)
            for run in runs:
                run.end()
            print(" ".join(run.id for run in runs))
            """)
        ids = r.out.split()
        for i in (0, 1, 150, 299):
            history = self.cli_json("metrics", ids[i], "loss")
            self.assertEqual([(p["step"], p["value"]) for p in history],
                             [(step, float(i * 100 + step)) for step in range(10)])
        listed = self.cli_json("runs", "list", "--experiment", "sweep")
        self.assertEqual(sorted(run["id"] for run in listed), sorted(ids))
        self.assertEqual({run["status"] for run in listed}, {"FINISHED"})
        # 3,000 points of 300 runs logged in turn: a request per run and
        # sending round, not one per point.
        logs = [e for e in self.cli_json("events") if e["type"] == "run.log"]
        self.assertLess(len(logs), 1500)

    # ---- refusals through an agent ----

    def test_writes_the_coordinator_would_refuse_are_reported_through_an_agent(self):
        # An agent acknowledges a write once it is in its spool: a refusal
        # made later by the coordinator could only land in the agent's
        # rejected list, and a run refused there took all its writes along.
        from test_agent import Agent
        agent = Agent(self.tmp, self.coord.endpoint).start()
        self.addCleanup(lambda: agent.alive() and agent.stop())
        data = os.path.join(self.tmp, "data.csv")
        with open(data, "w") as f:
            f.write("x\n1\n")
        r = self.py(f"""
            import cairn

            def refused(fn):
                try:
                    fn()
                except cairn.CairnError as e:
                    return e.status + " " + e.message
                return "accepted"

            print(refused(lambda: cairn.start_run("e", run_name="n" * 300)))
            print(refused(lambda: cairn.start_run("x" * 251)))
            run = cairn.start_run("e")
            run.log_param("big", "v" * 6001)
            print(refused(cairn.flush))
            run.set_tag("bad\\x01key", "v")
            print(refused(cairn.flush))
            run.log_param("ok", "1")
            print(refused(lambda: run.log_dataset({data!r}, context="Training")))
            run.end()
            print(run.id)
            """, env={"CAIRN_AGENT": agent.endpoint})
        lines = r.out.splitlines()
        self.assertIn("LIMIT_EXCEEDED run name of 300 bytes exceeds the limit of 250", lines[0])
        self.assertIn("LIMIT_EXCEEDED experiment name of 251 bytes", lines[1])
        self.assertRegex(lines[2], r"^LIMIT_EXCEEDED run\.log \(params\) of run \w{26} refused: "
                                   r"param value of 6001 bytes .* \(key 'big'\)$")
        self.assertRegex(lines[3], r"^INVALID_PARAMETER_VALUE run\.log \(tags\) of run \w{26} "
                                   r"refused: tag key")
        self.assertIn("INVALID_PARAMETER_VALUE context 'Training'", lines[4])
        run = lines[5]
        deadline = time.monotonic() + 30
        while self.cli("runs", "show", run, "--json", check=False).code != 0 or \
                self.cli_json("runs", "show", run)["status"] != "FINISHED":
            self.assertLess(time.monotonic(), deadline, "the run never arrived")
            time.sleep(0.1)
        self.assertEqual(self.cli_json("runs", "show", run)["params"], {"ok": "1"})
        self.assertEqual(agent.rejected(), [])  # nothing refused went through

    def test_a_flush_that_times_out_says_why_the_sender_waits(self):
        from test_agent import Agent
        with open(os.path.join(self.tmp, "agent.conf"), "w") as f:
            f.write("spool: { max_bytes = 200000; };\n")
        agent = Agent(self.tmp, self.coord.endpoint,
                      ["-c", os.path.join(self.tmp, "agent.conf")]).start()
        self.addCleanup(lambda: agent.alive() and agent.stop())
        self.coord.stop()  # the spool fills and stays full
        r = self.py("""
            import os, cairn
            run = cairn.start_run("full")
            run.log_metrics({f"k{i}": float(i) for i in range(200)})
            for step in range(50000):  # about 1.5 MB spooled, where 200 KB fit
                run.log_metric("m", 1.0, step=step)
            try:
                cairn.flush(3)
            except cairn.CairnError as e:
                print(e.status, e.message)
            os._exit(0)
            """, env={"CAIRN_AGENT": agent.endpoint}, timeout=60)
        self.assertIn("TIMEOUT", r.out)
        self.assertIn("its last answer: BACKPRESSURE: agent spool full", r.out)

    def test_a_cairn_error_crosses_a_process_pool(self):
        r = self.py("""
            import multiprocessing as mp, pickle, cairn

            def task(run_id):
                return cairn.get_run(run_id)

            if __name__ == "__main__":
                e = pickle.loads(pickle.dumps(cairn.CairnError("TIMEOUT", "slow")))
                print(e.status, e.message)
                with mp.Pool(1) as pool:
                    try:
                        pool.map(task, ["01M8EVE39AH421GARDPPP372PA"])
                    except cairn.CairnError as e:
                        print("raised", e.status)
            """, timeout=60)
        self.assertEqual(r.out.splitlines(), ["TIMEOUT slow", "raised RESOURCE_DOES_NOT_EXIST"])

    def test_reads_and_waits_do_not_hold_on_when_the_coordinator_is_down(self):
        self.coord.stop()
        r = self.py("""
            import os, signal, threading, time, cairn
            cairn.configure(read_timeout=1)
            run = cairn.start_run("down")
            run.log_metric("m", 1.0)
            t0 = time.monotonic()
            try:
                cairn.get_run(run.id)
            except cairn.CairnError as e:
                print("read", e.status, round(time.monotonic() - t0))
            threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
            t0 = time.monotonic()
            try:
                cairn.flush(20)
            except KeyboardInterrupt:
                print("interrupted", round(time.monotonic() - t0))
            threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
            t0 = time.monotonic()
            try:
                run.end(timeout=20)
            except KeyboardInterrupt:
                print("interrupted", round(time.monotonic() - t0))
            with open("model.bin", "w") as f:
                f.write("weights")
            threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
            t0 = time.monotonic()
            try:
                run.log_artifact("model.bin")  # the sender never gets to it
            except KeyboardInterrupt:
                print("interrupted", round(time.monotonic() - t0))
            try:
                cairn.flush(0.5)
            except cairn.CairnError as e:
                print(e.status, "within 500 ms" in e.message)
            os._exit(0)  # no 30 s at exit: the coordinator stays down
            """, timeout=60)
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split()[:2], ["read", "TIMEOUT"])
        self.assertLessEqual(int(lines[0].split()[2]), 3)  # the read's 1 s, not a flush's 30 s
        self.assertEqual(lines[1:], ["interrupted 1"] * 3 + ["TIMEOUT True"])

    def test_artifact_paths_links_and_unreadable_trees(self):
        tree = os.path.join(self.tmp, "tree")
        outside = os.path.join(self.tmp, "outside")
        os.makedirs(os.path.join(tree, "real"))
        os.makedirs(outside)
        for path in (os.path.join(tree, "real", "f1"), os.path.join(outside, "f2")):
            with open(path, "w") as f:
                f.write("x")
        os.symlink(outside, os.path.join(tree, "linked"))
        os.symlink(tree, os.path.join(tree, "real", "loop"))  # back up the tree
        os.makedirs(os.path.join(tree, "ckpt", "epoch3"))
        with open(os.path.join(tree, "ckpt", "epoch3", "w"), "w") as f:
            f.write("w")
        os.symlink(os.path.join(tree, "ckpt", "epoch3"), os.path.join(tree, "best"))
        broken = os.path.join(self.tmp, "broken")
        shutil.copytree(tree, broken, symlinks=True)
        os.symlink("/nonexistent", os.path.join(broken, "real", "gone"))
        r = self.py(f"""
            import pathlib, cairn
            with cairn.start_run("paths") as run:
                print(sorted(a["path"] for a in run.log_artifacts({tree!r})))
                print(run.log_artifact({os.path.join(tree, "real", "f1")!r}.encode(),
                                       pathlib.Path("models"))["path"])
                try:
                    run.log_artifacts({broken!r}, "broken")
                except FileNotFoundError:
                    print("refused whole")
                print(cairn.get_metric_history(run.id, "never"))
            print(run.id)
            """)
        lines = r.out.splitlines()
        # A directory reached twice (best -> ckpt/epoch3) is kept under both names,
        # as copying the tree keeps it; only the link back up is not followed.
        self.assertEqual(lines[0], "['best/w', 'ckpt/epoch3/w', 'linked/f2', 'real/f1']")
        self.assertEqual(lines[1], "models/f1")
        self.assertEqual(lines[2], "refused whole")
        self.assertEqual(lines[3], "[]")
        paths = [a["path"] for a in self.cli_json("runs", "show", lines[4])["artifacts"]]
        self.assertFalse([p for p in paths if p.startswith("broken")], paths)

    # ---- installed ----

    def test_installed_package_finds_the_installed_library(self):
        python3 = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        searched = subprocess.run([python3, "-c", "import sys; print('\\n'.join(sys.path))"],
                                  capture_output=True, text=True, check=True).stdout.split()
        for prefix in ("/usr", "/usr/local"):
            with self.subTest(prefix=prefix):
                dest = os.path.join(self.tmp, "root" + prefix.replace("/", "-"))
                made = subprocess.run(["make", "-s", "-C", ROOT, "install", f"PREFIX={prefix}",
                                       f"DESTDIR={dest}"], capture_output=True, text=True)
                self.assertEqual(made.returncode, 0, "make install failed:\n" + made.stderr)
                inits = glob.glob(os.path.join(dest, "**", "cairn", "__init__.py"), recursive=True)
                self.assertEqual(len(inits), 1, inits)
                site = os.path.dirname(os.path.dirname(inits[0]))
                # Where python3 itself looks: `import cairn` works with no PYTHONPATH.
                self.assertIn(site[len(dest):], searched)
                r = self.py("""
                    import cairn, cairn._native
                    with cairn.start_run("installed") as run:
                        run.log_metric("m", 2.5)
                    print(run.id, cairn._native.lib().path)
                    """, env={"PYTHONPATH": site, "CAIRN_LIBRARY": ""})
                run, path = r.out.split()
                self.assertEqual(os.path.realpath(path),
                                 os.path.realpath(os.path.join(dest, prefix[1:], "lib",
                                                               "libcairn.so.0")))
                self.assertEqual(self.cli_json("runs", "show", run)["metrics"], {"m": 2.5})


@unittest.skipIf("sanitize" in BIN, "the Python SDK loads the plain build's libcairn")
class FullStoreRetried(CairnTest):
    """A coordinator whose store cannot commit (map full) applies nothing of the
    request: the SDK keeps the data and resends, and once the store has room
    again every param arrives."""

    def test_storage_error_is_resent_not_dropped(self):
        self.restart_coordinator("store: { map_size_mb = 1; };\n")
        ready, go = os.path.join(self.tmp, "ready"), os.path.join(self.tmp, "go")
        path = os.path.join(self.tmp, "prog.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(f"""
                import os, sys, time
                import cairn
                run = cairn.start_run(experiment="full", run_name="big")
                for i in range(300):
                    run.log_param(f"p{{i:03d}}", "x" * 6000)
                try:
                    cairn.flush(timeout=3)
                    print("first: flushed")
                except cairn.CairnError as e:
                    print("first:", e.status)
                print(run.id)
                sys.stdout.flush()
                open({ready!r}, "w").close()
                while not os.path.exists({go!r}):
                    time.sleep(0.05)
                cairn.flush(timeout=60)
                run.end()
                print("second: flushed")
            """))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update({"PYTHONPATH": os.path.join(ROOT, "sdk", "python"),
                    "CAIRN_COORDINATOR": self.coord.endpoint, "CAIRN_LIBRARY": LIBRARY})
        proc = subprocess.Popen([sys.executable, path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(600):
            if os.path.exists(ready) or proc.poll() is not None:
                break
            time.sleep(0.05)
        self.assertTrue(os.path.exists(ready), "the program did not reach its first flush")
        self.coord.stop()              # restart with the default (large) map
        self.coord.extra_args = []
        self.coord.start()
        open(go, "w").close()
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        lines = out.split()
        self.assertIn("first: TIMEOUT", out, "the full store held the params back")
        self.assertIn("second: flushed", out)
        run_id = lines[lines.index("TIMEOUT") + 1]
        shown = self.cli_json("runs", "show", run_id)
        self.assertEqual(len(shown["params"]), 300)
        self.assertEqual(shown["status"], "FINISHED")
