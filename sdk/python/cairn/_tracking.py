"""Runs, logging and reads: the Python face of libcairn's cairn_tracker
(writes) and cairn_client (reads). See the package docstring for the rules."""
import atexit
import ctypes
import json
import numbers
import operator
import os
import re
import stat
import sys
import threading
import time

from . import _native as N
from ._native import CairnError

DEFAULT_TIMEOUT = 30.0  # seconds: flush, end of a run, close at exit
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_STATUSES = ("FINISHED", "FAILED", "KILLED")


# ---- process-wide state ----
#
# One tracker and one read client per process, opened on first use. A child
# made by fork() inherits neither (the tracker's sender thread does not exist
# there, a ZeroMQ socket must not cross a fork): it opens its own.

class _State:
    def __init__(self):
        self.lock = threading.RLock()        # opening/closing the handles, the run table
        self.client_lock = threading.Lock()  # a cairn_client serves one thread at a time
        self.tracker = None                  # cairn_tracker *
        self.client = None                   # cairn_client *
        self.runs = {}                       # id -> Run started here and not ended
        self.pid = os.getpid()
        self.exit_hook = False               # _at_exit registered with multiprocessing


_state = _State()
_config = {"endpoint": None, "coordinator": None, "max_queued": 0, "flush_ms": 0,
           "read_timeout": None}


def _after_fork_in_child():
    global _state
    _state = _State()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def configure(endpoint=None, coordinator=None, max_queued=None, flush_ms=None, read_timeout=None):
    """Sets how the tracker and the read client are opened; call it before the first
    use (or after close()). Every argument is optional; None keeps the default:

    endpoint      where writes go (default: libcairn's choice: $CAIRN_AGENT, else
                  $CAIRN_COORDINATOR, else ipc:///run/cairn/agent.sock)
    coordinator   where reads go (default: $CAIRN_COORDINATOR, else the tracker's endpoint)
    max_queued    queued items before calls raise BACKPRESSURE (default 1,000,000)
    flush_ms      the sender sends at least this often (default 50 ms)
    read_timeout  seconds each read request may take (default 5)
    """
    with _state.lock:
        if _state.tracker is not None or _state.client is not None:
            raise CairnError("INVALID_STATE", "cairn.configure() after the tracker was opened; "
                             "call cairn.close() first")
        for key, value in (("endpoint", endpoint), ("coordinator", coordinator),
                           ("max_queued", max_queued), ("flush_ms", flush_ms),
                           ("read_timeout", read_timeout)):
            if value is not None:
                _config[key] = value


def _tracker():
    """The process's cairn_tracker, opened on first use."""
    st = _state
    if st.tracker is not None:
        return st.tracker
    with st.lock:
        if st.tracker is not None:
            return st.tracker
        lib = N.lib()
        opts = N.TrackerOpts()
        if _config["endpoint"]:  # libcairn keeps a copy
            opts.endpoint = _text(_config["endpoint"], "endpoint")
        opts.max_queued = int(_config["max_queued"] or 0)
        opts.flush_ms = int(_config["flush_ms"] or 0)
        err = N.Error()
        t = lib.cairn_tracker_open(ctypes.byref(opts), ctypes.byref(err))
        if not t:
            N.check(err.status or N.STATUS_NAMES.index("INTERNAL_ERROR"), err,
                    "cairn_tracker_open failed")
        st.tracker = t
        _flush_at_multiprocessing_exit(st)
        return t


def _flush_at_multiprocessing_exit(st):
    """A process started by multiprocessing with fork (Linux's default) ends with
    os._exit(): atexit never runs there, multiprocessing's own finalizers do. So
    what it logged would be lost unflushed; _at_exit is registered with them too.
    (Registered when the tracker opens: a fork-started child clears the
    finalizers it inherits before its target runs.) Where both run, at a normal
    interpreter exit, the second call finds nothing left to do."""
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None or st.exit_hook:
        return
    mp_util.Finalize(None, _at_exit, exitpriority=10)
    st.exit_hook = True


def _client():
    """The process's cairn_client for reads. Callers hold _state.client_lock around
    this and the use of the client (locks are always taken client_lock first)."""
    st = _state
    with st.lock:
        if st.client is not None:
            return st.client
        endpoint = _config["coordinator"] or os.environ.get("CAIRN_COORDINATOR")
        if endpoint:
            endpoint = _text(endpoint, "coordinator endpoint")
        else:  # an agent relays reads to its coordinator
            endpoint = N.lib().cairn_tracker_endpoint(_tracker())
        err = N.Error()
        c = N.lib().cairn_client_open(endpoint, ctypes.byref(err))
        if not c:
            N.check(err.status or N.STATUS_NAMES.index("INTERNAL_ERROR"), err,
                    "cairn_client_open failed")
        if _config["read_timeout"]:
            N.lib().cairn_client_set_timeout(c, _ms(_config["read_timeout"]))
        st.client = c
        return c


def _ms(seconds):
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError(f"timeout must be a number of seconds, not {type(seconds).__name__}")
    ms = int(float(seconds) * 1000)
    return max(1, min(ms, (1 << 31) - 1))


# ---- values ----

def _text(s, what):
    """UTF-8 bytes of a str that libcairn takes as a C string."""
    if not isinstance(s, str):
        raise TypeError(f"{what} must be a str, not {type(s).__name__}")
    b = s.encode("utf-8")
    if b"\0" in b:
        raise ValueError(f"{what} contains a NUL character: {s!r}")
    return b


def _string_value(value, what):
    """Params and tags are strings; other values are stringified as MLflow does."""
    return _text(value if isinstance(value, str) else str(value), what)


def _metric_value(key, value):
    """A float for a metric value: a number as MLflow takes it (numbers.Number that
    float() accepts: int, float, Decimal, Fraction, numpy scalars), a bool as
    1.0/0.0, or anything whose .item() gives one of those (numpy.bool_, 0-d arrays)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if not isinstance(value, numbers.Number):
        item = getattr(value, "item", None)  # numpy.bool_, 0-d arrays, tensors
        if callable(item):
            try:
                value = item()
            except (TypeError, ValueError):  # e.g. an array of several values
                pass
            if isinstance(value, bool):
                return 1.0 if value else 0.0
    # A complex number is refused, not cut to its real part (numpy's complex
    # types convert with float(), only warning); Decimal is a Number, not Complex.
    if isinstance(value, numbers.Number) and not (isinstance(value, numbers.Complex) and
                                                  not isinstance(value, numbers.Real)):
        try:
            return float(value)
        except OverflowError:  # an int or Fraction past a double's range
            raise ValueError(f"metric {key!r}: value {value} is too large for a double "
                             "(about 1.8e308 at most)") from None
        except (TypeError, ValueError):
            pass
    raise TypeError(f"metric {key!r}: value must be a real number or a bool, "
                    f"not {type(value).__name__}")


def _int64(value, what):
    v = operator.index(value)
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise ValueError(f"{what} {v} is outside the 64-bit range")
    return v


def _kv_array(mapping, what):
    """A cairn_kv array of the mapping's items, and the bytes it points to."""
    if not hasattr(mapping, "items"):
        raise TypeError(f"{what}s must be a mapping (dict), not {type(mapping).__name__}")
    keep = []
    for key, value in mapping.items():
        keep.append((_text(key, f"{what} key"), _string_value(value, f"{what} {key!r}")))
    arr = (N.KV * len(keep))()
    for i, (k, v) in enumerate(keep):
        arr[i].key, arr[i].value = k, v
    return arr, keep


def _queued(status, what):
    """Checks the status of a call that only queues (no cairn_error to read)."""
    if status == N.OK:
        return
    if status == N.BACKPRESSURE:
        raise CairnError(status, f"{what}: the tracker's queue is full (the agent's spool is "
                         "full or nothing answers); not queued")
    if status == N.LIMIT_EXCEEDED:
        raise CairnError(status, f"{what}: more items in one call than the tracker's queue "
                         "holds (configure max_queued, or log in smaller batches); not queued")
    raise CairnError(status, f"{what}: refused by libcairn (a bad run id or out of memory)")


def _check_readable(local):
    """Raises Python's own error (FileNotFoundError, PermissionError) for a file that
    cannot be read, as MLflow's would. Only a regular file is opened: opening a FIFO
    waits for a writer; libcairn refuses what is not a regular file."""
    if stat.S_ISREG(os.stat(local).st_mode):
        with open(local, "rb"):
            pass


def _artifact_path(local, within):
    """The artifact path of file local stored in directory within (None, "" or "/":
    the run's top), as MLflow names it: within/basename."""
    name = os.fsdecode(os.path.basename(local))  # a bytes path names a str artifact
    within = os.fsdecode(os.fspath(within or "")).strip("/")
    return f"{within}/{name}" if within else name


def _dir_id(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _not_a_loop(above, root, name):
    """False for a directory that is root itself or one above it (a link back up the
    tree); any other, even one reached twice through links, is walked."""
    path = os.path.join(root, name)
    key = _dir_id(path)
    if key in above[root]:
        return False
    above[path] = above[root] | {key}
    return True


def _raise(error):
    raise error  # a directory os.walk could not read


# ---- runs ----

class Run:
    """A run being logged to: what cairn.start_run() returns.

    Use it as a context manager (``with cairn.start_run(...) as run:``): leaving the
    block ends the run FINISHED, or FAILED when an exception escapes (the exception
    propagates); not in a child forked inside the block, whose run it is not.
    Without ``with``, call run.end(); a run still open when the
    interpreter exits is ended then (FAILED after an uncaught exception, else
    FINISHED).

    Logging calls queue and return at once (a background thread of libcairn sends);
    they raise CairnError BACKPRESSURE when the queue is full. A write the receiver
    refuses (a param logged again with another value, a bad key) is reported by the
    next flush(), end() or read as a CairnError.

    Attributes: ``id`` (the run id, a 26-character ULID; also ``run_id``),
    ``experiment``, ``name``, ``status`` (``"RUNNING"`` until end() here).

    ``Run(run_id)`` logs to an existing run, e.g. in a worker process given the id
    (the starting process must have flushed the start first: writes of two
    processes are not ordered with each other). Such a Run is not ended at exit.
    """

    def __init__(self, run_id, experiment=None, name=None):
        self._idb = _text(run_id, "run id")
        self.id = run_id
        self.experiment = experiment
        self.name = name
        self.status = "RUNNING"
        self._pid = os.getpid()

    @property
    def run_id(self):
        return self.id

    def __repr__(self):
        return (f"<cairn.Run id={self.id} experiment={self.experiment!r} name={self.name!r} "
                f"status={self.status}>")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.status != "RUNNING":
            return False  # ended inside the block: keep that status
        if self._pid != os.getpid():
            # A child forked inside the block unwinds a copy of the parent's
            # stack; the run is the parent's, which goes on logging to it.
            return False
        if exc_type is None or (exc_type is SystemExit and exc.code in (None, 0)):
            self.end("FINISHED")
            return False
        try:
            _end_even_if_full(self, "FAILED", DEFAULT_TIMEOUT)
        except CairnError as e:  # never mask the exception that ended the block
            if self.status == "FAILED":  # recorded (or queued): e is about what came before
                print(f"cairn: run {self.id}: ended FAILED; also: {e}", file=sys.stderr)
            else:
                print(f"cairn: run {self.id}: could not record the failure: {e}", file=sys.stderr)
        return False

    # -- params, metrics, tags: queued --

    def log_param(self, key, value):
        """Logs one param. Values are stored as strings, made as MLflow makes them:
        str(value) (``True`` -> "True", ``0.1`` -> "0.1"). Params are immutable: logging
        a key again with another value is refused (reported by the next flush/end)."""
        self.log_params({key: value})

    def log_params(self, params):
        """Logs a dict of params in one batch (see log_param)."""
        arr, keep = _kv_array(params, "param")
        if keep:
            _queued(N.lib().cairn_tracker_log_params(_tracker(), self._idb, arr, len(keep)),
                    "log_params")

    def log_metric(self, key, value, step=0, timestamp=None):
        """Logs one metric point. value: a real number (int, float, numpy scalar,
        0-d array, anything with .item() giving one) or a bool (1.0/0.0); NaN and
        infinities are kept. step: an integer (default 0). timestamp: unix
        milliseconds (default: now)."""
        k = _text(key, "metric key")
        v = _metric_value(key, value)
        s = _int64(step or 0, "step")
        if timestamp is None:
            _queued(N.lib().cairn_tracker_log_metric(_tracker(), self._idb, k, v, s),
                    "log_metric")
        else:
            m = (N.Metric * 1)()
            m[0].key, m[0].value, m[0].step = k, v, s
            m[0].timestamp = _int64(timestamp, "timestamp")
            _queued(N.lib().cairn_tracker_log_metrics(_tracker(), self._idb, m, 1),
                    "log_metric")

    def log_metrics(self, metrics, step=0, timestamp=None):
        """Logs a dict key -> value of metric points at one step, in one call
        (values as in log_metric)."""
        if not hasattr(metrics, "items"):
            raise TypeError(f"metrics must be a mapping (dict), not {type(metrics).__name__}")
        s = _int64(step or 0, "step")
        ts = 0 if timestamp is None else _int64(timestamp, "timestamp")
        keep = [(_text(k, "metric key"), _metric_value(k, v)) for k, v in metrics.items()]
        if not keep:
            return
        arr = (N.Metric * len(keep))()
        for i, (k, v) in enumerate(keep):
            arr[i].key, arr[i].value, arr[i].step, arr[i].timestamp = k, v, s, ts
        _queued(N.lib().cairn_tracker_log_metrics(_tracker(), self._idb, arr, len(keep)),
                "log_metrics")

    def set_tag(self, key, value):
        """Sets one tag (overwrites; the value is str(value) as in MLflow)."""
        self.set_tags({key: value})

    def set_tags(self, tags):
        """Sets a dict of tags in one batch."""
        arr, keep = _kv_array(tags, "tag")
        if keep:
            _queued(N.lib().cairn_tracker_set_tags(_tracker(), self._idb, arr, len(keep)),
                    "set_tags")

    # -- artifacts: synchronous --

    def log_artifact(self, local_path, artifact_path=None):
        """Uploads a local file as an artifact, after everything logged before it,
        and returns once it is acknowledged: ``{"path", "size", "sha256"}``.

        As in MLflow, artifact_path is the *directory* within the run's artifacts:
        ``log_artifact("out/model.pkl")`` stores ``model.pkl``,
        ``log_artifact("out/model.pkl", "models")`` stores ``models/model.pkl``.
        """
        local = os.fspath(local_path)
        if os.path.isdir(local):
            raise IsADirectoryError(f"{local!r} is a directory: use log_artifacts()")
        _check_readable(local)
        return self._upload(local, _artifact_path(local, artifact_path))

    def _upload(self, local, path):
        """Sends one file that log_artifact or log_artifacts checked, stored as path.
        Waits in slices, as flush does, so that Ctrl-C is seen: an interrupted
        upload is given up (made unwatched if the sender has begun it)."""
        out = N.Artifact()
        err = N.Error()
        t = _tracker()
        local_b, path_b = os.fsencode(local), _text(path, "artifact path")  # kept until the end
        upload = ctypes.c_void_p()
        try:
            st = N.lib().cairn_tracker_queue_artifact(t, self._idb, local_b, path_b,
                                                      ctypes.byref(upload), ctypes.byref(err))
            while upload.value:  # queued and not over yet
                st = N.lib().cairn_tracker_await_artifact(t, ctypes.byref(upload), _ms(_SLICE),
                                                          ctypes.byref(out), ctypes.byref(err))
        finally:
            if upload.value:  # an exception between slices: KeyboardInterrupt, mostly
                N.lib().cairn_tracker_abandon_artifact(t, upload)
        N.check(st, err, "log_artifact")
        return {"path": path, "size": out.size, "sha256": out.sha256.decode("ascii")}

    def log_artifacts(self, local_dir, artifact_path=None):
        """Uploads every file under local_dir (in path order), keeping the layout below
        it, under the directory artifact_path (default: the top level). Links to
        directories are followed, as copying the tree would (not a link back up it).
        Every file is opened before the first is sent: a file that cannot be read
        raises without half the tree uploaded. Returns the list of log_artifact()
        results."""
        local_dir = os.fsdecode(os.fspath(local_dir))
        if not os.path.isdir(local_dir):
            raise NotADirectoryError(f"not a directory: {local_dir!r}")
        top = os.fsdecode(os.fspath(artifact_path or "")).strip("/")
        # Every file is found and opened before the first is sent: a tree that
        # cannot be read whole (a dangling link, an unreadable file) raises
        # without leaving half of it uploaded.
        todo = []
        above = {local_dir: {_dir_id(local_dir)}}  # each directory's own and its parents' ids
        for root, dirs, files in os.walk(local_dir, followlinks=True, onerror=_raise):
            dirs[:] = sorted(d for d in dirs if _not_a_loop(above, root, d))
            rel = os.path.relpath(root, local_dir)
            within = "/".join(p for p in (top, "" if rel == "." else rel.replace(os.sep, "/"))
                              if p)
            for f in sorted(files):
                local = os.path.join(root, f)
                _check_readable(local)
                path = _artifact_path(local, within)
                _text(path, "artifact path")
                todo.append((local, path))
        return [self._upload(local, path) for local, path in todo]

    # -- end --

    def end(self, status="FINISHED", timeout=DEFAULT_TIMEOUT):
        """Ends the run (FINISHED, FAILED or KILLED) and waits up to timeout seconds
        until everything logged before is durable. Raises CairnError TIMEOUT when it is
        not (the end stays queued and is sent later), or the first refusal met since
        the last report. Calling it again updates the status (as in MLflow)."""
        status = str(status).upper()
        if status not in _STATUSES:
            raise CairnError("INVALID_PARAMETER_VALUE",
                             f"run status '{status}': expected FINISHED, FAILED or KILLED")
        err = N.Error()
        deadline = time.monotonic() + _ms(timeout) / 1000
        t = _tracker()
        st = N.lib().cairn_tracker_end_run(t, self._idb, _text(status, "status"),
                                           _ms(min(timeout, _SLICE)), ctypes.byref(err))
        if st not in (N.BACKPRESSURE, N.OUT_OF_MEMORY):  # else the end is queued
            self.status = status
            with _state.lock:
                _state.runs.pop(self.id, None)
        if st == N.TIMEOUT:  # queued: wait for it (and what came before) in slices
            _wait_durable(t, N.lib().cairn_tracker_mark(t), _left(deadline), "end_run", timeout)
            return
        N.check(st, err, "end_run")

    def get(self):
        """This run as cairn.get_run() returns it."""
        return get_run(self.id)


def start_run(experiment, run_name=None, tags=None, detect_source=True):
    """Starts a run of experiment (created on first use) and returns its Run.

    The run id is made locally, so this returns at once; the start is sent with
    what is logged next. tags: a dict (values stringified like params).
    detect_source adds the cairn.user, cairn.host and cairn.git.* tags.
    """
    opts = N.RunStartOpts()
    opts.experiment = _text(experiment, "experiment")
    if run_name is not None:
        opts.name = _text(run_name, "run_name")
    arr, keep = _kv_array(tags or {}, "tag")
    opts.tags, opts.n_tags = arr, len(keep)
    opts.detect_source = 1 if detect_source else 0
    out = ctypes.create_string_buffer(N.ID_TEXT_LEN + 1)
    err = N.Error()
    st = N.lib().cairn_tracker_start_run(_tracker(), ctypes.byref(opts), out, ctypes.byref(err))
    N.check(st, err, "start_run")
    run = Run(out.value.decode("ascii"), experiment, run_name)
    with _state.lock:
        _state.runs[run.id] = run
    return run


_SLICE = 0.2  # seconds: the longest one wait inside libcairn lasts


def _wait_durable(t, mark, timeout, what, waited=None):
    """Waits up to timeout seconds for what mark (cairn_tracker_mark) names, in
    slices: Python runs signal handlers only between calls, so one long call would
    hold Ctrl-C off for the whole timeout. Every slice waits for the same mark,
    whatever other threads queue meanwhile. waited: the whole wait, for the message
    (default timeout)."""
    total = _ms(timeout if waited is None else waited)
    deadline = time.monotonic() + _ms(timeout) / 1000
    while True:
        err = N.Error()
        st = N.lib().cairn_tracker_wait(t, mark, _ms(min(_left(deadline), _SLICE)),
                                        ctypes.byref(err))
        if st != N.TIMEOUT or _left(deadline) <= 0:
            break
    if st == N.TIMEOUT:  # say the whole wait, not the last slice
        text = err.message.decode("utf-8", "replace")
        raise CairnError(st, re.sub(r"within \d+ ms", f"within {total} ms", text, count=1))
    N.check(st, err, what)


def flush(timeout=DEFAULT_TIMEOUT):
    """Waits up to timeout seconds until everything logged before the call is durable
    (in the agent's spool, or the coordinator's store when logging to it directly).
    Raises CairnError TIMEOUT when it is not, or the first refusal met since the last
    report. Does nothing when nothing was logged yet in this process."""
    t = _state.tracker
    if t is None:
        return
    _wait_durable(t, N.lib().cairn_tracker_mark(t), timeout, "flush")


def close(timeout=DEFAULT_TIMEOUT):
    """Flushes (up to timeout seconds) and closes the tracker and the read client;
    the next call opens them again. Runs are not ended. Called at interpreter exit;
    no other thread may be logging while it runs."""
    st = _state
    with st.client_lock, st.lock:  # the order every reader takes them in
        t, st.tracker = st.tracker, None
        c, st.client = st.client, None
        if c is not None:
            N.lib().cairn_client_close(c)
        if t is not None:
            err = N.Error()
            N.check(N.lib().cairn_tracker_close(t, _ms(timeout), ctypes.byref(err)), err,
                    "close")


def _left(deadline):
    """Seconds until deadline (a time.monotonic() value), never negative."""
    return max(deadline - time.monotonic(), 0)


def _end_even_if_full(run, status, timeout):
    """Ends run; when the queue is full, waits for it to drain (within timeout
    seconds in all) and ends it then, rather than leave the run RUNNING."""
    deadline = time.monotonic() + timeout
    try:
        run.end(status, timeout)
    except CairnError as e:
        if e.status != "BACKPRESSURE":
            raise
        flush(_left(deadline))
        run.end(status, _left(deadline))


def _at_exit(timeout=DEFAULT_TIMEOUT):
    """Ends the runs started here and not ended, and flushes: within timeout
    seconds in all, however many runs are open (a coordinator that is down
    must not hold the interpreter for a timeout per run)."""
    st = _state
    if st.pid != os.getpid():
        return
    deadline = time.monotonic() + timeout
    # An uncaught exception leaves sys.last_value (interactive sessions keep old ones).
    failed = hasattr(sys, "last_value") and not hasattr(sys, "ps1")
    with st.lock:
        runs = list(st.runs.values())
    for run in runs:
        try:
            _end_even_if_full(run, "FAILED" if failed else "FINISHED", _left(deadline))
        except CairnError as e:
            print(f"cairn: at exit: run {run.id}: {e}", file=sys.stderr)
    try:
        if threading.active_count() > 1:
            # Daemon threads still run and may be inside a tracker call: freeing the
            # tracker under them would crash; flushing is what matters at exit.
            flush(_left(deadline))
        else:
            close(_left(deadline))
    except CairnError as e:
        print(f"cairn: at exit: {e}", file=sys.stderr)


atexit.register(_at_exit)


# ---- reads ----

def _flush_before_read():
    # Read-your-writes when logging straight to the coordinator (through an agent,
    # a read may come before the agent forwarded the writes). Within the read's own
    # timeout: a coordinator that is down fails the read then, not after a flush's
    # 30 s; writes still pending stay queued, and their outcome is reported later.
    if _state.tracker is None:
        return
    try:
        flush(_config["read_timeout"] or 5)
    except CairnError as e:
        if e.status != "TIMEOUT":
            raise


def get_run(run_id):
    """The run as a dict, exactly the JSON of ``cairn runs show RUN --json``
    (docs/cli.md): id, experiment, name, status, start_time, end_time (None while
    running), params, metrics (latest value per key), tags, artifacts.

    Metric values that are NaN or infinite are the *strings* "NaN", "Infinity",
    "-Infinity", as libcairn writes them (JSON has no such numbers). Pending writes
    of this process are flushed first."""
    _flush_before_read()
    rid = _text(run_id, "run id")
    lib = N.lib()
    with _state.client_lock:
        run = ctypes.c_void_p()
        err = N.Error()
        N.check(lib.cairn_run_get(_client(), rid, ctypes.byref(run), ctypes.byref(err)), err,
                "get_run")
        try:
            text = N.take_text(lib.cairn_run_to_json(run))
        finally:
            lib.cairn_run_free(run)
    return json.loads(text)


def search_runs(experiment, filter=None, order_by=None, max_results=None):
    """Runs of an experiment as a list of get_run() dicts (the JSON of ``cairn runs
    list --json``), newest first unless ordered. filter and order_by use MLflow's
    syntax (docs/protocol.md): ``filter="metrics.auc > 0.9 and params.model = 'rf'"``,
    ``order_by=["metrics.auc DESC"]`` (a str is taken as one item). Every page is
    fetched; max_results stops after that many runs. An unknown experiment raises
    CairnError RESOURCE_DOES_NOT_EXIST (as ``cairn runs list`` fails)."""
    if isinstance(order_by, str):
        order_by = [order_by]
    order = [_text(o, "order_by") for o in (order_by or [])]
    if max_results is not None and operator.index(max_results) < 1:
        raise ValueError("max_results must be at least 1")
    _flush_before_read()
    opts = N.SearchOpts()
    opts.experiment = _text(experiment, "experiment")
    if filter:
        opts.filter = _text(filter, "filter")
    order_arr = (ctypes.c_char_p * max(1, len(order)))(*order)
    opts.order_by, opts.n_order_by = order_arr, len(order)
    lib = N.lib()
    runs = []
    token = None
    with _state.client_lock:
        while max_results is None or len(runs) < max_results:
            opts.max = 0 if max_results is None else min(max_results - len(runs), 50000)
            opts.page_token = token
            page = ctypes.POINTER(N.RunList)()
            err = N.Error()
            N.check(lib.cairn_run_search(_client(), ctypes.byref(opts), ctypes.byref(page),
                                         ctypes.byref(err)), err, "search_runs")
            try:
                got = page.contents.count
                token = page.contents.next_page_token  # bytes, copied
                runs += json.loads(N.take_text(lib.cairn_run_list_to_json(page)))
            finally:
                lib.cairn_run_list_free(page)
            if not token or got == 0:
                break
    return runs


def get_metric_history(run_id, key):
    """The whole history of one metric in logging order, as ``cairn metrics RUN KEY
    --json``: a list of {"step", "value", "timestamp"} (NaN/infinities as strings).
    A key the run never logged has an empty history, as in MLflow; an unknown run
    raises CairnError RESOURCE_DOES_NOT_EXIST."""
    _flush_before_read()
    rid, k = _text(run_id, "run id"), _text(key, "metric key")
    lib = N.lib()
    points = []
    offset = 0
    with _state.client_lock:
        while True:
            page = ctypes.POINTER(N.History)()
            err = N.Error()
            st = lib.cairn_metric_history(_client(), rid, k, offset, 0, ctypes.byref(page),
                                          ctypes.byref(err))
            if st == N.RESOURCE_DOES_NOT_EXIST and offset == 0 and \
                    err.message.startswith(b"no metric '"):  # the run is there, the key not
                return []
            N.check(st, err, "get_metric_history")
            try:
                nxt = page.contents.next_offset
                points += json.loads(N.take_text(lib.cairn_history_to_json(page)))
            finally:
                lib.cairn_history_free(page)
            if nxt <= offset:
                break
            offset = nxt
    return points
