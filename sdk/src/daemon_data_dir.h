/*
 * A daemon's data directory: created when missing, and DATA_DIR/lock held
 * with flock for the life of the process, so that two agents never share one
 * spool and two coordinators never share one store (each keeps counters in
 * memory that a second writer would hand out again).
 */
#ifndef CAIRN_DAEMON_DATA_DIR_H
#define CAIRN_DAEMON_DATA_DIR_H

#include "cairn/status.h"

/* Creates path and its missing parents (mkdir -p) with the given mode. */
cairn_status data_dir_make(const char *path, unsigned mode, cairn_error *err);

/* Creates the data directory and takes its lock; *lock_fd gets the descriptor
 * to close at exit. Fails with CAIRN_INVALID_STATE when another process holds
 * it; daemon names this program in that message ("cairn-agent"). */
cairn_status data_dir_lock(const char *dir, const char *daemon, int *lock_fd, cairn_error *err);

/* fsyncs a directory, so that a rename or create inside it is durable. */
cairn_status data_dir_sync(const char *dir, cairn_error *err);

#endif
