/* Artifact records: run id + path -> size and sha256 of the blob. */
#include <string.h>

#include "error.h"
#include "store.h"

#define ARTIFACT_RECORD 40 /* u64 size, 32-byte sha256 */

void sha256_hex(const uint8_t sha[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[sha[i] >> 4];
        hex[2 * i + 1] = digits[sha[i] & 15];
    }
    hex[64] = '\0';
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool sha256_parse(msg_str hex, uint8_t sha[32])
{
    if (hex.n != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hex.p[2 * i]), lo = hex_digit(hex.p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        sha[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

cairn_status store_artifact_put(store *s, MDB_txn *txn, const ulid *run, msg_str path,
                                const store_artifact *a, cairn_error *err)
{
    store_key k;
    key_run_str(&k, run, path.p, path.n);
    uint8_t rec[ARTIFACT_RECORD];
    be64_put(rec, a->size);
    memcpy(rec + 8, a->sha256, 32);
    MDB_val kv = key_val(&k), v = {sizeof rec, rec};
    int rc = store_put(s, txn, s->artifacts, &kv, &v, 0);
    return rc ? store_fail(rc, "write artifact", err) : CAIRN_OK;
}

cairn_status store_artifact_get(store *s, MDB_txn *txn, const ulid *run, msg_str path,
                                store_artifact *out, cairn_error *err)
{
    store_key k;
    key_run_str(&k, run, path.p, path.n);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, s->artifacts, &kv, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no artifact '%.*s' in this run",
                         (int)path.n, path.p);
    if (rc)
        return store_fail(rc, "read artifact", err);
    if (v.mv_size != ARTIFACT_RECORD)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt artifact record");
    out->size = be64_get(v.mv_data);
    memcpy(out->sha256, (const uint8_t *)v.mv_data + 8, 32);
    return CAIRN_OK;
}
