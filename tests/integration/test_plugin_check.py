"""cairn-plugin-check itself, on the test plugins of tests/plugins: what it
reports and the exit status it gives, as docs/plugins.md describes them."""
import os
import tempfile

from harness import BIN
from test_plugin_harness import PluginCheckTest

TEST_PLUGINS = os.path.join(os.path.dirname(os.path.normpath(BIN)), "tests", "plugins")
ALERT = {"type": "alert", "alert": "slow", "state": "firing"}


class TestPluginCheckTest(PluginCheckTest):
    """PluginCheckTest on a plugin of tests/plugins rather than plugins/."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cairn-plugin-")
        self.so = os.path.join(TEST_PLUGINS, self.PLUGIN + ".so")
        self.assertTrue(os.path.exists(self.so), f"{self.so} is not built")


class Deliveries(TestPluginCheckTest):
    PLUGIN = "flaky_notifier"

    def test_a_delivery_given_up_after_its_retries_fails_the_check(self):
        # Three attempts (1 s, then 2 s apart), all RETRY: the alert is given
        # up, as one answered ERROR is, and the check must not pass.
        out = self.check(expect=1, config=self.config(results=["retry"]), events=[ALERT],
                         run_for=4000)
        self.assertEqual([d["result"] for d in out.of("deliver")], ["retry"] * 3)
        self.assertIn("event=notify_failed", out.err)

    def test_a_retry_then_ok_passes(self):
        out = self.check(config=self.config(results=["retry", "ok"]), events=[ALERT],
                         run_for=1500)
        self.assertEqual([d["result"] for d in out.of("deliver")], ["retry", "ok"])


class Watches(TestPluginCheckTest):
    PLUGIN = "many_watches"

    def test_every_watch_the_host_takes_fires(self):
        out = self.check(config=self.config(fds=100, after_ms=300), run_for=600)
        self.assertEqual(out.fields("watched"), [{"accepted": 100, "fired": 100}])


class Logging(TestPluginCheckTest):
    PLUGIN = "logger"

    def test_an_event_name_cannot_forge_log_lines(self):
        # The event name is documented as [a-z0-9_]; one holding a newline
        # wrote a second line of the plugin's choosing, as another plugin.
        out = self.check(config=self.config(
            event="bad name\nts=x level=error event=forged plugin=other", detail="a\nb"))
        lines = [l for l in out.err.splitlines() if "event=plugin_log" in l or "forged" in l]
        self.assertEqual(len(lines), 1, out.err)
        self.assertIn("plugin=logger what=bad_name_ts_x_level_error_event_forged_plugin_other",
                      lines[0])
        self.assertIn('detail="a\\nb"', lines[0])

    def test_a_well_formed_event_name_is_kept(self):
        out = self.check(config=self.config(event="bad_config", detail="poll_ms too small"))
        self.assertIn('plugin=logger what=bad_config detail="poll_ms too small"', out.err)
