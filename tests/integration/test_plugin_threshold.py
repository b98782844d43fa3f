"""threshold raises and resolves alerts through cairn-plugin-check."""
from test_plugin_harness import PluginCheckTest


def latency(value):
    return {"type": "prediction", "latency_ms": value}


class Threshold(PluginCheckTest):
    PLUGIN = "threshold"

    def alerts(self, events, **config):
        conf = self.config(**{"event_type": "prediction", "field": "latency_ms", **config})
        out = self.check(config=conf, events=events)
        return out, out.fields("alert")

    def test_fires_after_n_consecutive_and_resolves_on_the_first_value_back(self):
        out, alerts = self.alerts(
            [latency(v) for v in (150, 150, 50, 150, 150, 180, 200, 90, 95)],
            above=100.0, consecutive=3, alert_name="slow")
        self.assertEqual(alerts, [
            {"alert": "slow", "state": "firing", "field": "latency_ms", "value": 180.0,
             "bound": 100.0, "direction": "above", "consecutive": 3,
             "source_event_type": "prediction"},
            {"alert": "slow", "state": "resolved", "field": "latency_ms", "value": 90.0,
             "bound": 100.0, "direction": "above", "consecutive": 3,
             "source_event_type": "prediction"}])
        counters = out.counters()
        self.assertEqual((counters.get("firing"), counters.get("resolved")), (1, 1))
        self.assertEqual(out.emits()[0]["source"], "threshold")

    def test_fires_again_only_after_a_new_streak(self):
        _, alerts = self.alerts([latency(v) for v in (150, 50, 150, 50, 150, 150, 50)],
                                above=100, consecutive=2)
        self.assertEqual([a["state"] for a in alerts], ["firing", "resolved"])
        self.assertEqual(alerts[0]["alert"], "threshold")  # the default name

    def test_missing_or_non_numeric_values_neither_extend_nor_break_the_streak(self):
        events = [latency(150), {"type": "prediction"}, latency("slow"), latency(150),
                  {"type": "prediction", "other": 1}, latency(150)]
        out, alerts = self.alerts(events, above=100, consecutive=3)
        self.assertEqual([(a["state"], a["value"]) for a in alerts], [("firing", 150.0)])
        self.assertEqual(out.counters().get("missing"), 3)
        self.assertEqual(out.counters().get("events"), 6)

    def test_below_bound_on_a_nested_path(self):
        events = [{"type": "prediction", "metrics": {"accuracy": v}} for v in (0.9, 0.7, 0.6, 0.95)]
        _, alerts = self.alerts(events, field="metrics.accuracy", below=0.8, consecutive=2)
        self.assertEqual([(a["state"], a["value"], a["bound"], a["direction"]) for a in alerts],
                         [("firing", 0.6, 0.8, "below"), ("resolved", 0.95, 0.8, "below")])

    def test_a_band_fires_on_either_side(self):
        _, alerts = self.alerts([latency(v) for v in (5, 500, 50)], above=100, below=10,
                                consecutive=2)
        self.assertEqual([(a["state"], a["direction"]) for a in alerts],
                         [("firing", "above"), ("resolved", "above")])

    def test_integer_bounds_and_values_are_accepted(self):
        _, alerts = self.alerts([latency(101)], above=100, consecutive=1)
        self.assertEqual(alerts[0]["value"], 101.0)

    def test_bad_configuration_is_refused(self):
        base = {"event_type": "prediction", "field": "latency_ms"}
        for bad in ({}, {"above": 1.0, "below": 2.0}, {"above": 1.0, "consecutive": 0}):
            out = self.check(expect=1, config=self.config(**base, **bad))
            self.assertIn("bad_config", out.err)
        self.check(expect=1, config=self.config(field="x", above=1.0))  # no event_type
