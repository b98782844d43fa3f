"""libcairn through ctypes: finding the library, the C structs this package
uses, and a declared prototype (argtypes/restype) for every function it calls.

Nothing here speaks the protocol: every request is libcairn's. The library is
loaded on first use (not at import), so ``import cairn`` works on a machine
without libcairn and the error names the places that were searched.
"""
import ctypes
import ctypes.util
import os
import threading

ID_TEXT_LEN = 26  # CAIRN_ID_TEXT_LEN: a run id as text (a ULID)

# cairn_status values (sdk/include/cairn/status.h); the list only grows at its end.
STATUS_NAMES = (
    "OK", "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS",
    "LIMIT_EXCEEDED", "BAD_MESSAGE", "MESSAGE_TOO_LARGE", "UNSUPPORTED_VERSION",
    "UNKNOWN_TYPE", "STORAGE_ERROR", "TIMEOUT", "TRANSPORT_ERROR", "OUT_OF_MEMORY",
    "IO_ERROR", "INTERNAL_ERROR", "INVALID_STATE", "BACKPRESSURE", "COMMAND_FAILED",
)
OK = 0
TIMEOUT = STATUS_NAMES.index("TIMEOUT")
BACKPRESSURE = STATUS_NAMES.index("BACKPRESSURE")
LIMIT_EXCEEDED = STATUS_NAMES.index("LIMIT_EXCEEDED")
OUT_OF_MEMORY = STATUS_NAMES.index("OUT_OF_MEMORY")
RESOURCE_DOES_NOT_EXIST = STATUS_NAMES.index("RESOURCE_DOES_NOT_EXIST")


class CairnError(Exception):
    """A failure reported by libcairn or by the coordinator (or agent) it talks to.

    ``status`` is the status name, as on the wire and in the CLI
    (``"INVALID_PARAMETER_VALUE"``, ``"TIMEOUT"``, ``"BACKPRESSURE"``, ...),
    ``code`` the C enum value, ``message`` libcairn's one-line message.
    """

    def __init__(self, status, message):
        if isinstance(status, int):
            self.code = status
            self.status = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) \
                else "INTERNAL_ERROR"
        else:
            self.status = status
            self.code = STATUS_NAMES.index(status) if status in STATUS_NAMES else -1
        self.message = message
        super().__init__(f"{self.status}: {message}")

    def __reduce__(self):
        # Pickled as its two arguments: multiprocessing sends a worker's
        # exception back to the parent this way, and one that cannot be
        # rebuilt there leaves Pool.map waiting for ever.
        return (CairnError, (self.status, self.message))


CairnError.__module__ = "cairn"  # raised and documented as cairn.CairnError


# ---- structs (field for field as in sdk/include/cairn/*.h) ----

class Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 512)]


class KV(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class Metric(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_double),
                ("step", ctypes.c_int64), ("timestamp", ctypes.c_int64)]


class Artifact(ctypes.Structure):
    _fields_ = [("path", ctypes.c_char_p), ("size", ctypes.c_uint64),
                ("sha256", ctypes.c_char * 65)]


class RunStartOpts(ctypes.Structure):
    _fields_ = [("experiment", ctypes.c_char_p), ("name", ctypes.c_char_p),
                ("tags", ctypes.POINTER(KV)), ("n_tags", ctypes.c_size_t),
                ("start_time", ctypes.c_int64), ("detect_source", ctypes.c_int)]


class TrackerOpts(ctypes.Structure):
    _fields_ = [("endpoint", ctypes.c_char_p), ("max_queued", ctypes.c_size_t),
                ("flush_ms", ctypes.c_int)]


class SearchOpts(ctypes.Structure):
    _fields_ = [("experiment", ctypes.c_char_p), ("filter", ctypes.c_char_p),
                ("order_by", ctypes.POINTER(ctypes.c_char_p)), ("n_order_by", ctypes.c_size_t),
                ("max", ctypes.c_size_t), ("page_token", ctypes.c_char_p)]


class RunList(ctypes.Structure):
    # Only the header is read here; the runs go to cairn_run_list_to_json.
    _fields_ = [("runs", ctypes.c_void_p), ("count", ctypes.c_size_t),
                ("next_page_token", ctypes.c_char_p)]


class History(ctypes.Structure):
    _fields_ = [("points", ctypes.c_void_p), ("count", ctypes.c_size_t),
                ("total", ctypes.c_uint64), ("next_offset", ctypes.c_uint64)]


_p = ctypes.c_void_p  # opaque pointers: cairn_tracker *, cairn_client *, cairn_run *
_s = ctypes.c_char_p
_st = ctypes.c_int    # cairn_status
_err = ctypes.POINTER(Error)

# name: (restype, argtypes). Functions returning malloc'd text return c_void_p so
# that ctypes does not copy-and-lose the pointer: see take_text().
PROTOTYPES = {
    "cairn_status_name": (_s, [_st]),
    "cairn_free": (None, [_p]),
    # tracker: every write
    "cairn_tracker_open": (_p, [ctypes.POINTER(TrackerOpts), _err]),
    "cairn_tracker_close": (_st, [_p, ctypes.c_int, _err]),
    "cairn_tracker_endpoint": (_s, [_p]),
    # id_out: a ctypes.create_string_buffer(ID_TEXT_LEN + 1)
    "cairn_tracker_start_run": (_st, [_p, ctypes.POINTER(RunStartOpts), _s, _err]),
    "cairn_tracker_log_metric": (_st, [_p, _s, _s, ctypes.c_double, ctypes.c_int64]),
    "cairn_tracker_log_metrics": (_st, [_p, _s, ctypes.POINTER(Metric), ctypes.c_size_t]),
    "cairn_tracker_log_params": (_st, [_p, _s, ctypes.POINTER(KV), ctypes.c_size_t]),
    "cairn_tracker_set_tags": (_st, [_p, _s, ctypes.POINTER(KV), ctypes.c_size_t]),
    "cairn_tracker_log_artifact": (_st, [_p, _s, _s, _s, ctypes.POINTER(Artifact), _err]),
    # upload: a ctypes.c_void_p, set to None by the await that ends it
    "cairn_tracker_queue_artifact": (_st, [_p, _s, _s, _s, ctypes.POINTER(_p), _err]),
    "cairn_tracker_await_artifact": (_st, [_p, ctypes.POINTER(_p), ctypes.c_int,
                                           ctypes.POINTER(Artifact), _err]),
    "cairn_tracker_abandon_artifact": (None, [_p, _p]),
    "cairn_tracker_end_run": (_st, [_p, _s, _s, ctypes.c_int, _err]),
    "cairn_tracker_flush": (_st, [_p, ctypes.c_int, _err]),
    "cairn_tracker_mark": (ctypes.c_uint64, [_p]),
    "cairn_tracker_wait": (_st, [_p, ctypes.c_uint64, ctypes.c_int, _err]),
    # client: every read
    "cairn_client_open": (_p, [_s, _err]),
    "cairn_client_close": (None, [_p]),
    "cairn_client_set_timeout": (None, [_p, ctypes.c_int]),
    "cairn_run_get": (_st, [_p, _s, ctypes.POINTER(_p), _err]),
    "cairn_run_free": (None, [_p]),
    "cairn_run_search": (_st, [_p, ctypes.POINTER(SearchOpts), ctypes.POINTER(ctypes.POINTER(RunList)),
                               _err]),
    "cairn_run_list_free": (None, [ctypes.POINTER(RunList)]),
    "cairn_metric_history": (_st, [_p, _s, _s, ctypes.c_uint64, ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.POINTER(History)), _err]),
    "cairn_history_free": (None, [ctypes.POINTER(History)]),
    # JSON texts: the CLI's --json shapes
    "cairn_run_to_json": (_p, [_p]),
    "cairn_run_list_to_json": (_p, [ctypes.POINTER(RunList)]),
    "cairn_history_to_json": (_p, [ctypes.POINTER(History)]),
}


# Functions a libcairn may lack, and the libc function that stands in for them:
# texts libcairn returns are malloc'd, and libcairn and Python share one libc.
OPTIONAL = {"cairn_free": "free"}


def candidates():
    """Where libcairn is looked for, in order (the first that loads wins)."""
    env = os.environ.get("CAIRN_LIBRARY")
    if env:
        return [env]  # explicit: nothing else is tried
    here = os.path.dirname(os.path.abspath(__file__))
    up3 = os.path.normpath(os.path.join(here, "..", "..", ".."))
    found = [
        # the source tree: sdk/python/cairn/ -> build/lib/
        os.path.join(up3, "build", "lib", "libcairn.so"),
        os.path.join(up3, "build", "lib", "libcairn.so.0"),
        # installed: PREFIX/lib/python3[.X]/dist-packages/cairn/ -> PREFIX/lib/
        os.path.join(up3, "libcairn.so.0"),
    ]
    found = [f for f in found if os.path.exists(f)]
    system = ctypes.util.find_library("cairn")
    if system:
        found.append(system)
    found.append("libcairn.so.0")  # the dynamic linker's own search
    return found


class Functions:
    """The declared functions of the loaded libcairn, as attributes; path: where from."""

    def __init__(self, path):
        self.path = path


_lock = threading.Lock()
_lib = None


def lib():
    """libcairn's functions, each with its prototype declared (loaded once)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in candidates():
            try:
                handle = ctypes.CDLL(path)  # CDLL: calls release the GIL
            except OSError as e:
                tried.append(f"{path} ({e})")
                continue
            missing = [name for name in PROTOTYPES
                       if name not in OPTIONAL and not hasattr(handle, name)]
            if missing:
                tried.append(f"{path} (lacks {', '.join(missing[:3])}"
                             f"{', ...' if len(missing) > 3 else ''}: too old?)")
                continue
            funcs = Functions(path)
            for name, (restype, argtypes) in PROTOTYPES.items():
                fn = getattr(handle, name, None) or getattr(ctypes.CDLL(None), OPTIONAL[name])
                fn.restype = restype
                fn.argtypes = argtypes
                setattr(funcs, name, fn)
            _lib = funcs
            return _lib
        raise CairnError("INTERNAL_ERROR", "cannot load libcairn; set CAIRN_LIBRARY to its path. "
                         "Tried: " + "; ".join(tried))


def take_text(ptr):
    """The str of a malloc'd NUL-terminated text returned by libcairn, freed."""
    if not ptr:
        raise CairnError("OUT_OF_MEMORY", "libcairn could not make the JSON text")
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib().cairn_free(ptr)


def check(status, err=None, what=""):
    """Raises CairnError for a status other than OK."""
    if status == OK:
        return
    message = err.message.decode("utf-8", "replace") if err is not None else ""
    if not message:
        message = what or "libcairn call failed"
    raise CairnError(status, message)
