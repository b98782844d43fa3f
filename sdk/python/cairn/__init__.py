"""cairn: experiment tracking from Python, MLflow-style, over libcairn.

    import cairn

    with cairn.start_run(experiment="churn", run_name="rf") as run:
        run.log_params({"n_estimators": 150, "max_depth": 10})
        run.log_metric("loss", 0.3, step=1)
        run.log_metrics({"auc": 0.91, "f1": 0.8}, step=1)
        run.set_tag("team", "growth")
        run.log_artifact("model.pkl")
    print(run.id, cairn.get_run(run.id)["metrics"]["auc"])

This package is pure Python over ctypes: every request is made by libcairn (the
C library, sdk/include/cairn/client.h); nothing here speaks the protocol.

Library: $CAIRN_LIBRARY when set, else build/lib/libcairn.so of the source tree
this package sits in, else PREFIX/lib/libcairn.so.0 next to an installed
PREFIX/lib/python3.../dist-packages/cairn, else the system's libcairn.so.0.

Writes go through one process-wide libcairn cairn_tracker, opened on first use
and flushed and closed at interpreter exit (atexit). Logging calls queue and
return at once; a background thread of libcairn sends them in order. Where they
go is libcairn's choice: $CAIRN_AGENT (the local agent, which spools), else
$CAIRN_COORDINATOR, else the default agent socket (cairn.configure() overrides).

Reads (get_run, search_runs, get_metric_history) use a cairn_client to
$CAIRN_COORDINATOR when it is set (the coordinator the CLI reads), else to the
tracker's endpoint (an agent relays reads to its coordinator). They first flush
what this process logged, so a program reads back its own writes when logging
straight to the coordinator. They return exactly the JSON documents of the CLI's
--json (docs/cli.md), parsed: NaN and infinite metric values are the strings
"NaN", "Infinity" and "-Infinity", as libcairn writes them.

Values: params and tags are strings, other values stringified as MLflow does
(str(value): True -> "True", 0.1 -> "0.1"); metric values are real numbers,
Python's or numpy's (numpy is never imported here), bools logged as 1.0/0.0,
NaN and infinities kept. Failures raise cairn.CairnError (.status is the status
name, e.g. "BACKPRESSURE" when the tracker's queue is full, "TIMEOUT").

Threads: every function and Run method may be called from any thread at the same
time (libcairn's tracker is thread-safe and keeps the order of the calls; reads
share one client under a lock), except close(), which must not race logging
calls. After os.fork() the child opens its own tracker on first use; a
multiprocessing child flushes when it ends normally (not when terminated: a
Pool's with block terminates its workers).
"""
from ._native import CairnError
from . import registry as _registry
from .registry import (download_model, get_lineage, get_model_version, register_model, rollback,
                       set_alias, set_stage)
from ._tracking import (Run, close, configure, flush, get_metric_history, get_run,
                        search_runs, start_run)
from .datasets import get_dataset, hash_dataset, list_datasets, log_dataset as _log_dataset
Run.log_dataset = _log_dataset  # run.log_dataset(path, name=..., context="training")

__version__ = "0.1.0"
__all__ = ["CairnError", "Run", "close", "configure", "flush", "get_metric_history", "get_run",
           "search_runs", "start_run", "get_dataset", "hash_dataset", "list_datasets"]
__all__ += _registry.__all__
