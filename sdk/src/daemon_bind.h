/* Binding a daemon's ROUTER socket. */
#ifndef CAIRN_DAEMON_BIND_H
#define CAIRN_DAEMON_BIND_H

#include "cairn/status.h"

/* Binds router to endpoint. For ipc:// it first makes sure no process
 * serves that path: ZeroMQ would unlink a live socket and bind anew, and the
 * other daemon, still running, could no longer be reached (a test agent
 * taking a production agent's SDK socket). A path nobody answers on (left
 * by a crash) is taken over. */
cairn_status daemon_bind(void *router, const char *endpoint, cairn_error *err);

#endif
