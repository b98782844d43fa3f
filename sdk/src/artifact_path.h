/*
 * The shape of an artifact path, checked the same way by the coordinator
 * that stores it, the agent that spools it and the SDK that sends it, so a
 * path that can never be stored is refused before anything is sent.
 */
#ifndef CAIRN_ARTIFACT_PATH_H
#define CAIRN_ARTIFACT_PATH_H

#include "msg.h"

/* Bytes of an artifact path: with the 16-byte run id, LMDB's largest key (511). */
#define ARTIFACT_PATH_MAX 495

/* CAIRN_OK for a relative path of 1 to ARTIFACT_PATH_MAX bytes of UTF-8, with
 * no control character (0x00-0x1f, 0x7f) and no empty, "." or ".." component; else
 * CAIRN_LIMIT_EXCEEDED or CAIRN_INVALID_PARAMETER_VALUE saying why. */
cairn_status artifact_path_check(msg_str path, cairn_error *err);

/* The part of path after its last '/': the artifact path a local file is
 * stored under when none is given, and the file a download is written to. */
const char *path_base_name(const char *path);

#endif
