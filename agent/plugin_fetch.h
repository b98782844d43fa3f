/*
 * Blobs fetched for plugins (a deployer's model file): blob.get requests to
 * the coordinator on a DEALER of their own, one chunk in flight per fetch,
 * written to DEST.part-ID, hashed as they arrive, fsynced and renamed onto
 * DEST only when the whole blob has the sha256 asked for. A chunk without a
 * reply in time, an error reply or a wrong hash ends the fetch with a reason
 * and no file.
 */
#ifndef CAIRN_AGENT_PLUGIN_FETCH_H
#define CAIRN_AGENT_PLUGIN_FETCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs_identity.h"
#include "cairn/plugin.h"
#include "msg.h"
#include "sha256_file.h"

#define FETCH_MAX 16
#define FETCH_CHUNK (4u << 20)
#define FETCH_CHUNK_TIMEOUT_MS 30000

struct cairn_host;

typedef struct blob_fetch {
    bool used;
    struct cairn_host *owner;
    fs_identity as; /* whose permissions create and rename the file */
    ulid request; /* the chunk request in flight */
    char sha256[SHA256_HEX_LEN + 1];
    char dest[PATH_MAX];
    char part[PATH_MAX + 48];
    int fd;
    uint64_t offset;
    sha256_stream hash;
    cairn_fetch_fn fn;
    void *arg;
    int64_t deadline; /* monotonic, for the chunk in flight */
} blob_fetch;

typedef struct fetcher {
    void *dealer;
    const char *from;
    blob_fetch fetches[FETCH_MAX];
    msg_decoder dec;
    msg_writer w;
    uint64_t done, failed;
} fetcher;

cairn_status fetcher_open(fetcher *f, void *zctx, const char *coordinator, int silence_ms,
                          const char *from, cairn_error *err);
void fetcher_close(fetcher *f);

/* Starts a fetch into dest, whose file is made and renamed with the
 * permissions of `as`; 0, or -1 (a bad hash, all slots busy, the file cannot
 * be made). */
int fetcher_start(fetcher *f, struct cairn_host *owner, const fs_identity *as, const char *sha256,
                  const char *dest, cairn_fetch_fn fn, void *arg);
/* Handles every reply that arrived. */
void fetcher_receive(fetcher *f);
void fetcher_expire(fetcher *f, int64_t now);
int64_t fetcher_next_deadline(const fetcher *f);
/* Ends a plugin's fetches without calling it back (it is going away). */
void fetcher_forget(fetcher *f, const struct cairn_host *owner);

#endif
