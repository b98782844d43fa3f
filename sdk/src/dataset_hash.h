/*
 * The content hash of a dataset: the sha256 of a file, or of a directory the
 * sha256 of the lines "HEX  RELPATH\n" of its files sorted by RELPATH
 * (docs/sdk.md, "Datasets", defines it and shows how to recompute it with
 * coreutils). Files are streamed: nothing is held whole in memory.
 */
#ifndef CAIRN_DATASET_HASH_H
#define CAIRN_DATASET_HASH_H

#include <stdint.h>

#include "cairn/client.h"

/* Inputs this large get a progress line (when asked for and on a terminal). */
#define DATASET_PROGRESS_MIN_BYTES ((uint64_t)64 << 20)

typedef struct dataset_progress {
    int fd; /* where the progress line is written; -1: nowhere */
    uint64_t min_bytes; /* inputs smaller than this get no line */
} dataset_progress;

/* cairn_dataset_hash with the progress line's destination given (tests). */
cairn_status dataset_hash(const char *path, const dataset_progress *progress,
                          cairn_dataset_digest *out, cairn_error *err);

#endif
