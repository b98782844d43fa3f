"""Artifacts when things go wrong: blobs damaged on disk, uploads resent or
cut short, and names that are not clean text."""
import hashlib
import os
import subprocess
import time

from harness import BIN, CairnTest
from test_events import RawClient, RawStr, new_ulid, ulid_text


class DamagedBlobs(CairnTest):
    """A blob file changed or cut on disk behind the coordinator's back."""

    def upload(self, run, content, name="model.bin"):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        self.cli("runs", "log", run, "--artifact", path)
        return path

    def blob_file(self, content):
        sha = hashlib.sha256(content).hexdigest()
        return os.path.join(self.coord.data_dir, "blobs", sha[:2], sha[2:])

    def test_uploading_the_content_again_repairs_a_corrupted_blob(self):
        run = self.start_run("damage")
        content = os.urandom(3 << 20)
        self.upload(run, content)
        with open(self.blob_file(content), "r+b") as f:  # the same size, other bytes
            f.seek(1000)
            f.write(b"rot!")
        out = os.path.join(self.tmp, "out.bin")
        r = self.cli("artifacts", "get", run, "model.bin", "-o", out, check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("downloaded sha256", r.err)
        self.assertFalse(os.path.exists(out), "nothing damaged is kept")
        self.upload(run, content)  # the verified upload replaces the damaged file
        self.cli("artifacts", "get", run, "model.bin", "-o", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content)

    def test_a_truncated_blob_is_refused_as_damaged_not_served_short(self):
        raw = RawClient(self.coord.endpoint)
        self.addCleanup(raw.close)
        run = new_ulid()
        raw.ok("run.start", {"run": run, "experiment": "damage"})
        content = os.urandom(3 << 20)
        self.upload(ulid_text(run), content)
        with open(self.blob_file(content), "r+b") as f:
            f.truncate(100)
        # Not 100 bytes and eof false, which leaves a client asking for the
        # rest of a file that is not there.
        reply = raw.call("artifact.get", {"run": run, "path": "model.bin"})
        self.assertEqual(reply["error"]["code"], "IO_ERROR", reply)
        self.assertIn("holds 100 bytes, its record 3145728: damaged", reply["error"]["message"])
        r = self.cli("artifacts", "get", ulid_text(run), "model.bin", "-o",
                     os.path.join(self.tmp, "out.bin"), check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("damaged", r.err)
        self.assertTrue(self.coord.alive())


class UploadProtocol(CairnTest):
    def setUp(self):
        super().setUp()
        self.raw = RawClient(self.coord.endpoint)
        self.addCleanup(self.raw.close)
        self.run_id = new_ulid()
        self.raw.ok("run.start", {"run": self.run_id, "experiment": "uploads"})

    def put(self, upload, offset, data, last=False, path="model.bin", id_=None):
        return self.raw.call("artifact.put", {"upload": upload, "run": self.run_id, "path": path,
                                              "offset": offset, "data": data, "last": last}, id_)

    def parts(self):
        return os.listdir(os.path.join(self.coord.data_dir, "blobs", "tmp"))

    def test_an_abandoned_upload_expires_on_time(self):
        self.restart_coordinator("uploads: { idle_timeout_s = 1; };\n")
        self.raw = RawClient(self.coord.endpoint)  # the old one is closed by its cleanup
        self.addCleanup(self.raw.close)
        self.assertTrue(self.put(new_ulid(), 0, b"a" * 1000)["ok"])
        self.assertEqual(len(self.parts()), 1)
        deadline = time.monotonic() + 3  # 1 s idle, checked every 0.25 s
        while self.parts() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.parts(), [])
        self.assertIn("event=uploads_expired count=1", self.coord.log())

    def test_a_last_chunk_answered_as_a_resend_ends_its_upload(self):
        # An agent that lost the reply to a last chunk uploads the file again
        # under a new upload id, ending with the same last chunk: that one is
        # answered from its dedup record, and the copy the new upload wrote
        # so far is removed at once rather than held until it expires.
        last_id = new_ulid()
        first = new_ulid()
        self.assertTrue(self.put(first, 0, b"a" * 1000)["ok"])
        stored = self.put(first, 1000, b"b" * 10, last=True, id_=last_id)
        self.assertFalse(stored["body"]["duplicate"])
        again = new_ulid()
        self.assertTrue(self.put(again, 0, b"a" * 1000)["ok"])
        self.assertEqual(len(self.parts()), 1)
        resent = self.put(again, 1000, b"b" * 10, last=True, id_=last_id)
        self.assertTrue(resent["body"]["duplicate"])
        self.assertEqual(resent["body"]["sha256"], stored["body"]["sha256"])
        self.assertEqual(self.parts(), [])
        # The upload is gone: a chunk sent to it starts nothing halfway.
        late = self.put(again, 1010, b"c")
        self.assertEqual(late["error"]["code"], "INVALID_STATE")

    def test_a_last_chunk_with_another_sha256_stores_nothing(self):
        kept = self.put(new_ulid(), 0, b"kept", last=True)["body"]
        up = new_ulid()
        self.assertTrue(self.put(up, 0, b"changed ")["ok"])
        r = self.raw.call("artifact.put", {
            "upload": up, "run": self.run_id, "path": "model.bin", "offset": 8,
            "data": b"on the way", "last": True,
            "sha256": hashlib.sha256(b"what the sender read").hexdigest()})
        self.assertEqual(r["error"]["code"], "INVALID_PARAMETER_VALUE", r)
        self.assertIn("the 18 bytes received have sha256 "
                      + hashlib.sha256(b"changed on the way").hexdigest(), r["error"]["message"])
        self.assertEqual(self.parts(), [])
        listed = self.raw.ok("run.get", {"run": self.run_id})["run"]["artifacts"]
        self.assertEqual(listed, [["model.bin", 4, kept["sha256"]]])
        good = self.raw.ok("artifact.put", {
            "upload": new_ulid(), "run": self.run_id, "path": "model.bin", "offset": 0,
            "data": b"right", "last": True, "sha256": hashlib.sha256(b"right").hexdigest()})
        self.assertEqual(good["size"], 5)

    def test_artifact_paths_must_be_clean_utf8_text(self):
        # run.get lists paths as msgpack str and the CLI's JSON shows them:
        # a path that is not UTF-8 would be listed under a name that cannot
        # be downloaded.
        for bad in (b"model\xff.bin", b"\xc0\xafetc", b"del\x7f", b"half\xe2\x82"):
            r = self.put(new_ulid(), 0, b"x", last=True, path=RawStr(bad))
            self.assertEqual(r["error"]["code"], "INVALID_PARAMETER_VALUE", bad)
        listed = self.raw.ok("run.get", {"run": self.run_id})["run"]["artifacts"]
        self.assertEqual(listed, [])
        ok = self.put(new_ulid(), 0, b"x", last=True, path="mod\u00e8le/\u6a21\u578b.bin")
        self.assertTrue(ok["ok"], ok)

    def test_the_cli_refuses_a_file_name_that_is_not_utf8(self):
        run = self.cli("runs", "start", "--experiment", "names").out.strip()
        name = os.path.join(os.fsencode(self.tmp), b"weights\xff.bin")
        with open(name, "wb") as f:
            f.write(b"w")
        # The message names the file as given, bytes and all: read as bytes.
        r = subprocess.run([os.path.join(BIN, "cairn"), "--coordinator", self.coord.endpoint,
                            "runs", "log", run, "--artifact", name], capture_output=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"artifact path is not valid UTF-8", r.stderr)
        self.assertEqual(self.cli_json("runs", "show", run)["artifacts"], [])
