"""Events (event.emit, event.list, `cairn agent-events`) and blob.get against a
real coordinator. Requests the CLI does not send go through RawClient: libzmq
through ctypes and a small msgpack codec, so a test builds any frame it needs
(with a chosen message id, or a malformed entry) without a library of its own."""
import ctypes
import ctypes.util
import hashlib
import os
import struct
import time

from harness import CairnTest

# ---- msgpack: the types the protocol uses ----


class RawStr(bytes):
    """Bytes packed as a msgpack str, UTF-8 or not: what a broken client may send."""


def packb(v):
    if isinstance(v, RawStr):
        return b"\xdb" + struct.pack(">I", len(v)) + bytes(v)
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack(">b", v)
        return b"\xcf" + struct.pack(">Q", v) if v >= 0 else b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b"\xdb" + struct.pack(">I", len(b))) + b
    if isinstance(v, (bytes, bytearray)):
        return b"\xc6" + struct.pack(">I", len(v)) + bytes(v)
    if isinstance(v, (list, tuple)):
        return b"\xdd" + struct.pack(">I", len(v)) + b"".join(packb(x) for x in v)
    if isinstance(v, dict):
        return b"\xdf" + struct.pack(">I", len(v)) + b"".join(
            packb(k) + packb(x) for k, x in v.items())
    raise TypeError(f"cannot pack {type(v)}")


def unpackb(data):
    v, end = _unpack(data, 0)
    assert end == len(data), "trailing bytes"
    return v


def _unpack(d, i):
    b = d[i]
    i += 1
    if b < 0x80:
        return b, i
    if b >= 0xe0:
        return b - 256, i
    if 0xa0 <= b < 0xc0:
        return d[i:i + (b & 31)].decode("utf-8", "replace"), i + (b & 31)
    if 0x90 <= b < 0xa0:
        return _items(d, i, b & 15)
    if 0x80 <= b < 0x90:
        return _pairs(d, i, b & 15)
    simple = {0xc0: None, 0xc2: False, 0xc3: True}
    if b in simple:
        return simple[b], i
    sized = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h",
             0xd2: ">i", 0xd3: ">q", 0xca: ">f", 0xcb: ">d"}
    if b in sized:
        n = struct.calcsize(sized[b])
        return struct.unpack(sized[b], d[i:i + n])[0], i + n
    lengths = {0xd9: ">B", 0xda: ">H", 0xdb: ">I", 0xc4: ">B", 0xc5: ">H", 0xc6: ">I",
               0xdc: ">H", 0xdd: ">I", 0xde: ">H", 0xdf: ">I"}
    fmt = lengths[b]
    n = struct.unpack(fmt, d[i:i + struct.calcsize(fmt)])[0]
    i += struct.calcsize(fmt)
    if b in (0xd9, 0xda, 0xdb):
        return d[i:i + n].decode("utf-8", "replace"), i + n
    if b in (0xc4, 0xc5, 0xc6):
        return bytes(d[i:i + n]), i + n
    return _items(d, i, n) if b in (0xdc, 0xdd) else _pairs(d, i, n)


def _items(d, i, n):
    out = []
    for _ in range(n):
        v, i = _unpack(d, i)
        out.append(v)
    return out, i


def _pairs(d, i, n):
    out = {}
    for _ in range(n):
        k, i = _unpack(d, i)
        out[k], i = _unpack(d, i)
    return out, i


# ---- ids ----

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid():
    return struct.pack(">Q", int(time.time() * 1000))[2:] + os.urandom(10)


def ulid_text(b):
    n = int.from_bytes(b, "big")
    return "".join(CROCKFORD[(n >> (5 * (25 - i))) & 31] for i in range(26))


# ---- a raw DEALER ----

_zmq = ctypes.CDLL(ctypes.util.find_library("zmq") or "libzmq.so.5")
_zmq.zmq_ctx_new.restype = ctypes.c_void_p
_zmq.zmq_socket.restype = ctypes.c_void_p
_zmq.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
_zmq.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
_zmq.zmq_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_zmq.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_zmq.zmq_msg_init.argtypes = [ctypes.c_void_p]
_zmq.zmq_msg_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
_zmq.zmq_msg_data.restype = ctypes.c_void_p
_zmq.zmq_msg_data.argtypes = [ctypes.c_void_p]
_zmq.zmq_msg_size.restype = ctypes.c_size_t
_zmq.zmq_msg_size.argtypes = [ctypes.c_void_p]
_zmq.zmq_msg_close.argtypes = [ctypes.c_void_p]
_zmq.zmq_close.argtypes = [ctypes.c_void_p]
_zmq.zmq_ctx_term.argtypes = [ctypes.c_void_p]
ZMQ_DEALER, ZMQ_ROUTING_ID, ZMQ_LINGER, ZMQ_RCVTIMEO = 5, 5, 17, 27


class RawClient:
    """Requests as bytes: {v, id, type, ts, from, body} out, the reply map back."""

    def __init__(self, endpoint, routing_id=None, timeout_ms=10000):
        self.ctx = _zmq.zmq_ctx_new()
        self.sock = _zmq.zmq_socket(self.ctx, ZMQ_DEALER)
        for opt, value in ((ZMQ_LINGER, 0), (ZMQ_RCVTIMEO, timeout_ms)):
            v = ctypes.c_int(value)
            _zmq.zmq_setsockopt(self.sock, opt, ctypes.byref(v), 4)
        if routing_id:
            rid = routing_id.encode()
            _zmq.zmq_setsockopt(self.sock, ZMQ_ROUTING_ID, rid, len(rid))
        assert _zmq.zmq_connect(self.sock, endpoint.encode()) == 0

    def close(self):
        _zmq.zmq_close(self.sock)
        _zmq.zmq_ctx_term(self.ctx)

    def call(self, type_, body, id_=None):
        """The reply map; raises on no reply."""
        frame = packb({"v": 1, "id": id_ or new_ulid(), "type": type_,
                       "ts": time.time_ns(), "from": "test:raw", "body": body})
        assert _zmq.zmq_send(self.sock, frame, len(frame), 0) == len(frame)
        msg = (ctypes.c_uint64 * 8)()  # zmq_msg_t: 64 bytes, aligned
        _zmq.zmq_msg_init(msg)
        try:
            if _zmq.zmq_msg_recv(msg, self.sock, 0) < 0:
                raise TimeoutError(f"no reply to {type_}")
            data = ctypes.string_at(_zmq.zmq_msg_data(msg), _zmq.zmq_msg_size(msg))
        finally:
            _zmq.zmq_msg_close(msg)
        return unpackb(data)

    def send_raw(self, frame):
        """Sends frame as it is, expecting nothing back."""
        assert _zmq.zmq_send(self.sock, frame, len(frame), 0) == len(frame)

    def ok(self, type_, body, id_=None):
        """The body of an ok reply; fails on an error reply."""
        reply = self.call(type_, body, id_)
        assert reply.get("ok") is True, f"{type_} refused: {reply.get('error')}"
        return reply.get("body") or {}


def event(type_, source="tester", time_ms=1_700_000_000_000, **fields):
    return {"type": type_, "source": source, "time": time_ms, "fields": fields}


AGENT_A = "01M8DHWE8PCFDGWMGN5TNG4A16"
AGENT_B = "01M8DHWE8PRAHGPH9GSGTXYWTD"


class RawTest(CairnTest):
    def setUp(self):
        super().setUp()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        super().tearDown()

    def raw(self, routing_id=None):
        c = RawClient(self.coord.endpoint, routing_id)
        self.clients.append(c)
        return c

    def emit(self, events, agent=None, id_=None, client=None):
        body = {"events": events}
        if agent:
            body["agent"] = agent
        return (client or self.raw()).call("event.emit", body, id_)

    def listed(self, *args):
        return self.cli_json("agent-events", *args)


class EmitAndList(RawTest):
    def test_emitted_events_are_listed_with_filters(self):
        r = self.emit([event("drift.psi", "psi", 1_700_000_000_001, feature="age", psi=0.31),
                       event("drift.ks", "ks", 1_700_000_000_002, p=0.5)], agent=AGENT_A)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["body"]["count"], 2)
        self.assertFalse(r["body"]["duplicate"])
        self.emit([event("prediction", "logger", 1_700_000_000_003, y=1, ok=True, tags=["a", 2])],
                  agent=AGENT_B.lower())
        self.emit([event("drift", "psi", 1_700_000_000_004)])

        everything = self.listed()
        self.assertEqual([e["seq"] for e in everything], [1, 2, 3, 4])
        first = everything[0]
        self.assertEqual(list(first), ["seq", "agent", "source", "type", "time", "fields"])
        self.assertEqual(first, {"seq": 1, "agent": AGENT_A, "source": "psi", "type": "drift.psi",
                                 "time": 1_700_000_000_001,
                                 "fields": {"feature": "age", "psi": 0.31}})
        self.assertEqual(everything[2]["agent"], AGENT_B)  # stored in its canonical spelling
        self.assertEqual(everything[2]["fields"], {"y": 1, "ok": True, "tags": ["a", 2]})
        self.assertEqual(everything[3]["agent"], "")

        def seqs(*args):
            return [e["seq"] for e in self.listed(*args)]

        self.assertEqual(seqs("--type", "drift"), [4])
        self.assertEqual(seqs("--type", "drift."), [1, 2])
        self.assertEqual(seqs("--source", "psi"), [1, 4])
        self.assertEqual(seqs("--agent", AGENT_A), [1, 2])
        self.assertEqual(seqs("--agent", AGENT_B.lower()), [3])
        self.assertEqual(seqs("--type", "drift.", "--source", "ks"), [2])
        self.assertEqual(seqs("--since", "3"), [3, 4])
        self.assertEqual(seqs("--max", "2"), [1, 2])
        self.assertEqual(seqs("--type", "nothing"), [])

        table = self.cli("agent-events", "--type", "drift.").out.splitlines()
        self.assertEqual(table[0].split(), ["SEQ", "TIME", "AGENT", "SOURCE", "TYPE", "FIELDS"])
        self.assertEqual(len(table), 3)
        self.assertIn("2023-11-14T22:13:20.001Z", table[1])
        self.assertIn(AGENT_A[-8:], table[1])
        self.assertNotIn(AGENT_A[:10], table[1])
        self.assertTrue(table[1].endswith("feature=age psi=0.31"), table[1])

    def test_bad_options_are_usage_errors(self):
        for args in (["--agent", "gpu-1"], ["--max", "0"], ["--since", "x"], ["extra"]):
            r = self.cli("agent-events", *args, check=False)
            self.assertEqual(r.code, 2, args)
        r = self.cli("agent-events", "--type", "Bad Type", check=False)
        self.assertEqual(r.code, 1)
        self.assertIn("'type'", r.err)

    def test_the_fields_column_is_cut_at_80_columns(self):
        long = "y" * 100
        self.emit([event("wide", "t", note=long, n=1), event("narrow", "t", n=2)])
        [header, wide, narrow] = self.cli("agent-events").out.splitlines()
        start = header.index("FIELDS")
        self.assertEqual(wide[start:], "note=" + "y" * 74 + "…")
        self.assertEqual(narrow[start:], "n=2")
        self.assertEqual(self.listed()[0]["fields"], {"note": long, "n": 1})  # whole in JSON

    def test_pages_are_followed_to_the_end(self):
        for start in (0, 1000, 2000):
            n = 1000 if start < 2000 else 500
            self.raw().ok("event.emit", {"events": [
                event("odd" if (start + i) % 2 else "even", time_ms=start + i, i=start + i)
                for i in range(n)]})
        everything = self.listed()
        self.assertEqual(len(everything), 2500)
        self.assertEqual([e["seq"] for e in everything], list(range(1, 2501)))
        self.assertEqual([e["fields"]["i"] for e in everything], list(range(2500)))
        self.assertEqual(len(self.listed("--max", "1500")), 1500)
        self.assertEqual([e["seq"] for e in self.listed("--since", "2001")], list(range(2001, 2501)))
        odd = self.listed("--type", "odd", "--max", "1200")
        self.assertEqual([e["seq"] for e in odd], list(range(2, 2401, 2)))
        # The protocol's pages: next points past the last event looked at.
        page = self.raw().ok("event.list", {"type": "odd", "max": 3})
        self.assertEqual([e["seq"] for e in page["events"]], [2, 4, 6])
        self.assertEqual(page["next"], 7)
        last = self.raw().ok("event.list", {"since": 2490})
        self.assertNotIn("next", last)

    def test_a_resent_message_is_applied_once(self):
        id_ = new_ulid()
        events = [event("t", i=i) for i in range(3)]
        first = self.emit(events, id_=id_)
        again = self.emit(events, id_=id_)
        self.assertTrue(again["ok"])
        self.assertTrue(again["body"]["duplicate"])
        self.assertEqual(again["body"]["seq"], first["body"]["seq"])
        self.assertEqual(again["body"]["count"], 3)
        self.assertEqual(len(self.listed()), 3)
        audit = [e for e in self.cli_json("events") if e["type"] == "event.emit"]
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit[0]["id"], ulid_text(id_))
        self.assertEqual(audit[0]["summary"], 'events=3 type=t source="tester"')

    def test_malformed_entries_reject_the_whole_message(self):
        good = event("t")
        cases = [
            ([good, good, {**good, "type": "Bad Type"}], "BAD_MESSAGE", "events[2]: 'type'"),
            ([good, {**good, "type": "x" * 65}], "LIMIT_EXCEEDED", "events[1]: 'type'"),
            ([{**good, "source": "s" * 257}], "LIMIT_EXCEEDED", "events[0]: 'source'"),
            ([good, {k: v for k, v in good.items() if k != "time"}], "BAD_MESSAGE",
             "events[1]: missing field 'time'"),
            ([{**good, "time": "now"}], "BAD_MESSAGE", "events[0]: field 'time'"),
            ([{**good, "fields": [1, 2]}], "BAD_MESSAGE", "events[0]: field 'fields'"),
            ([good, "not a map"], "BAD_MESSAGE", "events[1] must be a map"),
            ([], "BAD_MESSAGE", "at least one event"),
            ([good] * 1001, "LIMIT_EXCEEDED", "1001 events"),
        ]
        audit_before = self.cli_json("events")
        for events, code, words in cases:
            r = self.emit(events)
            self.assertIn("error", r, words)
            self.assertEqual(r["error"]["code"], code, words)
            self.assertIn(words, r["error"]["message"])
        r = self.emit([good], agent="gpu-1")
        self.assertEqual(r["error"]["code"], "BAD_MESSAGE")
        self.assertEqual(self.listed(), [])
        self.assertEqual(self.cli_json("events"), audit_before)
        self.emit([good])
        self.assertEqual([e["seq"] for e in self.listed()], [1])  # no sequence was used up

    def test_an_agent_emits_only_as_itself(self):
        me = ulid_text(new_ulid())
        agent = self.raw(routing_id="agent:" + me)
        r = self.emit([event("t")], client=agent)
        self.assertTrue(r["ok"], r)
        r = self.emit([event("t")], agent=AGENT_A, client=agent)
        self.assertEqual(r["error"]["code"], "INVALID_PARAMETER_VALUE")
        self.assertEqual([e["agent"] for e in self.listed()], [me])

    def test_events_survive_a_crash(self):
        ids = []
        for i in range(5):
            r = self.emit([event("t", time_ms=i, i=i), event("u", time_ms=i, i=i)])
            self.assertTrue(r["ok"])
            ids.append(r["body"]["seq"])
        before = self.listed()
        self.coord.kill9()  # every acknowledged event is on disk
        self.coord.start()
        self.assertEqual(self.listed(), before)
        self.assertEqual(len(before), 10)
        self.emit([event("after")])
        self.assertEqual(self.listed()[-1]["seq"], 11)  # the sequence goes on


class BlobGet(RawTest):
    def test_blob_get_reads_an_artifact_by_its_hash_in_chunks(self):
        run = self.start_run("blobs")
        path = os.path.join(self.tmp, "model.bin")
        content = os.urandom((9 << 20) + 12345)
        with open(path, "wb") as f:
            f.write(content)
        self.cli("runs", "log", run, "--artifact", path)
        sha = self.cli_json("runs", "show", run)["artifacts"][0]["sha256"]
        self.assertEqual(sha, hashlib.sha256(content).hexdigest())
        c = self.raw()
        got, offset = b"", 0
        while True:
            body = c.ok("blob.get", {"sha256": sha, "offset": offset, "max": 3 << 20})
            self.assertEqual(body["size"], len(content))
            self.assertEqual(list(body), ["data", "size", "eof"])
            got += body["data"]
            offset += len(body["data"])
            if body["eof"]:
                break
            self.assertEqual(len(body["data"]), 3 << 20)
        self.assertEqual(got, content)
        whole = c.ok("blob.get", {"sha256": sha})  # default: 4 MiB from 0
        self.assertEqual(whole["data"], content[:4 << 20])
        self.assertFalse(whole["eof"])

        unknown = c.call("blob.get", {"sha256": "0" * 64})
        self.assertEqual(unknown["error"]["code"], "RESOURCE_DOES_NOT_EXIST")
        for bad in (sha.upper(), sha[:63], "../" + sha[3:], 42):
            r = c.call("blob.get", {"sha256": bad})
            self.assertEqual(r["error"]["code"], "BAD_MESSAGE", bad)
