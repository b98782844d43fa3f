"""cairn lineage: a model version, the run that made it (params, final metrics,
tags, git commit and dirty flag, user, host), its artifact's hash, the
datasets its run used, and every stage and alias event of the version, in one
answer, by any form of reference, from the CLI and the Python SDK."""
import hashlib
import json
import os
import subprocess
import unittest

from harness import BIN, CairnTest
from registry_helpers import PYTHON_SKIP, RegistryMixin


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


class Lineage(RegistryMixin, CairnTest):
    def git_repo(self):
        """A repository with one commit and a tracked file changed since: dirty."""
        repo = os.path.join(self.tmp, "repo")
        os.makedirs(repo)
        git(repo, "init", "-q")
        with open(os.path.join(repo, "train.py"), "w") as f:
            f.write("print('train')\n")
        git(repo, "add", "train.py")
        git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
        with open(os.path.join(repo, "train.py"), "a") as f:
            f.write("# tuned\n")
        return repo, git(repo, "rev-parse", "HEAD")

    def run_in(self, cwd, *args):
        proc = subprocess.run([os.path.abspath(os.path.join(BIN, "cairn")), "--coordinator", self.coord.endpoint,
                               *args], cwd=cwd, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout.strip()

    def trained_version(self):
        """Version 1 of churn, made by a run started in a dirty git work tree, then
        promoted, aliased and aliased away; version 2 from another run."""
        repo, commit = self.git_repo()
        run = self.run_in(repo, "runs", "start", "--experiment", "churn", "--name", "rf",
                          "--tag", "team=growth")
        model = os.path.join(self.tmp, "model.bin")
        with open(model, "wb") as f:
            f.write(b"forest")
        self.cli("runs", "log", run, "--param", "max_depth=10", "--metric", "auc=0.81@1",
                 "--metric", "auc=0.93@3", "--metric", "auc=0.88@2", "--artifact", model)
        self.cli("runs", "end", run)
        self.cli("models", "register", "churn", "--run", run, "--artifact", "model.bin")
        outside = self.run_in(self.tmp, "runs", "start", "--experiment", "churn")
        self.cli("runs", "log", outside, "--artifact", model)
        self.cli("models", "register", "churn", "--run", outside, "--artifact", "model.bin")
        self.cli("models", "stage", "churn", "1", "Production", "--reason", "release")
        self.cli("models", "alias", "churn", "champion", "2")
        self.cli("models", "alias", "churn", "champion", "1", "--reason", "2 regressed")
        self.cli("models", "alias", "churn", "challenger", "2")
        return run, commit

    def test_lineage_answers_everything(self):
        run, commit = self.trained_version()
        lineage = self.cli_json("lineage", "churn", "1")
        self.assertEqual(list(lineage), ["version", "run", "source", "datasets", "events"])
        self.assertEqual(lineage["version"], self.version_json("churn/1"))
        self.assertEqual(lineage["version"]["artifact"]["sha256"],
                         hashlib.sha256(b"forest").hexdigest())
        self.assertEqual(lineage["run"], self.cli_json("runs", "show", run))
        self.assertEqual(lineage["run"]["params"], {"max_depth": "10"})
        self.assertEqual(lineage["run"]["metrics"], {"auc": 0.93})  # the latest step's
        self.assertEqual(lineage["run"]["tags"]["team"], "growth")
        self.assertEqual(lineage["source"], {
            "user": lineage["run"]["tags"]["cairn.user"],
            "host": lineage["run"]["tags"]["cairn.host"],
            "git_commit": commit, "git_dirty": True})
        self.assertEqual(lineage["datasets"], [])
        self.assertEqual([(e["kind"], e.get("version"), e.get("alias"), e["from"], e["to"],
                           e["reason"]) for e in lineage["events"]],
                         [("stage", 1, None, "None", "Production", "release"),
                          ("alias", None, "champion", 2, 1, "2 regressed")])

    def test_lineage_of_a_model_trained_on_a_directory_dataset(self):
        """The run's datasets, a directory (Merkle hash) and a file, with their
        contexts; and from the dataset's side, the model version made from it."""
        run = self.start_run("churn")
        data = os.path.join(self.tmp, "train")
        os.makedirs(os.path.join(data, "part"))
        files = {"a.csv": b"x,y\n1,0\n", "part/b.csv": b"x,y\n2,1\n"}
        for name, content in files.items():
            with open(os.path.join(data, name), "wb") as f:
                f.write(content)
        test = os.path.join(self.tmp, "test.csv")
        with open(test, "wb") as f:
            f.write(b"x,y\n3,0\n")
        self.cli("datasets", "add", data, "--name", "churn-train", "--run", run,
                 "--context", "training")
        self.cli("datasets", "add", test, "--name", "churn-test", "--run", run, "--context", "test")
        model = os.path.join(self.tmp, "model.bin")
        with open(model, "wb") as f:
            f.write(b"forest")
        self.cli("runs", "log", run, "--artifact", model)
        self.cli("models", "register", "churn", "--run", run, "--artifact", "model.bin")
        lineage = self.cli_json("lineage", "churn", "1")
        # The directory's hash, recomputed: sha256 of "HEX  RELPATH\n" lines, sorted.
        lines = "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files))
        self.assertEqual(lineage["datasets"], [
            {"name": "churn-test", "version": 1, "hash": hashlib.sha256(b"x,y\n3,0\n").hexdigest(),
             "size": 8, "files": 1, "source": os.path.abspath(test), "context": "test"},
            {"name": "churn-train", "version": 1,
             "hash": hashlib.sha256(lines.encode()).hexdigest(),
             "size": sum(len(c) for c in files.values()), "files": 2,
             "source": os.path.abspath(data), "context": "training"}])
        shown = self.cli_json("datasets", "show", "churn-train")
        self.assertEqual(shown["versions"][0]["model_versions"],
                         [{"model": "churn", "version": 1, "run": run}])
        out = self.cli("lineage", "churn/1").out
        self.assertIn("churn-train", out)
        self.assertIn("training", out)
        self.assertIn("model versions:", self.cli("datasets", "show", "churn-train").out)

    def test_every_reference_gives_the_same_answer(self):
        self.trained_version()
        first = self.cli_json("lineage", "churn", "1")
        for ref in ("churn/1", "churn@champion", "churn/Production", "churn/production"):
            self.assertEqual(self.cli_json("lineage", ref), first, ref)
        second = self.cli_json("lineage", "churn@challenger")
        self.assertEqual(second["version"]["version"], 2)
        self.assertEqual(second["source"]["git_commit"], None)  # a run started outside git
        self.assertEqual([(e["alias"], e["from"], e["to"]) for e in second["events"]],
                         [("champion", None, 2), ("champion", 2, 1), ("challenger", None, 2)])

    def test_a_dirty_flag_that_is_neither_true_nor_false_is_unknown(self):
        for tag, dirty in (("true", True), ("false", False), ("maybe", None), ("True", None),
                           ("", None)):
            run = self.artifact_run(b"m", "model.bin", "churn", "--tag", f"cairn.git.dirty={tag}")
            version = self.cli("models", "register", "churn", "--run", run,
                               "--artifact", "model.bin").out.strip()
            source = self.cli_json("lineage", "churn", version)["source"]
            self.assertIs(source["git_dirty"], dirty, tag)

    def test_human_output(self):
        _, commit = self.trained_version()
        out = self.cli("lineage", "churn@champion").out
        for text in ("version      1", "stage        Production", "\nrun:\n", commit, "git dirty   true",
                     "max_depth", "auc", "datasets: none recorded", "\nevents:\n",
                     "alias champion: 2 -> 1", "2 regressed"):
            self.assertIn(text, out)

    def test_refusals(self):
        self.trained_version()
        self.refused("lineage", "churn", "9", says="model 'churn' has no version 9")
        self.refused("lineage", "nope/1", says="no model named 'nope'")
        self.refused("lineage", "churn@gone", says="model 'churn' has no alias 'gone'")
        self.refused("lineage", "churn/Staging", says="no version of model 'churn' is in stage Staging")
        self.refused("lineage", "churn", code=2, says="bad model version reference")
        self.refused("lineage", "churn", "x", code=2, says="bad VERSION 'x'")
        self.refused("lineage", "churn@champion", "3", code=2, says="bad MODEL 'churn@champion'")
        self.refused("lineage", "churn/Staging", "3", code=2, says="bad MODEL 'churn/Staging'")
        # A long reference is read whole, not cut into a wrong one.
        self.refused("lineage", "x" * 600 + "/1", says="no model named 'xxxx")
        self.refused("lineage", code=2)

    @unittest.skipIf(PYTHON_SKIP, "the Python SDK loads the plain build's libcairn")
    def test_python_get_lineage(self):
        self.trained_version()
        r = self.py("""
            import json
            import cairn
            print(json.dumps(cairn.get_lineage("churn@champion")))
            """)
        self.assertEqual(json.loads(r.out), self.cli_json("lineage", "churn", "1"))


if __name__ == "__main__":
    unittest.main()
