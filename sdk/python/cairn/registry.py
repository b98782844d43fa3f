"""The model registry from Python, over libcairn's cairn_model_* calls.

    import cairn

    version = cairn.register_model("churn", run.id, "model.pkl")
    cairn.set_alias("churn", "champion", version, reason="beats v3 on AUC")
    cairn.get_model_version("churn@champion")["artifact"]["sha256"]
    path = cairn.download_model("churn@champion", "/srv/models/churn")

A version reference is "NAME/VERSION", "NAME@ALIAS" or "NAME/STAGE" (the
highest version in that stage): "churn/3", "churn@champion",
"churn/Production". Dicts are exactly the JSON of the CLI's --json
(docs/cli.md): a version as ``cairn models version REF --json`` prints it, a
lineage as ``cairn lineage REF --json``.

Requests go to the read client of this package (the coordinator at
$CAIRN_COORDINATOR, else the tracker's endpoint: an agent relays them), after
what this process logged is flushed, so that a run logged here can be
registered at once. Through an agent, flushed means spooled: the agent may not
have forwarded the run yet, and registering it can then fail with
RESOURCE_DOES_NOT_EXIST until it has. Failures raise cairn.CairnError.
"""
import ctypes
import json
import numbers
import operator
import os

from . import _native as N
from . import _tracking
from ._tracking import _client, _flush_before_read, _kv_array, _text

__all__ = ["download_model", "get_lineage", "get_model_version", "register_model", "rollback",
           "set_alias", "set_stage"]


class _Column(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_char_p)]


class _Signature(ctypes.Structure):
    _fields_ = [("inputs", ctypes.POINTER(_Column)), ("n_inputs", ctypes.c_size_t),
                ("output", ctypes.c_char_p)]


class _RegisterOpts(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("run_id", ctypes.c_char_p),
                ("artifact_path", ctypes.c_char_p), ("create_new", ctypes.c_int),
                ("description", ctypes.c_char_p), ("tags", ctypes.POINTER(N.KV)),
                ("n_tags", ctypes.c_size_t), ("signature", ctypes.POINTER(_Signature)),
                ("input_example", ctypes.c_char_p)]


class _RollbackOpts(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("alias", ctypes.c_char_p), ("stage", ctypes.c_char_p),
                ("to", ctypes.c_uint64), ("reason", ctypes.c_char_p)]


_p, _s, _st, _err = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(N.Error)
_u64 = ctypes.c_uint64

# name: (restype, argtypes), declared on first use (see _lib()).
_PROTOTYPES = {
    "cairn_model_register": (_st, [_p, ctypes.POINTER(_RegisterOpts), ctypes.POINTER(_u64), _err]),
    "cairn_model_version_get": (_st, [_p, _s, ctypes.POINTER(_p), _err]),
    "cairn_model_version_free": (None, [_p]),
    "cairn_model_version_to_json": (_p, [_p]),
    "cairn_model_set_alias": (_st, [_p, _s, _s, _u64, _s, _err]),
    "cairn_model_set_stage": (_st, [_p, _s, _u64, _s, ctypes.c_int, _s, _err]),
    "cairn_model_rollback": (_st, [_p, ctypes.POINTER(_RollbackOpts), ctypes.POINTER(_u64),
                                   ctypes.POINTER(_u64), _err]),
    "cairn_model_download": (_st, [_p, _s, _s, ctypes.c_char_p, ctypes.c_size_t, _err]),
    "cairn_model_lineage": (_st, [_p, _s, ctypes.POINTER(_p), _err]),
    "cairn_lineage_free": (None, [_p]),
    "cairn_lineage_to_json": (_p, [_p]),
}

_funcs = None


def _lib():
    """The registry's functions of the libcairn the package loaded, declared once."""
    global _funcs
    if _funcs is None:
        handle = ctypes.CDLL(N.lib().path)  # the same library: dlopen returns its handle
        funcs = {}
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(handle, name, None)
            if fn is None:
                raise N.CairnError("INTERNAL_ERROR", f"{N.lib().path} lacks {name}: too old?")
            fn.restype, fn.argtypes = restype, argtypes
            funcs[name] = fn
        _funcs = funcs
    return _funcs


def _call(name, *args, what):
    """Calls libcairn's name with the read client first and a fresh cairn_error last."""
    err = N.Error()
    # _tracking._state, looked up now: a forked child has a new one, and the
    # lock of the parent's may be held by a thread the child does not have.
    with _tracking._state.client_lock:
        status = _lib()[name](_client(), *args, ctypes.byref(err))
    N.check(status, err, what)


def _version(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    v = operator.index(value)
    if not 1 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{what} {v} is not a version number (1 to 4294967295)")
    return v


def _optional(text, what):
    return None if text is None else _text(text, what)


def _signature(sig):
    """A _Signature of {"inputs": [{"name": ..., "type": ...}, ...], "output": ...}, and
    what it points to."""
    if not isinstance(sig, dict) or not isinstance(sig.get("inputs"), (list, tuple)):
        raise TypeError('signature must be a dict {"inputs": [{"name": ..., "type": ...}], '
                        '"output": ...}')
    unknown = set(sig) - {"inputs", "output"}
    if unknown:
        raise ValueError(f"signature holds only 'inputs' and 'output', not {sorted(unknown)}")
    cols = (_Column * max(1, len(sig["inputs"])))()
    keep = [cols]
    for i, col in enumerate(sig["inputs"]):
        if not isinstance(col, dict) or set(col) != {"name", "type"}:
            raise ValueError(f"signature input {i} must be {{'name': ..., 'type': ...}}")
        cols[i].name = _text(col["name"], "signature column name")
        cols[i].type = _text(col["type"], "signature column type")
        keep += [cols[i].name, cols[i].type]
    s = _Signature(cols, len(sig["inputs"]), _optional(sig.get("output"), "signature output"))
    return s, keep


def _input_example(example):
    """JSON text: a str is taken as it is (it must parse), anything else is dumped."""
    text = example if isinstance(example, str) else json.dumps(example)
    json.loads(text)  # raises ValueError for text that is not JSON
    return _text(text, "input_example")


def register_model(name, run_id, artifact_path, *, new=False, description=None, tags=None,
                   signature=None, input_example=None):
    """Registers artifact_path of run run_id as the next version of model name (created on
    first use; with new=True, an existing name raises RESOURCE_ALREADY_EXISTS) and returns
    its number. The version keeps the artifact's sha256: it names that content for good.

    signature: {"inputs": [{"name": "age", "type": "long"}, ...], "output": "double"};
    input_example: JSON text, or a value json.dumps() takes; tags: a dict."""
    _flush_before_read()
    opts = _RegisterOpts()
    opts.name = _text(name, "model name")
    opts.run_id = _text(run_id, "run id")
    opts.artifact_path = _text(artifact_path, "artifact path")
    opts.create_new = 1 if new else 0
    opts.description = _optional(description, "description")
    arr, keep = _kv_array(tags or {}, "tag")
    opts.tags, opts.n_tags = arr, len(keep)
    if signature is not None:
        sig, sig_keep = _signature(signature)
        opts.signature = ctypes.pointer(sig)
    if input_example is not None:
        opts.input_example = _input_example(input_example)
    version = _u64()
    _call("cairn_model_register", ctypes.byref(opts), ctypes.byref(version), what="register_model")
    return version.value


def _read_json(get, free, to_json, ref, what):
    """A struct libcairn reads by reference, as the dict of its JSON text."""
    _flush_before_read()
    out = ctypes.c_void_p()
    _call(get, _text(ref, "model version reference"), ctypes.byref(out), what=what)
    try:
        return json.loads(N.take_text(_lib()[to_json](out)))
    finally:
        _lib()[free](out)


def get_model_version(ref):
    """The version ref names ("churn@champion", "churn/Production", "churn/3") as a dict:
    name, version, stage, aliases, run, artifact {path, size, sha256}, description, tags,
    signature, input_example, creator, created, updated (docs/cli.md)."""
    return _read_json("cairn_model_version_get", "cairn_model_version_free",
                      "cairn_model_version_to_json", ref, "get_model_version")


def get_lineage(ref):
    """How the version ref names was made, as ``cairn lineage REF --json`` prints it: the
    version, its run, the run's source (user, host, git commit, dirty), the datasets it used
    and the version's stage and alias events."""
    return _read_json("cairn_model_lineage", "cairn_lineage_free", "cairn_lineage_to_json", ref,
                      "get_lineage")


def set_alias(name, alias, version, reason=None):
    """Points alias ("champion", "challenger") of model name at version; recorded in the
    model's history with reason."""
    _call("cairn_model_set_alias", _text(name, "model name"), _text(alias, "alias"),
          _version(version, "version"), _optional(reason, "reason"), what="set_alias")


def set_stage(name, version, stage, archive_existing=False, reason=None):
    """Moves version of model name to stage ("None", "Staging", "Production", "Archived",
    any letter case); archive_existing archives the other versions in that stage."""
    _call("cairn_model_set_stage", _text(name, "model name"), _version(version, "version"),
          _text(stage, "stage"), 1 if archive_existing else 0, _optional(reason, "reason"),
          what="set_stage")


def rollback(name, alias=None, stage=None, to=None, reason=None):
    """Puts alias (or stage) of model name back to its previous holder, or to version to,
    and returns the version now holding it (docs/protocol.md, "Rollback")."""
    if (alias is None) == (stage is None):
        raise ValueError("give exactly one of alias and stage")
    opts = _RollbackOpts(_text(name, "model name"), _optional(alias, "alias"),
                         _optional(stage, "stage"), 0 if to is None else _version(to, "to"),
                         _optional(reason, "reason"))
    version = _u64()
    _call("cairn_model_rollback", ctypes.byref(opts), ctypes.byref(version), None,
          what="rollback")
    return version.value or None


def download_model(ref, dest):
    """Downloads the artifact of the version ref names into directory dest (created when
    missing), checked against the version's sha256, and returns the file's path."""
    dest = os.fspath(dest)
    path = ctypes.create_string_buffer(4096)
    _call("cairn_model_download", _text(ref, "model version reference"),
          _text(dest, "destination directory"), path, len(path), what="download_model")
    return path.value.decode("utf-8")
