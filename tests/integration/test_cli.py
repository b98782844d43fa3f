"""Every CLI command against a real coordinator, and its exit codes."""
import os
import re

from harness import CairnTest


class Commands(CairnTest):
    def _three_runs(self):
        runs = []
        for i, (model, auc) in enumerate([("rf", 0.81), ("gb", 0.92), ("rf", 0.75)]):
            run = self.start_run("churn", "--name", f"run{i}", "--tag", f"team=t{i % 2}")
            self.cli("runs", "log", run, "--param", f"model={model}", "--metric", f"auc={auc}@1",
                     "--metric", f"loss={1 - auc}@1")
            self.cli("runs", "end", run)
            runs.append(run)
        return runs

    def test_runs_list_filter_order_and_max(self):
        runs = self._three_runs()
        listed = self.cli_json("runs", "list", "--experiment", "churn",
                               "--filter", "metrics.auc > 0.8", "--order-by", "metrics.auc DESC")
        self.assertEqual([r["id"] for r in listed], [runs[1], runs[0]])
        rf = self.cli_json("runs", "list", "--experiment", "churn",
                           "--filter", "params.model = 'rf' and tags.team != 't1'")
        self.assertEqual([r["id"] for r in rf], [runs[2], runs[0]])  # newest first
        one = self.cli_json("runs", "list", "--experiment", "churn", "--max", "1",
                            "--order-by", "metrics.auc ASC")
        self.assertEqual([r["id"] for r in one], [runs[2]])
        like = self.cli_json("runs", "list", "--experiment", "churn",
                             "--filter", "attributes.run_name LIKE 'run%'")
        self.assertEqual(len(like), 3)
        table = self.cli("runs", "list", "--experiment", "churn").out
        self.assertIn(runs[0], table)
        self.assertTrue(table.splitlines()[0].split()[0].upper() in ("ID", "RUN"))

    def test_show_compare_metrics_experiments_events(self):
        runs = self._three_runs()
        shown = self.cli_json("runs", "show", runs[1])
        self.assertEqual(shown["params"], {"model": "gb"})
        self.assertEqual(shown["metrics"]["auc"], 0.92)
        self.assertIn("cairn.user", shown["tags"])
        compared = self.cli_json("runs", "compare", runs[0], runs[1])
        self.assertEqual([r["id"] for r in compared], runs[:2])
        self.assertIn("0.92", self.cli("runs", "compare", runs[0], runs[1]).out)
        self.assertEqual(self.cli_json("metrics", runs[0], "auc")[0]["value"], 0.81)
        exps = self.cli_json("experiments")
        self.assertEqual([e["name"] for e in exps], ["churn"])
        events = self.cli_json("events")
        self.assertEqual(events[0]["seq"], 1)
        self.assertEqual(events[0]["type"], "run.start")
        later = self.cli_json("events", "--since", "3")
        self.assertEqual(later[0]["seq"], 3)

    def test_runs_start_prints_only_the_id(self):
        run = self.cli("runs", "start", "--experiment", "x").out
        self.assertRegex(run, r"^[0-9A-HJKMNP-TV-Z]{26}\n$")

    def test_refused_request_exits_1(self):
        run = self.start_run("x")
        self.cli("runs", "log", run, "--param", "a=1")
        r = self.cli("runs", "log", run, "--param", "a=2", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("immutable", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1)
        r = self.cli("runs", "show", "01ARZ3NDEKTSV4RRFFQ69G5FAV", check=False)
        self.assertEqual(r.code, 1)

    def test_bad_usage_exits_2(self):
        for args in (["runs", "frobnicate"], ["nonsense"], ["runs", "log"],
                     ["runs", "log", "X", "--param", "novalue"], ["runs", "show", "not-a-ulid"]):
            r = self.cli(*args, check=False)
            self.assertEqual(r.code, 2, f"{args}: {r.err}")
            self.assertTrue(r.err.strip(), args)

    def test_unreachable_coordinator_exits_3(self):
        r = self.cli("--timeout", "300ms", "experiments", check=False,
                     endpoint="tcp://127.0.0.1:1")
        self.assertEqual(r.code, 3, r.err)

    def test_environment_names_the_coordinator(self):
        import subprocess
        from harness import BIN
        proc = subprocess.run([os.path.join(BIN, "cairn"), "ping", "--json"], capture_output=True,
                              text=True, env={**os.environ, "CAIRN_COORDINATOR": self.coord.endpoint})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("version", proc.stdout)
