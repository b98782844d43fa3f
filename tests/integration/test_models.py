"""The model registry through the CLI and the Python SDK against a real
coordinator: registering versions, stages, aliases, version references,
rollback, the history and the audit log of every change, downloads by hash,
every refusal, and durability across restarts and kill -9."""
import hashlib
import json
import os
import unittest

from harness import CairnTest
from registry_helpers import PYTHON_SKIP, RegistryMixin
from test_events import CROCKFORD, RawClient, new_ulid

CROCKFORD_VALUE = {ch: i for i, ch in enumerate(CROCKFORD)}

VERSION_KEYS = ["name", "version", "stage", "aliases", "run", "artifact", "description", "tags",
                "signature", "input_example", "creator", "created", "updated"]
MODEL_KEYS = ["name", "description", "created", "updated", "latest_version", "aliases", "stages",
              "tags"]


class Registering(RegistryMixin, CairnTest):
    def test_versions_are_numbered_and_read_back(self):
        sig = {"inputs": [{"name": "age", "type": "long"}, {"name": "plan", "type": "string"}],
               "output": "double"}
        v1, run1, sha1 = self.register("churn", b"first", "--description", "baseline",
                                       "--tag", "team=growth", "--signature", json.dumps(sig),
                                       "--input-example", '{"age": 41, "plan": "pro"}')
        v2, _, _ = self.register("churn")
        v1b, _, _ = self.register("fraud")
        self.assertEqual((v1, v2, v1b), (1, 2, 1))

        v = self.version_json("churn/1")
        self.assertEqual(list(v), VERSION_KEYS)
        self.assertEqual(v["name"], "churn")
        self.assertEqual(v["version"], 1)
        self.assertEqual(v["stage"], "None")
        self.assertEqual(v["aliases"], [])
        self.assertEqual(v["run"], run1)
        self.assertEqual(v["artifact"], {"path": "model.bin", "size": 5, "sha256": sha1})
        self.assertEqual(v["description"], "baseline")
        self.assertEqual(v["tags"], {"team": "growth"})
        self.assertEqual(v["signature"], sig)
        self.assertEqual(json.loads(v["input_example"]), {"age": 41, "plan": "pro"})
        self.assertTrue(v["creator"].startswith("cli:"), v["creator"])
        self.assertGreater(v["created"], 0)
        self.assertIsNone(self.version_json("churn/2")["signature"])
        self.assertIsNone(self.version_json("churn/2")["input_example"])

        models = self.cli_json("models", "list")
        self.assertEqual([m["name"] for m in models], ["churn", "fraud"])
        self.assertEqual(list(models[0]), MODEL_KEYS)
        shown = self.cli_json("models", "show", "churn")
        self.assertEqual(shown["latest_version"], 2)
        self.assertEqual((shown["aliases"], shown["stages"]), ({}, {}))
        versions = self.cli_json("models", "versions", "churn")
        self.assertEqual([x["version"] for x in versions], [1, 2])
        self.assertEqual(versions[0], self.version_json("churn/1"))

        table = self.cli("models", "versions", "churn").out.splitlines()
        self.assertTrue(table[0].startswith("VERSION  STAGE"), table[0])
        self.assertEqual(len(table), 3)
        self.assertIn("age", self.cli("models", "version", "churn/1").out)
        plain = self.cli("models", "version", "churn/2").out
        self.assertIn("stage        None", plain)
        self.assertNotIn("signature", plain)
        self.assertIn("latest_version  2", self.cli("models", "show", "churn").out)
        listed = self.cli("models", "list").out.splitlines()
        self.assertEqual(listed[0].split(), ["NAME", "LATEST", "STAGING", "PRODUCTION", "ALIASES",
                                             "UPDATED"])
        self.assertEqual(listed[1].split()[:5], ["churn", "2", "-", "-", "-"])  # no alias: "-"

    def test_a_page_of_versions_ends_at_16_mib(self):
        # Each version carries ~6 MB of tags: a page of 1,000 such versions
        # could pass what a client takes in one reply, so a page also ends
        # once it passes 16 MiB, and `next` says where the rest begins.
        run = self.artifact_run(b"weights")
        run_id = int(sum(CROCKFORD_VALUE[ch] << (5 * (25 - i)) for i, ch in enumerate(run)))
        raw = RawClient(self.coord.endpoint, timeout_ms=60000)
        self.addCleanup(raw.close)
        tags = {f"t{i:03d}": "x" * 8000 for i in range(750)}
        for _ in range(4):
            raw.ok("model.register", {"name": "heavy", "run": run_id.to_bytes(16, "big"),
                                      "artifact": "model.bin", "tags": tags})
        first = raw.ok("model.versions", {"name": "heavy"})
        self.assertEqual([v["version"] for v in first["versions"]], [1, 2, 3])
        self.assertEqual(first["next"], 4)
        rest = raw.ok("model.versions", {"name": "heavy", "since": 4})
        self.assertEqual([v["version"] for v in rest["versions"]], [4])
        self.assertNotIn("next", rest)
        listed = self.cli_json("models", "versions", "heavy")  # the CLI follows `next`
        self.assertEqual([v["version"] for v in listed], [1, 2, 3, 4])

    def test_create_then_register_and_new(self):
        self.cli("models", "create", "fraud", "--description", "card fraud", "--tag", "owner=risk")
        m = self.cli_json("models", "show", "fraud")
        self.assertEqual((m["description"], m["tags"], m["latest_version"]),
                         ("card fraud", {"owner": "risk"}, None))
        self.refused("models", "create", "fraud", says="model 'fraud' already exists")
        run = self.artifact_run()
        self.refused("models", "register", "fraud", "--run", run, "--artifact", "model.bin", "--new",
                     says="model 'fraud' already exists")
        self.assertEqual(self.cli("models", "register", "brand-new", "--run", run, "--artifact",
                                  "model.bin", "--new").out.strip(), "1")
        self.assertEqual(self.cli("models", "register", "fraud", "--run", run, "--artifact",
                                  "model.bin").out.strip(), "1")

    def test_refusals_name_the_problem(self):
        run = self.artifact_run()
        other = self.start_run("churn")
        self.refused("models", "register", "churn", "--run", other, "--artifact", "model.bin",
                     says=f"run {other} has no artifact 'model.bin'")
        self.refused("models", "register", "churn", "--run", "01M8DEE6BQ3XH394E74QMZV8R1",
                     "--artifact", "model.bin", says="no run with id 01M8DEE6BQ3XH394E74QMZV8R1")
        self.refused("models", "register", "a/b", "--run", run, "--artifact", "model.bin",
                     says="must not hold '@' or '/'")
        self.refused("models", "register", "churn", "--run", "nope", "--artifact", "m", code=2)
        self.refused("models", "register", "churn", "--artifact", "model.bin", code=2,
                     says="--run and --artifact are required")
        self.refused("models", "register", "churn", "--run", run, "--artifact", "model.bin",
                     "--signature", '{"inputs": [{"name": "a"}]}', code=2, says="bad --signature")
        self.refused("models", "register", "churn", "--run", run, "--artifact", "model.bin",
                     "--input-example", "{not json", code=2, says="bad --input-example")
        self.assertEqual(self.cli_json("models", "list"), [])  # nothing was registered

        self.register("churn")
        self.refused("models", "stage", "churn", "1", "Prod",
                     says="unknown stage 'Prod' (expected None, Staging, Production or Archived)")
        self.refused("models", "stage", "churn", "0", "Staging", code=2)
        # Beyond what the registry numbers: a typo, told as usage.
        self.refused("models", "stage", "churn", "4294967296", "Staging", code=2,
                     says="versions go up to 4294967295")
        self.refused("models", "alias", "churn", "champion", "99999999999", code=2,
                     says="versions go up to 4294967295")
        self.refused("models", "rollback", "churn", "--alias", "champion", "--to", "4294967296",
                     code=2, says="versions go up to 4294967295")
        self.refused("models", "stage", "churn", "1", "Archived", "--archive-existing",
                     says="'archive_existing' applies to Staging and Production")
        self.refused("models", "alias", "churn", "champion", "9", says="model 'churn' has no version 9")
        self.refused("models", "alias", "churn", "bad alias", "1", says="alias 'bad alias' must be")
        self.refused("models", "unalias", "churn", "champion", says="model 'churn' has no alias 'champion'")
        self.refused("models", "show", "nope", says="no model named 'nope'")
        self.refused("models", "version", "churn@champion", says="model 'churn' has no alias 'champion'")
        self.refused("models", "version", "churn/Production",
                     says="no version of model 'churn' is in stage Production")
        self.refused("models", "version", "churn/7", says="model 'churn' has no version 7")
        self.refused("models", "version", "churn", code=2, says="bad model version reference")
        for ref in ("churn/1/2", "churn/+1", "churn/Prod-2"):
            self.refused("models", "version", ref, code=2, says="a stage name is letters only")
        self.refused("models", "get", "churn@", code=2, says="no alias after '@'")
        self.refused("models", "rollback", "churn", code=2, says="exactly one of --alias and --stage")
        self.assertEqual(self.cli_json("models", "history", "churn"), [])

    def test_a_tag_named_twice_is_refused(self):
        # A model's or a version's tags are one map: a key given twice would be
        # stored twice, printed twice by `show` and once by --json.
        run = self.artifact_run()
        self.refused("models", "create", "fraud", "--tag", "team=a", "--tag", "team=b",
                     says="tag 'team' is given twice")
        self.refused("models", "register", "churn", "--run", run, "--artifact", "model.bin",
                     "--tag", "team=a", "--tag", "owner=x", "--tag", "team=b",
                     says="tag 'team' is given twice")
        self.assertEqual(self.cli_json("models", "list"), [])
        self.cli("models", "create", "fraud", "--tag", "team=a", "--tag", "owner=x")
        self.assertEqual(self.cli_json("models", "show", "fraud")["tags"],
                         {"owner": "x", "team": "a"})

    def test_version_references(self):
        for _ in range(3):
            self.register("churn")
        self.cli("models", "stage", "churn", "1", "production")
        self.cli("models", "stage", "churn", "2", "STAGING")
        self.cli("models", "alias", "churn", "champion", "1")
        self.cli("models", "alias", "churn", "challenger", "2")
        self.assertEqual(self.version_json("churn/3")["version"], 3)
        self.assertEqual(self.version_json("churn@champion")["version"], 1)
        self.assertEqual(self.version_json("churn/Production")["version"], 1)
        self.assertEqual(self.version_json("churn/staging")["version"], 2)
        self.assertEqual(self.version_json("churn/None")["version"], 3)
        self.assertEqual(self.version_json("churn@challenger")["aliases"], ["challenger"])
        m = self.cli_json("models", "show", "churn")
        self.assertEqual(m["aliases"], {"challenger": 2, "champion": 1})
        self.assertEqual(m["stages"], {"Staging": 2, "Production": 1})
        # Two versions in one stage: the highest is the stage's.
        self.cli("models", "stage", "churn", "3", "Production")
        self.assertEqual(self.version_json("churn/Production")["version"], 3)
        self.assertEqual(self.version_json("churn/1")["stage"], "Production")

    def test_archive_existing(self):
        for _ in range(3):
            self.register("churn")
        self.cli("models", "stage", "churn", "1", "Production")
        self.cli("models", "stage", "churn", "2", "Production")
        self.cli("models", "stage", "churn", "3", "Production", "--archive-existing",
                 "--reason", "v3 wins")
        self.assertEqual([v["stage"] for v in self.cli_json("models", "versions", "churn")],
                         ["Archived", "Archived", "Production"])
        events = self.cli_json("models", "history", "churn")
        self.assertEqual([(e["version"], e["from"], e["to"]) for e in events[2:]],
                         [(3, "None", "Production"), (2, "Production", "Archived"),
                          (1, "Production", "Archived")])
        self.assertEqual({e["reason"] for e in events[2:]}, {"v3 wins"})
        self.assertEqual(len({e["request"] for e in events[2:]}), 1)  # one request

    def test_unchanged_changes_make_no_event(self):
        self.register("churn")
        self.cli("models", "alias", "churn", "champion", "1")
        self.cli("models", "alias", "churn", "champion", "1")
        self.cli("models", "stage", "churn", "1", "Staging")
        self.cli("models", "stage", "churn", "1", "staging")
        self.assertEqual(len(self.cli_json("models", "history", "churn")), 2)
        summaries = [e["summary"] for e in self.cli_json("events") if e["type"].startswith("model.")]
        self.assertTrue(summaries[-1].endswith("unchanged"), summaries[-1])

    @unittest.skipIf(PYTHON_SKIP, "the Python SDK loads the plain build's libcairn")
    def test_many_versions_read_across_pages(self):
        run = self.artifact_run()
        self.py(f"""
            import cairn
            for i in range(1003):
                cairn.register_model("big", {run!r}, "model.bin")
            """)
        versions = self.cli_json("models", "versions", "big")
        self.assertEqual([v["version"] for v in versions], list(range(1, 1004)))


class Rollback(RegistryMixin, CairnTest):
    def promote_alias(self, versions, alias="champion"):
        for v in versions:
            self.cli("models", "alias", "churn", alias, str(v), "--reason", f"promote {v}")

    def rollback(self, *args):
        return self.cli("models", "rollback", "churn", *args).out.strip()

    def test_alias_after_three_promotions(self):
        for _ in range(3):
            self.register("churn")
        self.promote_alias([1, 2, 3])
        self.assertEqual(self.rollback("--alias", "champion", "--reason", "v3 regressed"),
                         "churn@champion: version 2 (was 3)")
        self.assertEqual(self.version_json("churn@champion")["version"], 2)
        self.assertEqual(self.rollback("--alias", "champion"), "churn@champion: version 1 (was 2)")
        self.refused("models", "rollback", "churn", "--alias", "champion",
                     says="alias 'champion' named no version before version 1")
        self.assertEqual(self.version_json("churn@champion")["version"], 1)

        events = self.cli_json("models", "history", "churn")
        self.assertEqual([(e["kind"], e["alias"], e["from"], e["to"], e["rollback"], e["undoes"])
                          for e in events],
                         [("alias", "champion", None, 1, False, None),
                          ("alias", "champion", 1, 2, False, None),
                          ("alias", "champion", 2, 3, False, None),
                          ("alias", "champion", 3, 2, True, 3),
                          ("alias", "champion", 2, 1, True, 2)])
        self.assertEqual(events[3]["reason"], "v3 regressed")
        self.assertEqual(list(events[0]), ["seq", "time", "actor", "request", "kind", "alias", "from",
                                           "to", "rollback", "undoes", "reason"])

        # --to is a change of its own, which a rollback then takes back.
        out = self.cli("models", "rollback", "churn", "--alias", "champion", "--to", "3", "--json")
        self.assertEqual(out.json(), {"name": "churn", "alias": "champion", "version": 3,
                                      "previous": 1})
        self.assertEqual(self.rollback("--alias", "champion"), "churn@champion: version 1 (was 3)")

    def test_stage_after_three_promotions(self):
        for v in (1, 2, 3):
            self.register("churn")
            self.cli("models", "stage", "churn", str(v), "Staging")
            self.cli("models", "stage", "churn", str(v), "Production", "--archive-existing")
        self.assertEqual([v["stage"] for v in self.cli_json("models", "versions", "churn")],
                         ["Archived", "Archived", "Production"])
        self.assertEqual(self.rollback("--stage", "Production"), "churn/Production: version 2 (was 3)")
        self.assertEqual([v["stage"] for v in self.cli_json("models", "versions", "churn")],
                         ["Archived", "Production", "Staging"])
        self.assertEqual(self.rollback("--stage", "production"), "churn/production: version 1 (was 2)")
        self.assertEqual([v["stage"] for v in self.cli_json("models", "versions", "churn")],
                         ["Production", "Staging", "Staging"])
        self.refused("models", "rollback", "churn", "--stage", "Production",
                     says="version 1 is the first to hold Production")
        tail = self.cli_json("models", "history", "churn")[-4:]
        self.assertEqual([(e["version"], e["from"], e["to"], e["rollback"]) for e in tail],
                         [(3, "Production", "Staging", True), (2, "Archived", "Production", True),
                          (2, "Production", "Staging", True), (1, "Archived", "Production", True)])

    def test_stage_whose_earlier_holder_left_by_another_change(self):
        # Version 2 joined Production beside 1, then 1 was archived by a
        # request of its own: undoing 2's promotion would empty the stage,
        # and the refusal must not claim that no version held it before.
        for _ in range(2):
            self.register("churn")
        self.cli("models", "stage", "churn", "1", "Production")
        self.cli("models", "stage", "churn", "2", "Production")
        self.cli("models", "stage", "churn", "2", "Production", "--archive-existing")
        err = self.refused("models", "rollback", "churn", "--stage", "Production",
                           says="would leave Production empty: version 1, which held it before, "
                                "left it by another change; use --to 1")
        self.assertNotIn("first to hold", err)
        self.assertEqual(self.rollback("--stage", "Production", "--to", "1"),
                         "churn/Production: version 1 (was 2)")

    def test_stage_to_a_version(self):
        for _ in range(3):
            self.register("churn")
        self.cli("models", "stage", "churn", "3", "Production")
        self.cli("models", "rollback", "churn", "--stage", "Production", "--to", "1")
        self.assertEqual([v["stage"] for v in self.cli_json("models", "versions", "churn")],
                         ["Production", "None", "Archived"])
        self.assertEqual(self.rollback("--stage", "Production"), "churn/Production: version 3 (was 1)")

    def test_stage_to_its_holder_still_archives_the_others(self):
        for _ in range(3):
            self.register("churn")
        self.cli("models", "stage", "churn", "2", "Production")
        self.cli("models", "stage", "churn", "3", "Production")
        updated = self.cli_json("models", "show", "churn")["updated"]
        out = self.cli("models", "rollback", "churn", "--stage", "Production", "--to", "3", "--json")
        self.assertEqual(out.json()["version"], 3)
        self.assertEqual(self.version_json("churn/2")["stage"], "Archived")
        # Version 2 moved: a change, audited as one and dated on the model.
        summary = [e["summary"] for e in self.cli_json("events")
                   if e["type"] == "model.rollback"][-1]
        self.assertFalse(summary.endswith("unchanged"), summary)
        self.assertGreater(self.cli_json("models", "show", "churn")["updated"], updated)

    def test_a_resent_rollback_is_answered_as_it_was(self):
        raw = RawClient(self.coord.endpoint)
        self.addCleanup(raw.close)
        for _ in range(3):
            self.register("churn")
        self.promote_alias([1, 2, 3])

        def rollback(pointer, id_):
            body = raw.ok("model.rollback", {"name": "churn", **pointer}, id_)
            return body["version"], body.get("previous"), body["duplicate"]

        by_alias = new_ulid()
        self.assertEqual(rollback({"alias": "champion"}, by_alias), (2, 3, False))
        self.promote_alias([1])
        self.assertEqual(rollback({"alias": "champion"}, by_alias), (2, 3, True))
        self.assertEqual(self.version_json("churn@champion")["version"], 1)
        # A stage's holder is its highest version.
        for v in (1, 2, 3):
            self.cli("models", "stage", "churn", str(v), "Production", "--archive-existing")
        by_stage = new_ulid()
        self.assertEqual(rollback({"stage": "Production"}, by_stage), (2, 3, False))
        self.cli("models", "stage", "churn", "3", "Production", "--archive-existing")
        self.assertEqual(rollback({"stage": "Production"}, by_stage), (2, 3, True))
        # One that changed nothing: the holder then, not the holder now.
        unchanged = new_ulid()
        self.assertEqual(rollback({"alias": "champion", "to": 1}, unchanged), (1, 1, False))
        self.promote_alias([2])
        self.assertEqual(rollback({"alias": "champion", "to": 1}, unchanged), (1, 1, True))

    def test_archived_is_not_a_stage_that_archives_others(self):
        for _ in range(3):
            self.register("churn")
        for v in (1, 2):
            self.cli("models", "stage", "churn", str(v), "Archived")
        before = len(self.cli_json("models", "history", "churn"))
        self.cli("models", "rollback", "churn", "--stage", "Archived", "--to", "3")
        self.cli("models", "rollback", "churn", "--stage", "Archived")
        self.assertEqual([v["stage"] for v in self.cli_json("models", "versions", "churn")],
                         ["Archived", "Archived", "None"])
        events = self.cli_json("models", "history", "churn")[before:]
        self.assertEqual([(e["version"], e["from"], e["to"]) for e in events],
                         [(3, "None", "Archived"), (3, "Archived", "None")])

    def test_refused_rollbacks(self):
        self.register("churn")
        self.refused("models", "rollback", "churn", "--alias", "champion",
                     says="alias 'champion' of model 'churn' is not set")
        self.refused("models", "rollback", "churn", "--stage", "Staging",
                     says="no version of model 'churn' is in stage Staging")
        self.refused("models", "rollback", "churn", "--stage", "None", says="not None")
        self.refused("models", "rollback", "churn", "--alias", "champion", "--to", "5",
                     says="model 'churn' has no version 5")
        # --to too: a pointer nothing held has nothing to roll back (set it instead).
        self.refused("models", "rollback", "churn", "--alias", "champion", "--to", "1",
                     says="alias 'champion' of model 'churn' is not set")
        self.refused("models", "rollback", "churn", "--stage", "Production", "--to", "1",
                     says="no version of model 'churn' is in stage Production")
        self.assertEqual(self.cli_json("models", "history", "churn"), [])
        self.refused("models", "rollback", "churn", "--alias", "a", "--stage", "Staging", code=2)
        self.refused("models", "rollback", "nope", "--alias", "a", says="no model named 'nope'")

    def test_audit_trail_of_promote_and_rollback(self):
        for _ in range(2):
            self.register("churn")
        self.cli("models", "stage", "churn", "1", "Production", "--reason", "first release")
        self.cli("models", "alias", "churn", "champion", "1")
        self.cli("models", "stage", "churn", "2", "Production", "--archive-existing",
                 "--reason", "better auc")
        self.cli("models", "alias", "churn", "champion", "2")
        self.cli("models", "rollback", "churn", "--alias", "champion", "--reason", "alerts")
        self.cli("models", "rollback", "churn", "--stage", "Production", "--reason", "alerts")

        audit = [e for e in self.cli_json("events") if e["type"].startswith("model.")]
        self.assertEqual([e["type"] for e in audit],
                         ["model.register", "model.register", "model.stage", "model.alias",
                          "model.stage", "model.alias", "model.rollback", "model.rollback"])
        self.assertTrue(all(e["from"].startswith("cli:") for e in audit))
        self.assertEqual([e["summary"] for e in audit[2:]], [
            'model="churn" version=1 stage=Production from=None archived=0',
            'model="churn" alias="champion" version=1 from=0',
            'model="churn" version=2 stage=Production from=None archived=1',
            'model="churn" alias="champion" version=2 from=1',
            'model="churn" alias="champion" from=2 to=1 undoes=5',
            'model="churn" stage=Production from=2 to=1 undoes=3'])
        self.assertTrue(audit[0]["summary"].startswith('model="churn" version=1 run='))

        # Each history event names the audit entry of the request that made it.
        ids = {e["id"]: e["type"] for e in audit}
        history = self.cli_json("models", "history", "churn")
        self.assertEqual([ids[e["request"]] for e in history],
                         ["model.stage", "model.alias", "model.stage", "model.stage", "model.alias",
                          "model.rollback", "model.rollback", "model.rollback"])
        self.assertEqual([e["reason"] for e in history],
                         ["first release", "", "better auc", "better auc", "", "alerts", "alerts",
                          "alerts"])
        table = self.cli("models", "history", "churn").out
        self.assertIn("rollback: alias champion: 2 -> 1 (undoes 5)", table)
        self.assertIn("version 1: Production -> Archived", table)


    def test_audit_names_the_longest_alias_whole(self):
        for _ in range(2):
            self.register("churn")
        alias = "a" * 63 + "z"  # 64, the longest an alias may be
        self.cli("models", "alias", "churn", alias, "1")
        self.cli("models", "alias", "churn", alias, "2")
        self.cli("models", "rollback", "churn", "--alias", alias)
        audit = [e["summary"] for e in self.cli_json("events")
                 if e["type"] in ("model.alias", "model.rollback")]
        self.assertEqual(audit, [f'model="churn" alias="{alias}" version=1 from=0',
                                 f'model="churn" alias="{alias}" version=2 from=1',
                                 f'model="churn" alias="{alias}" from=2 to=1 undoes=2'])

    def test_audit_cuts_a_long_name_between_characters(self):
        name = "x" + "\u00e9" * 40  # 81 bytes: cut at 64, inside an é
        self.cli("models", "create", name)
        [created] = [e["summary"] for e in self.cli_json("events") if e["type"] == "model.create"]
        self.assertNotIn("\ufffd", created)
        self.assertIn("x" + "\u00e9" * 31, created)


class Downloads(RegistryMixin, CairnTest):
    def test_get_downloads_the_registered_bytes(self):
        content = os.urandom(3 << 20)
        version, run, sha = self.register("churn", content)
        self.cli("models", "alias", "churn", "champion", str(version))
        # The run's path is uploaded again: the version still names what it registered.
        newer = os.path.join(self.tmp, "model.bin")
        with open(newer, "wb") as f:
            f.write(b"something else")
        self.cli("runs", "log", run, "--artifact", newer)
        out = os.path.join(self.tmp, "dl", "deep")
        r = self.cli("models", "get", "churn@champion", "-o", out, "--json").json()
        self.assertEqual(r, {"name": "churn", "version": 1, "file": os.path.join(out, "model.bin"),
                             "size": 3 << 20, "sha256": sha})
        with open(r["file"], "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha)
        self.assertEqual(os.listdir(out), ["model.bin"])  # no temporary file left
        plain = self.cli("models", "get", "churn/1", "-o", out).out
        self.assertEqual(plain.strip(), f"{out}/model.bin: {3 << 20} bytes")
        self.refused("models", "get", "churn@nope", "-o", out, says="has no alias 'nope'")


class Durability(RegistryMixin, CairnTest):
    def state(self):
        return (self.cli_json("models", "versions", "churn"), self.cli_json("models", "history", "churn"),
                self.cli_json("models", "show", "churn"))

    def test_restart_keeps_everything(self):
        for _ in range(2):
            self.register("churn")
        self.cli("models", "stage", "churn", "2", "Production")
        self.cli("models", "alias", "churn", "champion", "2")
        before = self.state()
        self.assertEqual(self.coord.stop(), 0)
        self.coord.start()
        self.assertEqual(self.state(), before)
        self.assertEqual(self.register("churn")[0], 3)

    def test_acknowledged_changes_survive_kill9(self):
        for _ in range(3):
            self.register("churn")
        for v in (1, 2, 3):
            self.cli("models", "alias", "churn", "champion", str(v))
        self.cli("models", "rollback", "churn", "--alias", "champion")  # acknowledged: durable
        before = self.state()
        self.coord.kill9()
        self.coord.start()
        self.assertEqual(self.state(), before)
        self.assertEqual(self.version_json("churn@champion")["version"], 2)
        self.assertEqual(self.cli("models", "rollback", "churn", "--alias", "champion").out.strip(),
                         "churn@champion: version 1 (was 2)")


@unittest.skipIf(PYTHON_SKIP, "the Python SDK loads the plain build's libcairn")
class PythonRegistry(RegistryMixin, CairnTest):
    def test_register_get_alias_download(self):
        content = os.urandom(100000)
        path = os.path.join(self.tmp, "model.pkl")
        with open(path, "wb") as f:
            f.write(content)
        r = self.py(f"""
            import json
            import cairn

            with cairn.start_run(experiment="churn", run_name="py") as run:
                run.log_metric("auc", 0.93)
                run.log_artifact({path!r})
            v = cairn.register_model("churn", run.id, "model.pkl", description="from python",
                                     tags={{"team": "growth"}},
                                     signature={{"inputs": [{{"name": "age", "type": "long"}}],
                                                "output": "double"}},
                                     input_example={{"age": 40}})
            v2 = cairn.register_model("churn", run.id, "model.pkl")
            cairn.set_alias("churn", "champion", v, reason="best auc")
            cairn.set_stage("churn", v2, "staging")
            got = cairn.get_model_version("churn@champion")
            file = cairn.download_model("churn@champion", {os.path.join(self.tmp, "dl")!r})
            cairn.set_alias("churn", "champion", v2)
            back = cairn.rollback("churn", alias="champion")
            errors = []
            for call in (lambda: cairn.get_model_version("churn@nope"),
                         lambda: cairn.register_model("churn", run.id, "missing.bin"),
                         lambda: cairn.register_model("churn", run.id, "model.pkl", new=True),
                         lambda: cairn.set_alias("churn", "champion", 9),
                         lambda: cairn.set_stage("churn", 1, "Prod")):
                try:
                    call()
                except cairn.CairnError as e:
                    errors.append(e.status)
            print(json.dumps({{"v": v, "v2": v2, "got": got, "file": file, "back": back,
                              "errors": errors}}))
            """)
        out = json.loads(r.out)
        self.assertEqual((out["v"], out["v2"], out["back"]), (1, 2, 1))
        self.assertEqual(out["got"], self.version_json("churn/1"))
        self.assertEqual(out["got"]["aliases"], ["champion"])
        self.assertEqual(out["got"]["signature"], {"inputs": [{"name": "age", "type": "long"}],
                                                   "output": "double"})
        self.assertEqual(out["got"]["input_example"], '{"age": 40}')
        self.assertTrue(out["got"]["creator"].startswith("sdk:"))
        with open(out["file"], "rb") as f:
            self.assertEqual(f.read(), content)
        self.assertEqual(out["errors"], ["RESOURCE_DOES_NOT_EXIST", "RESOURCE_DOES_NOT_EXIST",
                                         "RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST",
                                         "INVALID_PARAMETER_VALUE"])
        self.assertEqual(self.version_json("churn/Staging")["version"], 2)
        history = self.cli_json("models", "history", "churn")
        self.assertEqual(history[0]["reason"], "best auc")
        self.assertTrue(history[0]["actor"].startswith("sdk:"))


if __name__ == "__main__":
    unittest.main()
