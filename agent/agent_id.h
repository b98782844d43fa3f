/*
 * The agent's identity: a ULID made on the first start and kept in
 * DATA_DIR/agent_id, so a restarted agent is the same agent to the
 * coordinator (its routing id is "agent:" + the 26-character text).
 */
#ifndef CAIRN_AGENT_ID_H
#define CAIRN_AGENT_ID_H

#include "cairn/status.h"
#include "ulid.h"

/* Reads DATA_DIR/agent_id, or makes a new id and writes it atomically
 * (temporary file, fsync, rename, fsync of the directory). A file that holds
 * no valid id is an error, never silently replaced: that would change who the
 * agent is. */
cairn_status agent_id_load(const char *data_dir, ulid *out, cairn_error *err);

#endif
