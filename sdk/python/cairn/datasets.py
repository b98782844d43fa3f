"""Datasets from Python: Run.log_dataset (hash a file or directory, link it to
the run) and the reads get_dataset / list_datasets, over libcairn's
cairn_tracker_log_dataset, cairn_dataset_get and cairn_dataset_list_all.

A dataset version is its content: the sha256 of a file, or of a directory the
Merkle hash docs/sdk.md defines ("Datasets"). The same content logged again
under the same name is the same version; new content is the next version.
"""
import ctypes
import os
import threading

from . import _native as N
from . import _tracking as T


class DatasetDigest(ctypes.Structure):
    # cairn_dataset_digest (sdk/include/cairn/client.h)
    _fields_ = [("hash", ctypes.c_char * 65), ("size", ctypes.c_uint64),
                ("files", ctypes.c_uint64)]


_p, _s, _st, _err = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(N.Error)

PROTOTYPES = {
    "cairn_tracker_log_dataset": (_st, [_p, _s, _s, _s, _s, ctypes.POINTER(DatasetDigest), _err]),
    "cairn_dataset_hash": (_st, [_s, ctypes.c_int, ctypes.POINTER(DatasetDigest), _err]),
    "cairn_dataset_get": (_st, [_p, _s, ctypes.POINTER(_p), _err]),
    "cairn_dataset_free": (None, [_p]),
    "cairn_dataset_to_json": (_p, [_p]),
    "cairn_dataset_list_all": (_st, [_p, ctypes.POINTER(_p), _err]),
    "cairn_dataset_list_free": (None, [_p]),
    "cairn_dataset_list_to_json": (_p, [_p]),
}

_lock = threading.Lock()
_funcs = None


def _lib():
    """The dataset functions of the libcairn _native loaded, with their prototypes."""
    global _funcs
    with _lock:
        if _funcs is None:
            handle = ctypes.CDLL(N.lib().path)  # the same library: dlopen counts references
            funcs = N.Functions(N.lib().path)
            for name, (restype, argtypes) in PROTOTYPES.items():
                fn = getattr(handle, name, None)
                if fn is None:
                    raise N.CairnError("INTERNAL_ERROR", f"{N.lib().path} lacks {name}: too old?")
                fn.restype, fn.argtypes = restype, argtypes
                setattr(funcs, name, fn)
            _funcs = funcs
    return _funcs


def _digest_dict(d):
    return {"hash": d.hash.decode("ascii"), "size": d.size, "files": d.files}


def hash_dataset(path, progress=True):
    """The content hash of a file or directory without logging it:
    ``{"hash", "size", "files"}``. progress: a progress line on stderr when it is a
    terminal and the input is over 64 MiB."""
    out, err = DatasetDigest(), N.Error()
    st = _lib().cairn_dataset_hash(os.fsencode(os.fspath(path)), 1 if progress else 0,
                                   ctypes.byref(out), ctypes.byref(err))
    N.check(st, err, "hash_dataset")
    return _digest_dict(out)


def log_dataset(run, path, name=None, context="training"):
    """Hashes path (a file, or a directory: see docs/sdk.md) in this thread, which
    takes as long as reading it, then queues its dataset.log, linking this run to
    that version of dataset ``name`` (default: the base name of path) with the
    context ("training", "validation", "test", or any name of a-z, 0-9, '.', '_',
    '-'; None for none). Sent like the run's other writes (durable through the
    agent's spool). A name or context the coordinator would refuse raises
    CairnError here; a refusal made there (an unknown run) is reported by the next
    flush or end.
    Returns ``{"name", "hash", "size", "files", "context"}``."""
    local = os.fspath(path)
    if name is None:
        name = os.fsdecode(os.path.basename(os.path.normpath(os.path.abspath(local))))
    out, err = DatasetDigest(), N.Error()
    st = _lib().cairn_tracker_log_dataset(
        T._tracker(), run._idb, os.fsencode(local), T._text(name, "dataset name"),
        None if context is None else T._text(context, "context"), ctypes.byref(out),
        ctypes.byref(err))
    N.check(st, err, "log_dataset")
    return {"name": name, **_digest_dict(out), "context": context}


def _read(call, to_json, free, *args):
    """One read through the process's client, as the JSON of the CLI's --json."""
    import json
    T._flush_before_read()
    lib = _lib()
    with T._state.client_lock:
        obj, err = ctypes.c_void_p(), N.Error()
        N.check(call(T._client(), *args, ctypes.byref(obj), ctypes.byref(err)), err, "dataset read")
        try:
            return json.loads(N.take_text(to_json(obj)))
        finally:
            free(obj)


def get_dataset(name):
    """A dataset as ``cairn datasets show NAME --json`` prints it: name, created,
    updated, versions (each: version, hash, size, files, source, created, runs with
    their context, model_versions). Reads go to $CAIRN_COORDINATOR when it is set,
    else through the agent, which relays them."""
    lib = _lib()
    return _read(lib.cairn_dataset_get, lib.cairn_dataset_to_json, lib.cairn_dataset_free,
                 T._text(name, "dataset name"))


def list_datasets():
    """Every dataset with its newest version, as ``cairn datasets list --json``."""
    lib = _lib()
    return _read(lib.cairn_dataset_list_all, lib.cairn_dataset_list_to_json,
                 lib.cairn_dataset_list_free)
