"""Datasets: `cairn datasets add/list/show` and the SDK's run.log_dataset against
real coordinator (and agent) processes. Hashes are checked against ones made
here independently (hashlib over the files, as docs/sdk.md defines them)."""
import hashlib
import os
import pty
import select
import subprocess
import sys
import textwrap
import time
import unittest

import test_agent
from harness import BIN, CairnTest, Result

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIBRARY = os.environ.get("CAIRN_LIBRARY") or \
    os.path.abspath(os.path.join(BIN, "..", "lib", "libcairn.so"))


def file_hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_hash(root):
    """The directory hash of docs/sdk.md, made with hashlib: sha256 of the lines
    "HEX  RELPATH\\n" of every file, sorted by RELPATH as bytes."""
    lines = []
    for top, _, files in os.walk(root):
        for name in files:
            full = os.path.join(top, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            lines.append((rel.encode(), f"{file_hash(full)}  {rel}\n".encode()))
    return hashlib.sha256(b"".join(line for _, line in sorted(lines))).hexdigest()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


class DatasetsCLI(CairnTest):
    def make_tree(self, name="data"):
        root = os.path.join(self.tmp, name)
        write(os.path.join(root, "train.csv"), b"x,y\n1,2\n3,4\n")
        write(os.path.join(root, "train", "part-0"), os.urandom(5000))
        write(os.path.join(root, "train.d", "labels"), b"a\nb\n")
        write(os.path.join(root, "README"), b"")
        return root

    def add(self, *args, check=True):
        return self.cli("datasets", "add", *args, "--json", check=check)

    def test_file_and_directory_hashes(self):
        root = self.make_tree()
        single = os.path.join(root, "train.csv")
        added = self.add(single, "--name", "csv").json()
        self.assertEqual(list(added), ["name", "version", "new", "hash", "size", "files",
                                       "source", "run", "context", "spooled"])
        self.assertEqual(added, {"name": "csv", "version": 1, "new": True,
                                 "hash": file_hash(single), "size": 12, "files": 1,
                                 "source": single, "run": None, "context": None,
                                 "spooled": False})
        tree = self.add(root, "--name", "tree").json()
        self.assertEqual(tree["hash"], tree_hash(root))
        self.assertEqual((tree["files"], tree["size"]), (4, 12 + 5000 + 4))
        human = self.cli("datasets", "add", root, "--name", "tree").out
        self.assertEqual(human, f"tree: version 1, sha256 {tree['hash']}, 4 files, 4.9 KiB\n")

    def test_same_content_same_version_new_content_next_version(self):
        root = self.make_tree()
        first = self.add(root, "--name", "d").json()
        again = self.add(root, "--name", "d").json()
        self.assertEqual((first["version"], first["new"]), (1, True))
        self.assertEqual((again["version"], again["new"], again["hash"]), (1, False, first["hash"]))
        write(os.path.join(root, "train", "part-1"), b"more rows\n")
        second = self.add(root, "--name", "d").json()
        self.assertEqual((second["version"], second["new"]), (2, True))
        self.assertNotEqual(second["hash"], first["hash"])
        # A copy elsewhere is the same content, so the same version.
        copy = os.path.join(self.tmp, "copy")
        subprocess.run(["cp", "-r", root, copy], check=True)
        self.assertEqual(self.add(copy, "--name", "d").json()["version"], 2)

        listed = self.cli_json("datasets", "list")
        self.assertEqual(listed, [{"name": "d", "versions": 2, "hash": second["hash"],
                                   "size": second["size"], "files": 5,
                                   "created": listed[0]["created"],
                                   "updated": listed[0]["updated"]}])
        shown = self.cli_json("datasets", "show", "d")
        self.assertEqual([v["hash"] for v in shown["versions"]], [first["hash"], second["hash"]])
        self.assertEqual([v["source"] for v in shown["versions"]], [root, root])

    def test_runs_are_linked_with_their_context(self):
        root = self.make_tree()
        run = self.start_run("exp")
        other = self.start_run("exp")
        self.add(root, "--name", "d", "--run", run, "--context", "training")
        # Idempotent; a run id typed in lower case is printed as the coordinator writes it.
        again = self.add(root, "--name", "d", "--run", run.lower(), "--context", "training")
        self.assertEqual(again.json()["run"], run)
        self.add(root, "--name", "d", "--run", other, "--context", "validation")
        holdout = os.path.join(root, "train.csv")
        self.add(holdout, "--name", "holdout", "--run", run, "--context", "test")

        shown = self.cli_json("datasets", "show", "d")
        self.assertEqual(list(shown), ["name", "created", "updated", "versions"])
        (version,) = shown["versions"]
        self.assertEqual(list(version), ["version", "hash", "size", "files", "source",
                                         "created", "runs", "model_versions"])
        self.assertEqual([(r["run"], r["context"]) for r in version["runs"]],
                         [(run, "training"), (other, "validation")])
        self.assertEqual(version["model_versions"], [])
        human = self.cli("datasets", "show", "d").out
        self.assertIn(f"      1  {run}  training", human)
        self.assertEqual(len(self.cli_json("datasets", "show", "holdout")["versions"][0]["runs"]), 1)
        logged = [e for e in self.cli_json("events") if e["type"] == "dataset.log"]
        self.assertEqual(len(logged), 4)
        self.assertIn(f"run={run} context=training", logged[0]["summary"])

    def test_a_run_in_two_contexts_lists_its_model_versions_once(self):
        root = self.make_tree()
        run, other = self.start_run("exp"), self.start_run("exp")
        for r, context in ((run, "training"), (run, "validation"), (other, "training")):
            self.add(root, "--name", "d", "--run", r, "--context", context)
        model = os.path.join(self.tmp, "model.bin")
        with open(model, "wb") as f:
            f.write(b"forest")
        for r in (run, other):
            self.cli("runs", "log", r, "--artifact", model)
            self.cli("models", "register", "m", "--run", r, "--artifact", "model.bin")
        (version,) = self.cli_json("datasets", "show", "d")["versions"]
        self.assertEqual(len(version["runs"]), 3)
        self.assertEqual(sorted((m["version"], m["run"]) for m in version["model_versions"]),
                         sorted([(1, run), (2, other)]))

    def test_refusals(self):
        root = self.make_tree()
        ghost = "01M8DEE6BQ3XH394E74QMZV8R1"
        r = self.add(root, "--name", "d", "--run", ghost, "--context", "training", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("cairn: no run", r.err)
        self.assertEqual(self.cli("datasets", "show", "d", check=False).code, 1)
        self.assertEqual(self.cli_json("datasets", "list"), [])
        run = self.start_run()
        r = self.add(root, "--name", "d", "--run", run, "--context", "Train Set", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("context 'Train Set' must be 1 to 64 of a-z", r.err)
        for args in ((root,), (root, "--name", "d", "--run", "nope"),
                     (root, "--name", "d", "--context", "test"), ("--name", "d")):
            self.assertEqual(self.add(*args, check=False).code, 2, args)
        os.mkfifo(os.path.join(root, "pipe"))
        r = self.add(root, "--name", "d", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("pipe: a special file", r.err)
        r = self.add(os.path.join(self.tmp, "missing"), "--name", "d", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("No such file or directory", r.err)

    def run_on_a_pty(self, *args):
        """Runs the CLI with stderr on a terminal; returns (code, what it wrote there)."""
        master, slave = pty.openpty()
        cmd = [os.path.join(BIN, "cairn"), "--coordinator", self.coord.endpoint, *args]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=slave)
        os.close(slave)
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        proc.stdout.read()
        os.close(master)
        return proc.wait(60), seen.decode("utf-8", "replace")

    def test_progress_on_a_terminal_only_for_large_inputs(self):
        big = os.path.join(self.tmp, "big.bin")
        with open(big, "wb") as f:
            f.truncate(80 << 20)  # sparse: over the 64 MiB threshold
        code, tty = self.run_on_a_pty("datasets", "add", big, "--name", "big")
        self.assertEqual(code, 0, tty)
        self.assertIn("\rhashing: ", tty)
        self.assertIn("80.0 of 80.0 MiB (100%), 1 of 1 files", tty)
        # The same without a terminal: no progress at all.
        piped = self.cli("datasets", "add", big, "--name", "big")
        self.assertEqual(piped.err, "")
        # A small input on a terminal: none either.
        small = os.path.join(self.tmp, "small.txt")
        write(small, b"tiny")
        code, tty = self.run_on_a_pty("datasets", "add", small, "--name", "small")
        self.assertEqual(code, 0)
        self.assertNotIn("hashing", tty)


class DatasetsThroughAnAgent(test_agent.AgentTest):
    def test_link_arrives_after_a_coordinator_outage(self):
        root = os.path.join(self.tmp, "data")
        write(os.path.join(root, "a"), b"alpha")
        write(os.path.join(root, "b", "c"), b"gamma")
        run = self.agent_run("ds")
        self.wait_until("the run at the coordinator",
                        lambda: self.cli("runs", "show", run, check=False).code == 0)
        self.coord.stop()
        r = self.via_agent("datasets", "add", root, "--name", "d", "--run", run,
                           "--context", "training", "--json")
        self.assertEqual(r.json()["spooled"], True)
        self.assertIsNone(r.json()["version"])
        self.assertIn("spooled by the agent", self.via_agent(
            "datasets", "add", root, "--name", "d").out)
        time.sleep(1)
        self.coord.start()

        def linked():
            r = self.cli("datasets", "show", "d", "--json", check=False)
            return r.code == 0 and r.json()["versions"][0]["runs"]
        self.wait_until("the dataset link", linked)
        (version,) = self.cli_json("datasets", "show", "d")["versions"]
        self.assertEqual(version["hash"], tree_hash(root))
        self.assertEqual([(x["run"], x["context"]) for x in version["runs"]], [(run, "training")])


@unittest.skipIf("sanitize" in BIN, "the Python SDK loads the plain build's libcairn")
class DatasetsFromPython(CairnTest):
    def py(self, code, env):
        path = os.path.join(self.tmp, "prog.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(code))
        full = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        full.update({"PYTHONPATH": os.path.join(ROOT, "sdk", "python"), "CAIRN_LIBRARY": LIBRARY})
        full.update(env)
        proc = subprocess.run([sys.executable, path], capture_output=True, text=True,
                              timeout=120, env=full, cwd=self.tmp)
        r = Result(proc)
        self.assertEqual(r.code, 0, r.err)
        return r

    def test_run_log_dataset(self):
        root = os.path.join(self.tmp, "images")
        write(os.path.join(root, "cat.png"), os.urandom(3000))
        write(os.path.join(root, "dog", "1.png"), os.urandom(2000))
        test_file = os.path.join(self.tmp, "test.csv")
        write(test_file, b"id\n1\n")
        r = self.py(f"""
            import json, cairn
            with cairn.start_run(experiment="py") as run:
                a = run.log_dataset({root!r})
                b = run.log_dataset({test_file!r}, name="holdout", context="test")
                c = run.log_dataset({root!r}, name="images", context="validation")
            print(json.dumps([run.id, a, b, c, cairn.get_dataset("images")]))
            """, {"CAIRN_COORDINATOR": self.coord.endpoint})
        import json
        run, a, b, c, shown = json.loads(r.out)
        self.assertEqual(a, {"name": "images", "hash": tree_hash(root), "size": 5000,
                             "files": 2, "context": "training"})
        self.assertEqual(b["hash"], file_hash(test_file))
        self.assertEqual(c["hash"], a["hash"])
        (version,) = shown["versions"]
        self.assertEqual(version["source"], root)
        self.assertEqual(sorted((x["run"], x["context"]) for x in version["runs"]),
                         [(run, "training"), (run, "validation")])
        self.assertEqual(self.cli_json("datasets", "show", "holdout")["versions"][0]["runs"],
                         [{"run": run, "context": "test",
                           "linked": self.cli_json("datasets", "show", "holdout")
                           ["versions"][0]["runs"][0]["linked"]}])

    def test_unknown_run_is_reported_by_the_next_flush(self):
        data = os.path.join(self.tmp, "x.bin")
        write(data, b"x")
        r = self.py(f"""
            import cairn
            run = cairn.Run("01M8DEE6BQ3XH394E74QMZV8R1")
            run.log_dataset({data!r})
            try:
                cairn.flush()
            except cairn.CairnError as e:
                print(e.status, e.message)
            """, {"CAIRN_COORDINATOR": self.coord.endpoint})
        self.assertIn("RESOURCE_DOES_NOT_EXIST dataset.log of run 01M8DEE6BQ3XH394E74QMZV8R1", r.out)

    def test_through_the_agent_while_the_coordinator_is_down(self):
        agent = test_agent.Agent(self.tmp, self.coord.endpoint).start()
        try:
            data = os.path.join(self.tmp, "train.parquet")
            write(data, os.urandom(10000))
            self.coord.stop()
            r = self.py("""
                import cairn
                with cairn.start_run(experiment="outage") as run:
                    run.log_dataset(%r, name="train")
                print(run.id)
                """ % data, {"CAIRN_AGENT": agent.endpoint})
            run = r.out.strip()
            self.coord.start()
            deadline = time.monotonic() + 60
            while True:
                r = self.cli("datasets", "show", "train", "--json", check=False)
                if r.code == 0 and r.json()["versions"][0]["runs"]:
                    break
                self.assertLess(time.monotonic(), deadline, agent.log()[-3000:])
                time.sleep(0.1)
            self.assertEqual(r.json()["versions"][0]["runs"][0]["run"], run)
            self.assertEqual(r.json()["versions"][0]["hash"], file_hash(data))
            self.assertEqual(self.cli_json("runs", "show", run)["status"], "FINISHED")
        finally:
            self.assertEqual(agent.stop(), 0)
