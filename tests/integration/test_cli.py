"""Every CLI command against a real coordinator, and its exit codes."""
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time
import unittest

from harness import BIN, CairnTest


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
        # Two values in one request: nothing was logged, and the message says so.
        r = self.cli("runs", "log", run, "--param", "b=1", "--param", "b=2", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("param 'b' is given twice in one request, as '1' and as '2'", r.err)
        self.assertNotIn("b", self.cli_json("runs", "show", run)["params"])

    def test_an_error_naming_a_control_character_stays_one_line(self):
        run = self.start_run("x")
        for args in (["runs", "list", "--experiment", "a\nb"], ["models", "show", "a\nb"],
                     ["metrics", run, "k\r\ney"], ["ping", "--selector", "host=a\nb"]):
            r = self.cli(*args, check=False)
            self.assertEqual(r.code, 1, args)
            self.assertEqual(len(r.err.splitlines()), 1, r.err)
            self.assertRegex(r.err, r"^cairn: [^\n]*'(a b|k  ey|host=a b)'", args)
        r = self.cli("runs", "show", "a\nb", check=False)  # a usage error: the usage follows
        self.assertEqual(r.code, 2)
        self.assertEqual(r.err.splitlines()[0], "cairn: invalid run id 'a b' (expected a "
                                                "26-character ULID)")
        self.assertTrue(r.err.splitlines()[1].startswith("usage: cairn runs show"))

    def test_names_and_values_cannot_drive_the_terminal(self):
        # An escape (C0) or a CSI (C1, U+009B) stored in a name or a value is
        # printed as a space in tables and in errors, never sent as is.
        csi, esc = "\u009b31m", "\x1b]0;title\x07"
        run = self.cli("runs", "start", "--experiment", f"e{csi}", "--tag",
                       f"t=a{esc}{csi}b").out.strip()
        model = os.path.join(self.tmp, f"model{csi}.bin")
        with open(model, "w") as f:
            f.write("weights")
        self.cli("runs", "log", run, "--param", f"p=v{esc}", "--metric", "m=1", "--artifact", model)
        self.cli("models", "register", "m", "--run", run, "--artifact", f"model{csi}.bin",
                 "--input-example", json.dumps({"x": csi}, ensure_ascii=False))
        os.makedirs(os.path.join(self.tmp, "got"))
        outputs = [self.cli("runs", "show", run), self.cli("runs", "list", "--experiment",
                                                           f"e{csi}"),
                   self.cli("experiments"), self.cli("runs", "compare", run, run),
                   self.cli("models", "version", "m/1"),
                   self.cli("models", "get", "m/1", "-o", os.path.join(self.tmp, "got")),
                   self.cli("runs", "list", "--experiment", f"none{csi}", check=False)]
        for r in outputs:
            for text in (r.out, r.err):
                self.assertFalse(any(c in text for c in "\x1b\x07\x9b"), repr(text))
        self.assertIn("t                 a ]0;title  31mb", outputs[0].out)
        self.assertIn("'none 31m'", outputs[-1].err)

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


class Downloads(CairnTest):
    """`artifacts get -o FILE` where FILE is not a plain file, or goes wrong."""

    def setUp(self):
        super().setUp()
        self.run_id = self.start_run("dl")
        self.content = os.urandom(300_000)
        src = os.path.join(self.tmp, "model.bin")
        with open(src, "wb") as f:
            f.write(self.content)
        self.cli("runs", "log", self.run_id, "--artifact", src)

    def get(self, out, *extra, check=True):
        return self.cli("artifacts", "get", self.run_id, "model.bin", "-o", out, *extra,
                        check=check)

    def test_the_json_report_names_the_run_as_the_coordinator_writes_it(self):
        out = os.path.join(self.tmp, "lower.bin")
        r = self.cli("artifacts", "get", self.run_id.lower(), "model.bin", "-o", out, "--json")
        self.assertEqual(r.json(), {"run": self.run_id, "path": "model.bin", "file": out,
                                    "size": len(self.content)})

    def test_a_symbolic_link_is_followed_not_replaced(self):
        target = os.path.join(self.tmp, "target.bin")
        with open(target, "wb") as f:
            f.write(b"old")
        link = os.path.join(self.tmp, "link.bin")
        os.symlink(target, link)
        self.get(link)
        self.assertTrue(os.path.islink(link))
        with open(target, "rb") as f:
            self.assertEqual(f.read(), self.content)
        self.assertEqual([f for f in os.listdir(self.tmp) if ".part-" in f], [])

    def test_a_pipe_is_written_into(self):
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        got = []
        def read():
            with open(fifo, "rb") as f:
                got.append(f.read())
        reader = threading.Thread(target=read)
        reader.start()
        shown = self.get(fifo, "--json").json()
        reader.join(30)
        self.assertEqual(got, [self.content])
        self.assertEqual(shown["size"], len(self.content))  # what went in, not the pipe's size
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))

    def test_standard_output_into_a_pipe_carries_only_the_content(self):
        # /dev/stdout of a pipeline is a link to "pipe:[N]", which names no file.
        for extra in ((), ("--json",)):
            r = subprocess.run([os.path.join(BIN, "cairn"), "--coordinator", self.coord.endpoint,
                                "artifacts", "get", self.run_id, "model.bin", "-o", "/dev/stdout",
                                *extra], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, self.content, extra)
            # the report goes to stderr, where it does not end the content
            if extra:
                self.assertEqual(json.loads(r.stderr)["size"], len(self.content))
            else:
                self.assertEqual(r.stderr.decode(), f"/dev/stdout: {len(self.content)} bytes\n")

    @unittest.skipUnless(os.geteuid() == 0, "making a device node needs root")
    def test_a_device_is_written_into_not_replaced(self):
        null = os.path.join(self.tmp, "null")  # our own /dev/null, safe to get wrong
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        self.assertEqual(self.get(null).out, f"{null}: {len(self.content)} bytes\n")
        self.assertTrue(stat.S_ISCHR(os.lstat(null).st_mode))
        self.assertEqual([f for f in os.listdir(self.tmp) if ".part-" in f], [])

    def test_a_file_name_that_is_not_utf8_keeps_its_json_key(self):
        out = os.path.join(self.tmp, "out").encode() + b"\xe9.bin"
        r = subprocess.run([os.path.join(BIN, "cairn"), "--coordinator", self.coord.endpoint,
                            "artifacts", "get", self.run_id, "model.bin", "-o", out, "--json"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = json.loads(r.stdout)
        self.assertEqual(list(shown), ["run", "path", "file", "size"])
        self.assertTrue(shown["file"].endswith("out\ufffd.bin"), shown["file"])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.content)

    def test_a_directory_is_refused(self):
        r = self.get(self.tmp, check=False)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("is not a regular file, a device or a pipe", r.err)

    def test_an_interrupted_download_leaves_no_partial_file(self):
        out = os.path.join(self.tmp, "out.bin")
        self.coord.proc.send_signal(signal.SIGSTOP)  # the download waits for its first range
        try:
            proc = subprocess.Popen([os.path.join(BIN, "cairn"), "--coordinator",
                                     self.coord.endpoint, "--timeout", "60s", "artifacts", "get",
                                     self.run_id, "model.bin", "-o", out],
                                    stderr=subprocess.PIPE)
            deadline = time.monotonic() + 30
            while not [f for f in os.listdir(self.tmp) if f.startswith("out.bin.part-")]:
                self.assertLess(time.monotonic(), deadline, "no temporary file appeared")
                time.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(30), -signal.SIGTERM)
            proc.stderr.close()
        finally:
            self.coord.proc.send_signal(signal.SIGCONT)
        self.assertEqual([f for f in os.listdir(self.tmp) if f.startswith("out.bin")], [])


class LocalFailures(CairnTest):
    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full")
    def test_output_that_cannot_be_written_fails(self):
        for args in (["runs", "start", "--experiment", "full"], ["experiments", "--json"],
                     ["ping"]):
            with open("/dev/full", "w") as full:
                r = subprocess.run([os.path.join(BIN, "cairn"), "--coordinator",
                                    self.coord.endpoint, *args], stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("writing the output", r.stderr)

    def test_an_artifact_that_cannot_be_stored_stops_the_whole_log(self):
        run = self.start_run("half")
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        tabbed = os.path.join(self.tmp, "tab\tname")
        with open(tabbed, "w") as f:
            f.write("x")
        for artifact, why in ((self.tmp, "not a regular file"), (fifo, "not a regular file"),
                              (tabbed, "control characters")):
            r = self.cli("runs", "log", run, "--param", "b=1", "--artifact", artifact,
                         check=False)
            self.assertEqual(r.code, 1, r.err)
            self.assertIn(why, r.err)
        self.assertEqual(self.cli_json("runs", "show", run)["params"], {})

    def test_an_empty_coordinator_option_is_bad_usage(self):
        # "--coordinator $UNSET" must not fall back to the environment's.
        r = subprocess.run([os.path.join(BIN, "cairn"), "--coordinator", "", "ping"],
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "CAIRN_COORDINATOR": self.coord.endpoint})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--coordinator is empty", r.stderr)

    def test_a_fan_out_waits_at_most_ten_minutes(self):
        for args in (["plugins", "--timeout", "11m"], ["ping", "--selector", "all", "--timeout", "11m"]):
            r = self.cli(*args, check=False)
            self.assertEqual(r.code, 2, f"{args}: {r.err}")
            self.assertIn("at most 10m", r.err)
        r = self.cli("--timeout", "596h", "plugins", "--timeout", "10m", check=False)
        self.assertNotIn("within -", r.err)


def display_width(text):
    import unicodedata
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class Tables(CairnTest):
    def test_columns_align_with_wide_and_combining_characters(self):
        for name in ("学習率スイープ", "長" * 45, "e\u0301" * 45, "plain"):
            self.start_run("wide", "--name", name)
        lines = self.cli("runs", "list", "--experiment", "wide").out.splitlines()
        starts = {display_width(line[:line.index("RUNNING" if i else "STATUS")])
                  for i, line in enumerate(lines)}
        self.assertEqual(len(starts), 1, "\n".join(lines))
        self.assertTrue(any("e\u0301" * 39 + "\u2026" in line for line in lines), lines)

