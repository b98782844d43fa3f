"""The coordinator as a daemon: config errors, logs, clean shutdown."""
import os
import shlex
import signal
import subprocess

from harness import BIN, CairnTest


class Daemon(CairnTest):
    def _run(self, *args):
        return subprocess.run([os.path.join(BIN, "cairn-coordinator"), *args],
                              capture_output=True, text=True, timeout=20)

    def _conf(self, text):
        path = os.path.join(self.tmp, "bad.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_usage_errors_exit_2_and_help_exits_0(self):
        for daemon in ("cairn-coordinator", "cairn-agent"):
            with self.subTest(daemon=daemon):
                run = lambda *a: subprocess.run([os.path.join(BIN, daemon), *a],
                                                capture_output=True, text=True, timeout=20)
                for args in (["--bogus"], ["stray"], ["--data-dir"]):
                    r = run(*args)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(f"usage: {daemon}", r.stderr)
                r = run("--help")
                self.assertEqual(r.returncode, 0)
                self.assertIn(f"usage: {daemon}", r.stdout)
                r = run("--version")
                self.assertEqual(r.returncode, 0)
                self.assertRegex(r.stdout, rf"^{daemon} \d+\.\d+\.\d+\n$")

    def test_unknown_setting_is_refused(self):
        r = self._run("-c", self._conf('listne = "tcp://127.0.0.1:1";\n'))
        self.assertEqual(r.returncode, 78)  # EX_CONFIG: systemd does not restart it
        self.assertIn("unknown setting 'listne'", r.stderr)

    def test_syntax_error_names_the_line(self):
        r = self._run("-c", self._conf('listen = "x"\nstore: {\n'))
        self.assertEqual(r.returncode, 78)
        self.assertIn("bad.conf:", r.stderr)

    def test_missing_config_file(self):
        r = self._run("-c", os.path.join(self.tmp, "nope.conf"))
        self.assertEqual(r.returncode, 78)
        self.assertIn("nope.conf", r.stderr)

    def test_an_unreadable_config_file_says_why(self):
        r = self._run("-c", self.tmp)  # a directory
        self.assertEqual(r.returncode, 78)
        self.assertIn(f"cannot read config file {self.tmp}: it is a directory", r.stderr)

    def test_bad_endpoint(self):
        r = self._run("--data-dir", os.path.join(self.tmp, "d"), "--listen", "bogus://x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bind", r.stderr)

    def test_second_coordinator_on_the_same_data_dir_is_refused(self):
        run = self.start_run("lock")
        self.cli("runs", "log", run, "--metric", "a=1@0")
        r = self._run("--data-dir", self.coord.data_dir, "--listen", "tcp://127.0.0.1:*")
        self.assertEqual(r.returncode, 1)
        self.assertIn("another cairn-coordinator is running on data directory", r.stderr)
        # The first one serves on, its store untouched.
        self.cli("runs", "log", run, "--metric", "a=2@1")
        points = self.cli_json("metrics", run, "a")
        self.assertEqual([p["value"] for p in points], [1, 2])
        # Once it stops, the directory is free again.
        self.assertEqual(self.coord.stop(), 0)
        self.coord.start()
        self.assertEqual(len(self.cli_json("metrics", run, "a")), 2)

    def test_an_ipc_endpoint_in_use_is_refused_and_a_stale_one_taken(self):
        from harness import Coordinator
        sock = f"ipc://{self.tmp}/coordinator.sock"
        first = Coordinator(os.path.join(self.tmp, "first"), listen=sock).start()
        self.addCleanup(lambda: first.alive() and first.stop())
        r = self._run("--data-dir", os.path.join(self.tmp, "second"), "--listen", sock)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another process is serving that socket", r.stderr)
        self.cli("ping", endpoint=sock)  # the first one is still reached
        # A socket left by a crash is no one's: the next coordinator takes it.
        first.kill9()
        second = Coordinator(os.path.join(self.tmp, "second"), listen=sock).start()
        self.addCleanup(second.stop)
        self.cli("ping", endpoint=sock)

    def test_paths_with_spaces_and_quotes_stay_one_value_in_the_log(self):
        from harness import Coordinator
        from test_agent import Agent
        odd = 'a "b" c=d'
        coord = Coordinator(os.path.join(self.tmp, odd + " coordinator")).start()
        self.addCleanup(lambda: coord.alive() and coord.stop())
        agent = Agent(self.tmp, coord.endpoint, name=odd).start()
        self.addCleanup(lambda: agent.alive() and agent.stop())

        def fields(log):
            line = next(l for l in log.splitlines() if "event=listening" in l)
            return dict(kv.split("=", 1) for kv in shlex.split(line))
        self.assertEqual(fields(coord.log())["data_dir"], coord.data_dir)
        listening = fields(agent.log())
        self.assertEqual(listening["data_dir"], agent.data_dir)
        self.assertEqual(listening["sdk_endpoint"], agent.endpoint)
        self.assertEqual(listening["coordinator"], coord.endpoint)  # plain: left bare
        self.assertIn(f"coordinator={coord.endpoint} ", agent.log())
        self.assertEqual(agent.stop(), 0)

    def test_sighup_is_logged_and_ignored(self):
        # A logrotate postrotate or a closed terminal must not stop it.
        run = self.start_run("hup")
        self.coord.proc.send_signal(signal.SIGHUP)
        self.cli("runs", "log", run, "--metric", "a=1@0")
        self.assertTrue(self.coord.alive())
        self.assertEqual(self.coord.stop(), 0)
        self.assertIn("event=signal_ignored signal=HUP", self.coord.log())
        self.assertIn("event=stopped", self.coord.log())

    def test_a_closed_stderr_does_not_kill_it(self):
        # Logs go to stderr; whoever reads it (a pipe, journald) may go away.
        # The next log line must fail quietly, not end the process (SIGPIPE).
        self.coord.stop()
        proc = subprocess.Popen([os.path.join(BIN, "cairn-coordinator"), "--data-dir",
                                 self.coord.data_dir, "--listen", "tcp://127.0.0.1:*"],
                                stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            while "event=listening" not in line:
                line = proc.stderr.readline()
            endpoint = line.split("endpoint=")[1].split()[0]
            proc.stderr.close()
            self.cli("ping", endpoint=endpoint)
            proc.send_signal(signal.SIGTERM)  # logs "stopping": a write to the closed pipe
            self.assertEqual(proc.wait(timeout=20), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_shipped_config_is_valid(self):
        here = os.path.dirname(os.path.abspath(__file__))
        conf = os.path.join(here, "..", "..", "conf", "coordinator.conf")
        self.coord.stop()
        self.coord.extra_args = ["-c", conf]
        self.coord.start()
        self.cli("ping")

    def test_sigterm_exits_cleanly_with_logs(self):
        self.cli("ping")
        self.assertEqual(self.coord.stop(), 0)
        log = self.coord.log()
        for event in ("event=listening", "event=stopping", "event=stats", "event=stopped"):
            self.assertIn(event, log)
        for line in log.splitlines():
            self.assertRegex(line, r"^ts=\S+ level=\w+ event=\w+")
