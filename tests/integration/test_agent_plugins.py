"""cairn-agent with plugins, real processes end to end: loading and refusals,
events from trackers and from the SDK through detectors to the coordinator,
isolated plugins that crash or hang (the agent survives, the plugin is
restarted, the crash reaches the coordinator), deployer commands fanned out
from the CLI."""
import ctypes
import json
import os
import shutil
import signal
import time
import unittest

from harness import BIN, CairnTest, valgrind
from test_agent import Agent
from test_events import _zmq, new_ulid, packb, unpackb

TEST_PLUGINS = os.path.join(os.path.dirname(BIN), "tests", "plugins")


def plugin_conf(plugins, **settings):
    """agent.conf text loading the given plugins from the test plugin dir.
    plugins: [(name, file, isolate, {key: value})]."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)
    entries = []
    for name, file, isolate, config in plugins:
        body = " ".join(f"{k} = {value(v)};" for k, v in config.items())
        entries.append(f'{{ name = "{name}"; path = "{file}"; isolate = {value(isolate)}; '
                       f'config = {{ {body} }}; }}')
    extra = " ".join(f"{k} = {value(v)};" for k, v in settings.items())
    return (f'plugins: {{ dirs = ["{os.path.abspath(TEST_PLUGINS)}"]; {extra}\n'
            f'  load = ( {", ".join(entries)} ); }};\n')


def signal_ignored(pid, sig):
    with open(f"/proc/{pid}/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))
    return bool(mask & (1 << (sig - 1)))


class PluginTest(CairnTest):
    def start_agent(self, plugins, check=True, wrapper=(), extra="", **settings):
        path = os.path.join(self.tmp, "agent.conf")
        with open(path, "w") as f:
            f.write(plugin_conf(plugins, **settings) + extra)
        self.agent = Agent(self.tmp, self.coord.endpoint, ["-c", path], wrapper=wrapper)
        return self.agent.start()

    def tearDown(self):
        agent = getattr(self, "agent", None)
        if agent and agent.alive():
            code = agent.stop()
            self.assertEqual(code, 0, "agent did not exit cleanly:\n" + agent.log())
        super().tearDown()

    def events(self, type_=None):
        args = ["agent-events", "--max", "10000"]
        if type_:
            args += ["--type", type_]
        return self.cli_json(*args)

    def wait_until(self, what, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            got = predicate()
            if got:
                return got
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}\nagent log:\n{self.agent.log()[-4000:]}")
            time.sleep(0.1)

    def wait_events(self, type_, count, timeout=60):
        return self.wait_until(f"{count} {type_} events",
                               lambda: (lambda e: e if len(e) >= count else None)(self.events(type_)),
                               timeout)

    def plugins(self):
        rows = self.cli_json("plugins")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["result"], "ok", rows)
        return {p["name"]: p for p in rows[0]["plugins"]}


class Loading(PluginTest):
    def test_plugins_listed_with_state_and_reasons(self):
        self.start_agent([("ticks", "ticker.so", False, {"interval_ms": 1000}),
                          ("future", "bad_abi.so", False, {}),
                          ("typo", "counter.so", False, {"evry": 3})])
        log = self.agent.log()
        self.assertIn('plugin=future reason="built for plugin ABI 2.0', log)
        self.assertIn("unknown config key 'evry'", log)
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))
        plugins = self.plugins()
        self.assertEqual(plugins["ticks"]["state"], "running")
        self.assertEqual(plugins["ticks"]["kind"], "tracker")
        self.assertEqual(plugins["ticks"]["version"], "1.0")
        self.assertFalse(plugins["ticks"]["isolated"])
        self.assertEqual(plugins["future"]["state"], "failed")
        self.assertIn("ABI 2.0", plugins["future"]["error"])
        self.assertEqual(plugins["typo"]["state"], "failed")
        agent = self.cli_json("agents")[0]
        self.assertIn("ticks", agent.get("plugins", ["ticks"]))

    def test_required_plugins_stop_the_agent(self):
        with self.assertRaises(RuntimeError) as e:
            self.start_agent([("future", "bad_abi.so", False, {})], required=True)
        self.assertIn("plugins.required", str(e.exception))
        self.assertIn("ABI 2.0", str(e.exception))

    def test_plugin_outside_the_directories_is_refused(self):
        self.start_agent([("sh", "/bin/sh", False, {})])
        self.assertIn("/bin/sh is outside the plugin directories", self.agent.log())


class Events(PluginTest):
    def test_tracker_events_reach_the_coordinator(self):
        self.start_agent([("ticks", "ticker.so", False, {"interval_ms": 20, "count": 25})])
        ticks = self.wait_events("tick", 25)
        self.assertEqual(sorted(e["fields"]["n"] for e in ticks), list(range(1, 26)))
        self.assertTrue(all(e["source"] == "ticks" for e in ticks))
        self.assertTrue(all(e["agent"] == self.agent.agent_id for e in ticks))
        time.sleep(0.5)
        self.assertEqual(len(self.events("tick")), 25)  # exactly once

    def test_sdk_writes_reach_a_subscribed_detector(self):
        self.start_agent([("watch", "counter.so", False,
                           {"subscribe": ["run.log"], "field": "metrics.0.1", "every": 1})])
        run = self.cli("runs", "start", "--experiment", "p", endpoint=self.agent.endpoint).out.strip()
        for v in (0.5, 0.75):
            self.cli("runs", "log", run, "--metric", f"auc={v}", endpoint=self.agent.endpoint)
        seen = self.wait_events("seen", 2)
        self.assertEqual(sorted(e["fields"]["value"] for e in seen), [0.5, 0.75])
        self.assertTrue(all(e["fields"]["of"] == "run.log" for e in seen))

    def test_an_event_too_large_for_a_message_is_refused_alone(self):
        # Batched with the ticks, a 2 MB event made the whole event.emit
        # message too large for the coordinator, and every tick with it.
        self.start_agent([("ticks", "ticker.so", False, {"interval_ms": 300, "count": 4}),
                          ("big", "big_emitter.so", False, {"bytes": 2_000_000})])
        ticks = self.wait_events("tick", 4)
        self.assertEqual(sorted(e["fields"]["n"] for e in ticks), [1, 2, 3, 4])
        self.assertEqual(self.events("big"), [])
        self.assertEqual(self.plugins()["big"]["counters"], {"refused": 4})
        self.assertIn("event=plugin_event_too_large plugin=big type=big", self.agent.log())
        self.assertNotIn("spool_rejected", self.agent.log())

    def test_a_batch_is_split_to_fit_the_coordinators_limit(self):
        self.restart_coordinator("limits: { max_message_bytes = 65536; };\n")
        # Three 40 KB events from one tick: each fits, two together do not.
        self.start_agent([("ticks", "ticker.so", False, {"interval_ms": 300, "count": 2}),
                          ("big", "big_emitter.so", False, {"bytes": 40_000, "count": 3})])
        big = self.wait_events("big", 6)
        self.assertEqual(sorted(e["fields"]["n"] for e in big), [0, 0, 1, 1, 2, 2])
        self.assertNotIn("spool_rejected", self.agent.log())

    def test_a_full_spool_refuses_the_emit_itself(self):
        # emit returns -1 when the spool is full, so that a tracker can keep
        # what it could not hand over (jsonl-tail retries the line). The
        # agent took every event and dropped those its spool could not hold
        # later: every tick must be either delivered or refused to the plugin.
        self.coord.stop()
        self.start_agent([("ticks", "ticker.so", False, {"interval_ms": 10, "count": 60})],
                         extra="spool: { max_bytes = 4096; };\n")
        time.sleep(1.5)
        self.coord.start()
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))
        counters = self.wait_until("the ticker's counters", lambda: (
            lambda c: c if c.get("ticks") == 60 else None)(self.plugins()["ticks"]["counters"]))
        refused = counters.get("refused", 0)
        self.assertGreater(refused, 0)
        self.wait_events("tick", 60 - refused)
        time.sleep(0.5)
        self.assertEqual(len(self.events("tick")), 60 - refused, self.agent.log()[-3000:])
        self.assertNotIn("plugin_event_not_spooled", self.agent.log())

    def test_events_survive_an_agent_restart_before_forwarding(self):
        # The coordinator is away: events wait in the spool, across a restart.
        self.coord.stop()
        self.start_agent([("ticks", "ticker.so", False, {"interval_ms": 10, "count": 30})])
        time.sleep(1.5)
        self.assertEqual(self.agent.stop(), 0)
        self.coord.start()
        self.start_agent([])
        ticks = self.wait_events("tick", 30)
        self.assertEqual(len(ticks), 30)


class Isolation(PluginTest):
    def test_a_crashing_plugin_is_restarted_and_reported(self):
        self.start_agent([("victim", "misbehave.so", True, {}),
                          ("trigger", "ticker.so", False,
                           {"type": "crash", "interval_ms": 300, "count": 1}),
                          ("ticks", "ticker.so", False, {"interval_ms": 100})])
        crashed = self.wait_events("plugin.crashed", 1)
        self.assertEqual(crashed[0]["source"], "victim")
        self.assertEqual(crashed[0]["fields"]["signal"], 6)
        self.assertIn("signal 6", crashed[0]["fields"]["reason"])
        started = self.wait_events("started", 2)  # came back
        self.assertNotEqual(started[0]["fields"]["pid"], started[1]["fields"]["pid"])
        self.assertTrue(self.agent.alive())
        plugins = self.wait_until("restarts counted",
                                  lambda: (lambda p: p if p["victim"]["restarts"] == 1 else None)(
                                      self.plugins()))
        self.assertEqual(plugins["victim"]["state"], "running")
        self.assertTrue(plugins["victim"]["isolated"])
        before = len(self.events("tick"))
        self.wait_until("other plugins carry on", lambda: len(self.events("tick")) > before + 3)

    def test_a_plugin_crashing_while_events_stream_to_it(self):
        # Events keep coming to the victim (an echo every millisecond) when
        # it aborts: the agent's next write to it finds the socket closed.
        # That write must fail with EPIPE and count as the crash it is, not
        # kill the agent with SIGPIPE.
        self.start_agent([("victim", "misbehave.so", True, {}),
                          ("flood", "ticker.so", False, {"type": "echo", "interval_ms": 1}),
                          ("trigger", "ticker.so", False,
                           {"type": "crash", "interval_ms": 700, "count": 2})])
        crashed = self.wait_events("plugin.crashed", 1)
        self.assertEqual(crashed[0]["source"], "victim")
        self.wait_events("started", 2)
        time.sleep(1.5)  # the second crash, and events still flowing
        self.assertTrue(self.agent.alive(), f"agent exited with {self.agent.proc.poll()}")
        self.wait_until("the victim running again",
                        lambda: self.plugins()["victim"]["state"] == "running")
        self.assertTrue(self.agent.alive(), f"agent exited with {self.agent.proc.poll()}")

    def test_a_flooding_isolated_plugin_loses_nothing_and_starves_no_one(self):
        # Each tick, an isolated plugin answers with 60,000 events, which its
        # process writes to the agent as fast as it can; another isolated
        # plugin emits an event every millisecond meanwhile. Every event of
        # both must be taken: none dropped for a full emit queue.
        self.start_agent([("trigger", "ticker.so", False, {"interval_ms": 200, "count": 5}),
                          ("flood", "big_emitter.so", True, {"bytes": 8, "count": 60000}),
                          ("steady", "ticker.so", True,
                           {"type": "beat", "interval_ms": 1, "count": 2000})])
        plugins = self.wait_until("every emit made", lambda: (
            lambda p: p if (p["flood"]["counters"].get("emitted") == 300000 and
                            p["steady"]["counters"].get("ticks") == 2000) else None)(
                                self.plugins()), timeout=120)
        self.assertEqual(plugins["flood"]["counters"], {"emitted": 300000})
        self.assertNotIn("refused", plugins["steady"]["counters"])
        self.assertEqual(self.agent.stop(), 0)
        stats = [l for l in self.agent.log().splitlines() if "event=plugin_stats" in l]
        self.assertIn(" emitted=302005 ", stats[-1])  # 5 ticks, 300,000 from the flood, 2,000 beats
        self.assertIn(" dropped=0 ", stats[-1])

    def test_sigpipe_is_ignored_by_the_agent_not_by_plugin_processes(self):
        # A plugin process can die while the agent writes to its socket; the
        # write must fail with EPIPE (a crash, handled as such), not kill the
        # agent with SIGPIPE. Its plugin processes keep the default, as any
        # program expects.
        self.start_agent([("victim", "misbehave.so", True, {})])
        child = self.wait_events("started", 1)[0]["fields"]["pid"]

        self.assertTrue(signal_ignored(self.agent.proc.pid, signal.SIGPIPE))
        self.assertFalse(signal_ignored(child, signal.SIGPIPE))

    def test_an_isolated_plugin_is_logged_loaded_once(self):
        self.start_agent([("victim", "misbehave.so", True, {})])
        self.wait_events("started", 1)
        loaded = [l for l in self.agent.log().splitlines() if "event=plugin_loaded" in l]
        self.assertEqual(len(loaded), 1, loaded)
        self.assertIn("isolated=true", loaded[0])

    def test_a_restarted_child_runs_the_agents_program_not_the_file_now(self):
        # An upgrade replaces the file while the agent runs: a child started
        # again must be the agent's own program, which speaks its protocol.
        exe = os.path.join(self.tmp, "cairn-agent")
        shutil.copy(os.path.join(BIN, "cairn-agent"), exe)
        conf = os.path.join(self.tmp, "agent.conf")
        with open(conf, "w") as f:
            f.write(plugin_conf([("victim", "misbehave.so", True, {})]))
        self.agent = Agent(self.tmp, self.coord.endpoint, ["-c", conf])
        self.agent.command = lambda *extra: [exe, "--data-dir", self.agent.data_dir,
                                             "--sdk-endpoint", self.agent.endpoint,
                                             "--coordinator", self.coord.endpoint, "-c", conf]
        self.agent.start()
        child = self.wait_events("started", 1)[0]["fields"]["pid"]
        with open(exe + ".new", "w") as f:
            f.write("#!/bin/sh\nexit 3\n")
        os.chmod(exe + ".new", 0o755)
        os.rename(exe + ".new", exe)
        os.kill(child, signal.SIGKILL)
        self.wait_events("started", 2)
        self.wait_until("the victim running again",
                        lambda: self.plugins()["victim"]["state"] == "running")

    def test_a_stop_of_the_whole_process_group_lets_plugins_finish(self):
        # systemd's stop (and kill -TERM -PGID) signals every process of the
        # service at once; an isolated plugin must be stopped by the agent,
        # with flush and fini, not die of the signal as a crash.
        self.start_agent([("victim", "misbehave.so", True, {})])
        child = self.wait_events("started", 1)[0]["fields"]["pid"]
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.assertTrue(signal_ignored(child, sig), sig)
        os.kill(child, signal.SIGTERM)
        self.assertEqual(self.agent.stop(), 0)
        self.assertNotIn("event=plugin_crashed", self.agent.log())
        self.assertFalse(os.path.exists(f"/proc/{child}/status") and
                         "zombie" not in open(f"/proc/{child}/status").read())

    @unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
    def test_a_plugin_process_of_another_user_dies_with_the_agent(self):
        # The kernel forgets the parent-death signal when the uid changes.
        os.chmod(self.tmp, 0o711)
        self.start_agent([("victim", "misbehave.so", True, {}),
                          ("trigger", "ticker.so", False,
                           {"type": "hang", "interval_ms": 500, "count": 1})],
                         user="nobody", watchdog_ms=600000)
        child = self.wait_events("started", 1)[0]["fields"]["pid"]
        time.sleep(1.5)  # hung in on_event
        self.agent.kill9()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(f"/proc/{child}"), "the plugin process outlived the agent")

    def test_a_hung_plugin_is_killed_by_the_watchdog(self):
        self.start_agent([("victim", "misbehave.so", True, {}),
                          ("trigger", "ticker.so", False,
                           {"type": "hang", "interval_ms": 300, "count": 1})],
                         watchdog_ms=1000)
        crashed = self.wait_events("plugin.crashed", 1)
        self.assertIn("watchdog", crashed[0]["fields"]["reason"])
        self.wait_events("started", 2)
        self.assertIn("event=plugin_crashed plugin=victim", self.agent.log())

    def deliver_slow_alerts(self, delay_ms, interval_ms, count, watchdog_ms):
        """An isolated notifier whose deliveries take delay_ms gets count alerts,
        one every interval_ms: each must be delivered, and none taken for a hang."""
        self.start_agent([("slow", "flaky_notifier.so", True, {"delay_ms": delay_ms}),
                          ("alerts", "ticker.so", False,
                           {"type": "alert", "interval_ms": interval_ms, "count": count})],
                         watchdog_ms=watchdog_ms)
        self.wait_until(f"{count} deliveries",
                        lambda: self.plugins()["slow"]["counters"].get("ok") == count,
                        timeout=30)
        self.assertNotIn("plugin_crashed", self.agent.log())
        self.assertEqual(self.plugins()["slow"]["restarts"], 0)

    def test_slow_deliveries_one_after_another_are_not_a_hang(self):
        # Each delivery takes 0.6 s, well inside the watchdog; six alerts
        # queued at once take 3.6 s in all. The child must answer between
        # deliveries, not only once it has got through everything queued.
        self.deliver_slow_alerts(delay_ms=600, interval_ms=20, count=6, watchdog_ms=1500)

    def test_a_callback_shorter_than_the_watchdog_is_never_a_hang(self):
        # A callback may begin up to a ping interval after the child's last
        # word; one of 0.9 s under a 1 s watchdog must still be let finish.
        self.deliver_slow_alerts(delay_ms=900, interval_ms=1130, count=4, watchdog_ms=1000)

    def test_a_watchdog_shorter_than_a_second_does_not_kill_a_live_plugin(self):
        self.start_agent([("idle", "flaky_notifier.so", True, {})], watchdog_ms=300)
        time.sleep(2.5)
        self.assertNotIn("plugin_crashed", self.agent.log())
        self.assertEqual(self.plugins()["idle"]["state"], "running")

    def test_every_watch_a_plugin_is_given_fires_and_others_keep_theirs(self):
        # watch_fd takes up to 1024 descriptors. The agent polled only the
        # first 64: the rest never fired, and an isolated plugin whose
        # socket came after them went unheard until the watchdog killed it.
        self.start_agent([("many", "many_watches.so", False, {"fds": 100, "after_ms": 1500}),
                          ("victim", "misbehave.so", True, {}),
                          ("echoes", "ticker.so", False, {"type": "echo", "interval_ms": 200,
                                                          "count": 5})],
                         watchdog_ms=500)
        watched = self.wait_events("watched", 1)[0]["fields"]
        self.assertEqual(watched, {"accepted": 100, "fired": 100})
        self.wait_events("echoed", 5)
        self.assertNotIn("plugin_crashed", self.agent.log())

    @unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
    def test_isolated_children_drop_to_the_configured_user(self):
        os.chmod(self.tmp, 0o711)  # the data directory's parent must be searchable
        self.start_agent([("victim", "misbehave.so", True, {})], user="nobody")
        started = self.wait_events("started", 1)
        self.assertEqual(started[0]["fields"]["uid"], 65534)


class StandInCoordinator:
    """A ROUTER in the coordinator's place, whose envelopes carry a clock of
    its own: it answers every request ok and sends commands."""
    ROUTER, SNDMORE, RCVMORE, LAST_ENDPOINT = 6, 2, 13, 32

    def __init__(self, clock_offset_s):
        self.offset_ns = int(clock_offset_s * 1e9)
        self.ctx = _zmq.zmq_ctx_new()
        self.sock = _zmq.zmq_socket(self.ctx, self.ROUTER)
        for opt, value in ((17, 0), (27, 100)):  # LINGER, RCVTIMEO
            v = ctypes.c_int(value)
            _zmq.zmq_setsockopt(self.sock, opt, ctypes.byref(v), 4)
        assert _zmq.zmq_bind(ctypes.c_void_p(self.sock), b"tcp://127.0.0.1:*") == 0
        buf, size = ctypes.create_string_buffer(256), ctypes.c_size_t(256)
        _zmq.zmq_getsockopt(ctypes.c_void_p(self.sock), self.LAST_ENDPOINT, buf,
                            ctypes.byref(size))
        self.endpoint = buf.value.decode()
        self.agent = None

    def now_ns(self):
        return time.time_ns() + self.offset_ns

    def _recv(self):
        frames = []
        while True:
            msg = (ctypes.c_uint64 * 8)()
            _zmq.zmq_msg_init(msg)
            if _zmq.zmq_msg_recv(msg, self.sock, 0) < 0:
                _zmq.zmq_msg_close(msg)
                return None
            frames.append(ctypes.string_at(_zmq.zmq_msg_data(msg), _zmq.zmq_msg_size(msg)))
            more = _zmq.zmq_msg_more(msg)
            _zmq.zmq_msg_close(msg)
            if not more:
                return frames

    def _send(self, routing, message):
        data = packb(message)
        _zmq.zmq_send(self.sock, routing, len(routing), self.SNDMORE)
        _zmq.zmq_send(self.sock, data, len(data), 0)

    def serve(self, seconds, want=None):
        """Answers requests for up to seconds; returns the first reply whose
        're' is want."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            frames = self._recv()
            if not frames:
                continue
            routing, message = frames[0], unpackb(frames[-1])
            if "re" in message:
                if want is not None and message["re"] == want:
                    return message
                continue
            self.agent = routing
            self._send(routing, {"v": 1, "id": new_ulid(), "type": message["type"],
                                 "ts": self.now_ns(), "from": "coordinator", "re": message["id"],
                                 "ok": True, "body": {}})
        return None

    def command(self, command, args, timeout_ms):
        id_ = new_ulid()
        now_ns = self.now_ns()
        self._send(self.agent, {"v": 1, "id": id_, "type": "command", "ts": now_ns,
                                "from": "coordinator",
                                "body": {"command": command, "args": args,
                                         "deadline": now_ns // 1000000 + timeout_ms}})
        return id_

    def close(self):
        _zmq.zmq_close(self.sock)
        _zmq.zmq_ctx_term(self.ctx)


class Deploy(PluginTest):
    def deploy(self, *extra, check=True):
        r = self.cli("deploy", "churn", "7", "--sha256", "0" * 64, "--selector", "all", "--json",
                     *extra, check=check)
        return r.json() if r.out.strip() else [], r.code

    def test_deploy_is_answered_by_the_deployer(self):
        self.start_agent([("d", "echo_deployer.so", False, {"delay_ms": 100})])
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))
        rows, code = self.deploy()
        self.assertEqual(code, 0, rows)
        self.assertEqual(rows[0]["result"], "ok")
        self.assertEqual(rows[0]["reply"]["model"], "churn")
        self.assertEqual(rows[0]["reply"]["message"], "deployed")
        self.wait_events("command.progress", 1)

    def test_a_coordinator_clock_set_apart_gives_the_command_its_time(self):
        # An agent's clock an hour ahead of the coordinator's (or behind it):
        # the command still has the time it was sent with, on the agent's clock.
        for offset_s in (-3600, 3600):
            coordinator = StandInCoordinator(offset_s)
            self.addCleanup(coordinator.close)
            path = os.path.join(self.tmp, "agent.conf")
            with open(path, "w") as f:
                f.write(plugin_conf([("d", "echo_deployer.so", False, {"delay_ms": 300})]))
            agent = Agent(self.tmp, coordinator.endpoint, ["-c", path], name=f"agent{offset_s}")
            agent.start()
            try:
                self.assertIsNone(coordinator.serve(1.0))
                self.assertIsNotNone(coordinator.agent, "the agent never said hello")
                started = time.monotonic()
                id_ = coordinator.command("deploy", {"model": "churn"}, timeout_ms=5000)
                reply = coordinator.serve(10, want=id_)
                self.assertIsNotNone(reply, "no answer to the command")
                self.assertTrue(reply.get("ok"), (offset_s, reply.get("error")))
                self.assertEqual(reply["body"]["model"], "churn")
                self.assertLess(time.monotonic() - started, 5)
                # One that was out of time when sent is answered TIMEOUT.
                id_ = coordinator.command("deploy", {"model": "churn"}, timeout_ms=-1000)
                reply = coordinator.serve(10, want=id_)
                self.assertEqual(reply["error"]["code"], "TIMEOUT", reply)
            finally:
                self.assertEqual(agent.stop(), 0, agent.log())

    def test_isolated_deployer_and_a_timeout(self):
        self.start_agent([("d", "echo_deployer.so", True, {"delay_ms": 5000})])
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))
        rows, code = self.deploy("--timeout", "2s", check=False)
        self.assertNotEqual(code, 0)
        self.assertNotEqual(rows[0]["result"], "ok")

    def test_an_agent_without_a_deployer_says_so(self):
        self.start_agent([("ticks", "ticker.so", False, {"interval_ms": 1000})])
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))
        rows, code = self.deploy(check=False)
        self.assertEqual(code, 1)
        self.assertEqual(rows[0]["result"], "error")
        self.assertIn("no deployer plugin", rows[0]["error"])


@unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
class FetchAsThePluginUser(PluginTest):
    """A plugin running as plugins.user fetches blobs with its own permissions:
    it must not make the agent, root, write where it may not."""

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o711)
        run = self.start_run("blobs")
        artifact = os.path.join(self.tmp, "payload")
        with open(artifact, "w") as f:
            f.write("from the store\n")
        self.cli("runs", "log", run, "--artifact", artifact)
        self.sha = self.cli_json("runs", "show", run)["artifacts"][0]["sha256"]

    def deploy_into(self, dest):
        self.start_agent([("d", "fetch_deployer.so", True, {"dest": dest})], user="nobody")
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))
        r = self.cli("deploy", "m", "1", "--sha256", self.sha, "--selector", "all", "--json",
                     check=False)
        return r.json()[0]

    def test_a_directory_the_user_cannot_write_is_refused(self):
        root_only = os.path.join(self.tmp, "root-only")
        os.mkdir(root_only, 0o700)
        row = self.deploy_into(os.path.join(root_only, "model.bin"))
        self.assertEqual(row["result"], "error", row)
        self.assertIn("status=-1", row["error"])
        self.assertEqual(os.listdir(root_only), [])
        self.assertIn("event=fetch_not_started", self.agent.log())

    def test_its_own_directory_gets_a_file_it_owns(self):
        mine = os.path.join(self.tmp, "mine")
        os.mkdir(mine, 0o755)
        os.chown(mine, 65534, 65534)
        dest = os.path.join(mine, "model.bin")
        row = self.deploy_into(dest)
        self.assertEqual(row["result"], "ok", row)
        self.assertIn("uid=65534 status=0", row["reply"]["message"])
        self.assertEqual(os.stat(dest).st_uid, 65534)
        with open(dest) as f:
            self.assertEqual(f.read(), "from the store\n")


@unittest.skipIf("sanitize" in BIN, "valgrind cannot run AddressSanitizer builds")
@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class Valgrind(PluginTest):
    def test_agent_with_plugins_shuts_down_clean(self):
        log = os.path.join(self.tmp, "valgrind.log")
        self.start_agent(
            [("ticks", "ticker.so", False, {"interval_ms": 50, "count": 20}),
             ("watch", "counter.so", False, {"subscribe": ["tick", "run.log"], "every": 5}),
             ("victim", "misbehave.so", True, {}),
             ("trigger", "ticker.so", False, {"type": "crash", "interval_ms": 500, "count": 1}),
             ("d", "echo_deployer.so", False, {}),
             ("future", "bad_abi.so", False, {})],
            wrapper=valgrind(log),
            extra="spool: { map_size_mb = 64; };\n")
        self.wait_events("plugin.crashed", 1, timeout=120)
        self.wait_events("started", 2, timeout=120)
        self.wait_until("the agent's hello", lambda: self.cli_json("agents"))
        r = self.cli("deploy", "m", "1", "--sha256", "0" * 64, "--selector", "all", "--json")
        self.assertEqual(r.json()[0]["result"], "ok")
        self.cli_json("plugins")
        self.wait_events("seen", 4, timeout=120)
        self.assert_valgrind_clean(self.agent.stop(timeout=120), log)


if __name__ == "__main__":
    unittest.main()
