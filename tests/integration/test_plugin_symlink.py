"""The symlink deployer installs, switches, reloads and rolls back through
cairn-plugin-check."""
import hashlib
import os

from test_plugin_harness import PluginCheckTest


class Symlink(PluginCheckTest):
    PLUGIN = "symlink"

    def setUp(self):
        super().setUp()
        self.root = self.path("models")
        os.mkdir(self.root)
        self.blobs = {}  # version -> (path, sha256)
        for version in ("v1", "v2", "v3"):
            path = self.path(f"artifact-{version}")
            data = f"weights of {version}\n".encode()
            with open(path, "wb") as f:
                f.write(data)
            self.blobs[version] = (path, hashlib.sha256(data).hexdigest())

    def deploy(self, version, model="m", id_=None):
        return {"type": "deploy", "id": id_ or f"deploy-{version}", "model": model,
                "version": version, "sha256": self.blobs[version][1]}

    def run_commands(self, *commands, expect=0, blobs=None, **config):
        conf = self.config(root=self.root, **config)
        blobs = [p for p, _ in self.blobs.values()] if blobs is None else blobs
        return self.check(expect=expect, config=conf, commands=commands, blobs=blobs)

    def current(self, model="m"):
        return os.readlink(os.path.join(self.root, model, "current"))

    def installed(self, version, model="m"):
        with open(os.path.join(self.root, model, "current", "model"), "rb") as f:
            return f.read() == f"weights of {version}\n".encode()

    def test_deploy_installs_the_artifact_and_points_current_at_it(self):
        out = self.run_commands(self.deploy("v1"))
        done = out.done("deploy-v1")
        self.assertEqual(done["result"], "ok", done)
        path = os.path.join(self.root, "m", "versions", "v1", "model")
        self.assertEqual(done["fields"], {"model": "m", "version": "v1", "path": path,
                                          "previous": ""})
        self.assertEqual(self.current(), "versions/v1")
        self.assertTrue(self.installed("v1"))
        self.assertTrue(out.of("progress"), "no progress reported")
        # Nothing of the plugin's scratch is left behind.
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "m", "versions"))), ["v1"])

    def test_models_deploy_independently(self):
        out = self.run_commands(self.deploy("v1", model="a", id_="a"),
                                self.deploy("v2", model="b", id_="b"))
        self.assertEqual([out.done(i)["result"] for i in ("a", "b")], ["ok", "ok"])
        self.assertEqual((self.current("a"), self.current("b")), ("versions/v1", "versions/v2"))

    def test_redeploying_the_current_version_changes_nothing(self):
        self.run_commands(self.deploy("v1"))
        reloads = self.path("reloads")
        out = self.run_commands(self.deploy("v1", id_="again"), blobs=[],
                                reload_command=f"echo reloaded >> {reloads}")
        done = out.done("again")
        self.assertEqual((done["result"], done["fields"]["previous"]), ("ok", "v1"))
        self.assertEqual(self.current(), "versions/v1")
        self.assertFalse(os.path.exists(reloads), "an idempotent deploy ran the reload")

    def test_deploy_then_rollback_returns_to_the_version_before(self):
        # One run each: a command for a model still busy would be answered retry.
        for version in ("v1", "v2", "v3"):
            out = self.run_commands(self.deploy(version))
        self.assertEqual(out.done("deploy-v3")["fields"]["previous"], "v2")
        self.assertEqual(self.current(), "versions/v3")

        out = self.run_commands({"type": "rollback", "id": "r1", "model": "m"})
        done = out.done("r1")
        self.assertEqual((done["result"], done["fields"]["version"], done["fields"]["previous"]),
                         ("ok", "v2", "v3"))
        self.assertEqual(self.current(), "versions/v2")
        self.assertTrue(self.installed("v2"))

        out = self.run_commands({"type": "rollback", "id": "r2", "model": "m"})
        self.assertEqual(out.done("r2")["fields"]["version"], "v1")
        out = self.run_commands({"type": "rollback", "id": "r3", "model": "m"}, expect=1)
        self.assertEqual(out.done("r3")["result"], "error")
        self.assertEqual(self.current(), "versions/v1")

    def test_reload_command_gets_the_model_version_and_path(self):
        reloads = self.path("reloads")
        self.run_commands(
            self.deploy("v1"),
            reload_command=f'echo "$CAIRN_MODEL $CAIRN_VERSION $CAIRN_PATH" >> {reloads}')
        with open(reloads) as f:
            self.assertEqual(f.read().split(),
                             ["m", "v1", os.path.join(self.root, "m", "versions", "v1", "model")])

    def test_a_failed_reload_restores_the_previous_link(self):
        self.run_commands(self.deploy("v1"))
        out = self.run_commands(self.deploy("v2"), expect=1,
                                reload_command='test "$CAIRN_VERSION" != v2')
        done = out.done("deploy-v2")
        self.assertEqual(done["result"], "error")
        self.assertIn("reload failed", done["message"])
        self.assertEqual(self.current(), "versions/v1")
        # The failed version is not in the history: a rollback goes nowhere.
        out = self.run_commands({"type": "rollback", "id": "r", "model": "m"}, expect=1)
        self.assertEqual(self.current(), "versions/v1")

    def test_a_reload_that_hangs_is_killed_and_undone(self):
        self.run_commands(self.deploy("v1"))
        out = self.run_commands(self.deploy("v2"), expect=1, reload_command="sleep 30",
                                reload_timeout_ms=300)
        self.assertIn("timed out", out.done("deploy-v2")["message"])
        self.assertEqual(self.current(), "versions/v1")

    def test_a_first_deploy_whose_reload_fails_leaves_no_current(self):
        out = self.run_commands(self.deploy("v1"), expect=1, reload_command="exit 3")
        self.assertIn("exit status 3", out.done("deploy-v1")["message"])
        self.assertFalse(os.path.lexists(os.path.join(self.root, "m", "current")))

    def test_an_artifact_that_cannot_be_fetched_changes_nothing(self):
        self.run_commands(self.deploy("v1"))
        unknown = {"type": "deploy", "id": "bad", "model": "m", "version": "v9",
                   "sha256": "0" * 64}
        out = self.run_commands(unknown, expect=1)
        self.assertEqual(out.done("bad")["result"], "error")
        self.assertEqual(self.current(), "versions/v1")
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "m", "versions"))), ["v1"])

    def test_unsafe_names_are_refused(self):
        bad = [{"model": "../escape"}, {"model": "a/b"}, {"model": ""}, {"model": ".hidden"},
               {"version": ".."}, {"version": "x/../../y"}, {"sha256": "not-hex"}]
        commands = [{**self.deploy("v1", id_=f"bad-{i}"), **b} for i, b in enumerate(bad)]
        out = self.run_commands(*commands, expect=1)
        for i in range(len(bad)):
            self.assertEqual(out.done(f"bad-{i}")["result"], "error", bad[i])
        self.assertEqual(os.listdir(self.root), [])

    def test_unknown_commands_are_answered_with_an_error(self):
        out = self.run_commands({"type": "explode", "id": "x", "model": "m"}, expect=1)
        self.assertIn("unknown command", out.done("x")["message"])

    def test_bad_configuration_is_refused(self):
        for conf in (self.config(root="relative"),
                     self.config(root=self.path("missing")),
                     self.config(root=self.root, file_name="../x"),
                     self.config(root=self.root, reload_timeout_ms=0)):
            out = self.check(expect=1, config=conf)
            self.assertIn("bad_config", out.err)
