/* libFuzzer target for msg_decode, the one entry point from untrusted bytes
 * (sdk/src/msg.c, sdk/src/mp_scan.c), and for the body accessors a handler
 * then calls (sdk/src/body.c). See tests/fuzz/README.md. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "mp_scan.h"
#include "msg.h"

#define FUZZ_LIMIT ((size_t)1 << 20)

/* Stops the fuzzer with a crash report when an invariant breaks. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const unsigned char *g_buf;
static size_t g_len;

/* Every string or byte run in a decoded message points into the input. */
static void check_inside(const char *p, uint32_t n)
{
    if (n == 0)
        return;
    CHECK((const unsigned char *)p >= g_buf && (const unsigned char *)p + n <= g_buf + g_len);
}

static volatile unsigned g_sink;

/* Touches every byte and every object, as a handler reading the body would. */
static void walk(const msgpack_object *o, int depth)
{
    CHECK(depth <= MP_SCAN_MAX_DEPTH + 1);
    int64_t i;
    double d;
    msg_str s;
    unsigned sum = 0;
    if (obj_int(o, &i))
        sum += (unsigned)i;
    if (obj_double(o, &d))
        sum += d != d;
    if (obj_str(o, &s)) {
        check_inside(s.p, s.n);
        for (uint32_t k = 0; k < s.n; k++)
            sum += (unsigned char)s.p[k];
    }
    switch (o->type) {
    case MSGPACK_OBJECT_BIN:
        check_inside(o->via.bin.ptr, o->via.bin.size);
        for (uint32_t k = 0; k < o->via.bin.size; k++)
            sum += (unsigned char)o->via.bin.ptr[k];
        break;
    case MSGPACK_OBJECT_EXT:
        check_inside(o->via.ext.ptr, o->via.ext.size);
        for (uint32_t k = 0; k < o->via.ext.size; k++)
            sum += (unsigned char)o->via.ext.ptr[k];
        break;
    case MSGPACK_OBJECT_ARRAY:
        /* every element took at least one input byte */
        CHECK(o->via.array.size <= g_len);
        for (uint32_t k = 0; k < o->via.array.size; k++)
            walk(&o->via.array.ptr[k], depth + 1);
        break;
    case MSGPACK_OBJECT_MAP:
        CHECK(o->via.map.size <= g_len);
        for (uint32_t k = 0; k < o->via.map.size; k++) {
            const msgpack_object *key = &o->via.map.ptr[k].key;
            walk(key, depth + 1);
            walk(&o->via.map.ptr[k].val, depth + 1);
            /* look every string key up again: body_find returns the first match */
            if (key->type == MSGPACK_OBJECT_STR && key->via.str.size < 64) {
                char name[64];
                memcpy(name, key->via.str.ptr, key->via.str.size);
                name[key->via.str.size] = '\0';
                if (strlen(name) == key->via.str.size)
                    CHECK(body_find(o, name) != NULL);
            }
        }
        break;
    default:
        break;
    }
    g_sink += sum;
}

/* The typed lookups handlers make, on the field names of docs/protocol.md. */
static void lookups(const msgpack_object *body)
{
    static const char *const keys[] = {
        "run", "experiment", "name", "start_time", "end_time", "tags", "params", "metrics",
        "delete_tags", "status", "filter", "order_by", "max", "page_token", "key", "offset",
        "upload", "path", "data", "last", "since", "include_deleted", "value", "seq", "duplicate",
    };
    cairn_error err;
    msg_str s;
    ulid u;
    int64_t i;
    double d;
    bool b;
    const msgpack_object *o;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        bool required = k & 1;
        cairn_status st;
        st = body_str(body, keys[k], required, &s, &err);
        if (st == CAIRN_OK && body_find(body, keys[k]))
            check_inside(s.p, s.n);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        st = body_bin(body, keys[k], !required, &s, &err);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        st = body_ulid(body, keys[k], required, &u, &err);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        st = body_int(body, keys[k], !required, &i, &err);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        st = body_double(body, keys[k], required, &d, &err);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        st = body_bool(body, keys[k], !required, &b, &err);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        st = body_map(body, keys[k], required, &o, &err);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        if (st == CAIRN_OK && body_find(body, keys[k]))
            walk(o, 1);
        st = body_array(body, keys[k], !required, &o, &err);
        CHECK(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE);
        if (st == CAIRN_OK && body_find(body, keys[k]) && o->type == MSGPACK_OBJECT_ARRAY) {
            /* run.log metrics: [key, value, step, timestamp] */
            for (uint32_t n = 0; n < o->via.array.size; n++) {
                const msgpack_object *pt = &o->via.array.ptr[n];
                if (pt->type != MSGPACK_OBJECT_ARRAY || pt->via.array.size != 4)
                    continue;
                (void)obj_str(&pt->via.array.ptr[0], &s);
                (void)obj_double(&pt->via.array.ptr[1], &d);
                (void)obj_int(&pt->via.array.ptr[2], &i);
                (void)obj_int(&pt->via.array.ptr[3], &i);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static msg_decoder dec;
    static bool ready;
    if (!ready) {
        msg_decoder_init(&dec, FUZZ_LIMIT); /* reused, as the coordinator reuses its one */
        ready = true;
    }
    g_buf = data;
    g_len = size;

    msg m;
    cairn_error err;
    cairn_status st = msg_decode(&dec, data, size, &m, &err);
    if (st != CAIRN_OK) {
        /* Under a 1 MiB limit nothing needs enough memory to fail for real:
         * OUT_OF_MEMORY means mp_scan passed bytes msgpack-c then refused. */
        CHECK(st == CAIRN_BAD_MESSAGE || st == CAIRN_UNSUPPORTED_VERSION ||
              st == CAIRN_MESSAGE_TOO_LARGE
#ifdef FUZZ_ALLOW_OUT_OF_MEMORY
              || st == CAIRN_OUT_OF_MEMORY
#endif
        );
        CHECK(err.status == st && err.message[0] != '\0');
        CHECK(memchr(err.message, '\0', sizeof err.message) != NULL);
        if (st == CAIRN_MESSAGE_TOO_LARGE)
            CHECK(size > FUZZ_LIMIT);
        return 0;
    }

    /* an accepted message satisfies every envelope rule */
    CHECK(mp_scan(data, size, NULL));
    CHECK(m.v == MSG_VERSION && m.has_id);
    CHECK(m.type.n >= 1 && m.type.n <= 64);
    check_inside(m.type.p, m.type.n);
    for (uint32_t k = 0; k < m.type.n; k++) {
        char c = m.type.p[k];
        CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_');
    }
    CHECK(m.from.n <= 256);
    check_inside(m.from.p, m.from.n);
    CHECK(m.body && m.body->type == MSGPACK_OBJECT_MAP);
    CHECK(m.kind == MSG_REQUEST || m.kind == MSG_REPLY_OK || m.kind == MSG_REPLY_ERROR);
    if (m.kind == MSG_REPLY_ERROR) {
        CHECK((unsigned)m.err_status < CAIRN_STATUS_COUNT_);
        check_inside(m.err_message.p, m.err_message.n);
    }
    char copy[80];
    msg_str_copy(m.type, copy, sizeof copy);
    CHECK(msg_str_eq(m.type, copy));

    lookups(m.body);
    walk(m.body, 1);
    walk(&dec.root, 0);
    return 0;
}
