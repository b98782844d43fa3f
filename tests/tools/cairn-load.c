/*
 * cairn-load: drives a coordinator the way tests and benchmarks need to.
 *
 *   cairn-load stream  ENDPOINT RUN COUNT ACK_FILE
 *       one synchronous metric point per request ("x", value = step = i),
 *       appending i to ACK_FILE after each acknowledgement; rides through a
 *       coordinator restart (60 s timeout, resends with the same id).
 *   cairn-load points  ENDPOINT RUN COUNT BATCH KEY
 *       COUNT points of KEY in batches of BATCH (value = f(i), step = i).
 *   cairn-load garbage ENDPOINT COUNT SEED
 *       COUNT malformed or random frames over a raw DEALER; exits 0 when
 *       every one was answered with an error reply.
 *   cairn-load blobs ENDPOINT SHA256 COUNT
 *       COUNT blob.get requests (4 MiB ranges) sent at once, then every
 *       reply read; prints "ok" when each carried data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cairn/client.h"
#include "msg.h"

static int usage(void)
{
    fprintf(stderr, "usage: cairn-load stream ENDPOINT RUN COUNT ACK_FILE\n"
                    "       cairn-load points ENDPOINT RUN COUNT BATCH KEY\n"
                    "       cairn-load garbage ENDPOINT COUNT SEED\n"
                    "       cairn-load frames ENDPOINT FRAMES\n"
                    "       cairn-load nils ENDPOINT COUNT\n"
                    "       cairn-load blobs ENDPOINT SHA256 COUNT\n");
    return 2;
}

static cairn_client *connect_or_die(const char *endpoint, int timeout_ms)
{
    cairn_error err;
    cairn_client *c = cairn_client_open(endpoint, &err);
    if (!c) {
        fprintf(stderr, "cairn-load: %s\n", err.message);
        exit(1);
    }
    cairn_client_set_timeout(c, timeout_ms);
    return c;
}

/* The value logged at step i: not a round number, so exactness is tested. */
double load_value(long i)
{
    return sin((double)i) * 1000.0 + (double)i / 7.0;
}

static int stream(char **argv)
{
    cairn_client *c = connect_or_die(argv[2], 60000);
    cairn_client_set_retry(c, 200);
    long count = atol(argv[4]);
    FILE *acks = fopen(argv[5], "a");
    if (!acks)
        return perror("ack file"), 1;
    for (long i = 0; i < count; i++) {
        cairn_error err;
        if (cairn_log_metric(c, argv[3], "x", (double)i, i, &err) != CAIRN_OK) {
            fprintf(stderr, "cairn-load: step %ld: %s\n", i, err.message);
            return 1;
        }
        fprintf(acks, "%ld\n", i);
        fflush(acks);
    }
    fclose(acks);
    cairn_client_close(c);
    return 0;
}

static int points(char **argv)
{
    cairn_client *c = connect_or_die(argv[2], 30000);
    long count = atol(argv[4]), batch = atol(argv[5]);
    if (batch <= 0)
        return usage();
    cairn_metric *m = calloc((size_t)batch, sizeof *m);
    for (long done = 0; done < count;) {
        long n = count - done < batch ? count - done : batch;
        for (long i = 0; i < n; i++)
            m[i] = (cairn_metric){argv[6], load_value(done + i), done + i, 1700000000000 + done + i};
        cairn_log_batch b = {.metrics = m, .n_metrics = (size_t)n};
        cairn_error err;
        if (cairn_run_log(c, argv[3], &b, &err) != CAIRN_OK) {
            fprintf(stderr, "cairn-load: %s\n", err.message);
            return 1;
        }
        done += n;
    }
    free(m);
    cairn_client_close(c);
    return 0;
}

/* ---- garbage ---- */

static void valid_message(msg_writer *w)
{
    ulid id = ulid_new(), run = ulid_new();
    msg_start_request(w, &id, "run.log", "garbage", 2);
    mp_str(&w->pk, "run");
    mp_ulid(&w->pk, &run);
    mp_str(&w->pk, "params");
    msgpack_pack_map(&w->pk, 1);
    mp_str(&w->pk, "k");
    mp_str(&w->pk, "v");
}

/* Frame i: random bytes, a truncated or bit-flipped valid message, or a
 * well-formed envelope with a wrong type, version or body. */
static size_t make_frame(unsigned i, unsigned *seed, char *buf, size_t cap)
{
    msg_writer w;
    msg_writer_init(&w);
    valid_message(&w);
    size_t n = w.sb.size < cap ? w.sb.size : cap;
    memcpy(buf, w.sb.data, n);
    msg_writer_destroy(&w);
    switch (i % 4) {
    case 0: /* random bytes */
        n = (size_t)(rand_r(seed) % 200) + 1;
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)rand_r(seed);
        break;
    case 1: /* truncated */
        n = (size_t)rand_r(seed) % n;
        break;
    case 2: /* a few bytes flipped */
        for (int k = 0; k < 3; k++)
            buf[(size_t)rand_r(seed) % n] ^= (char)(1 + rand_r(seed) % 255);
        break;
    default: /* an unknown run: well-formed, refused */
        break;
    }
    return n;
}

static int garbage(char **argv)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int timeout = 5000, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, argv[2]) != 0)
        return fprintf(stderr, "connect: %s\n", zmq_strerror(zmq_errno())), 1;
    unsigned count = (unsigned)atoi(argv[3]), seed = (unsigned)atoi(argv[4]);
    unsigned errors = 0, oks = 0, lost = 0;
    msg_decoder d;
    msg_decoder_init(&d, 0);
    static char buf[4096], reply[65536];
    for (unsigned i = 0; i < count; i++) {
        size_t n = make_frame(i, &seed, buf, sizeof buf);
        zmq_send(s, buf, n, 0);
        int r = zmq_recv(s, reply, sizeof reply, 0);
        msg m;
        if (r < 0 || msg_decode(&d, reply, (size_t)r, &m, NULL) != CAIRN_OK) {
            lost++;
            continue;
        }
        if (m.kind == MSG_REPLY_ERROR)
            errors++;
        else
            oks++;
    }
    printf("frames=%u error_replies=%u ok_replies=%u unanswered=%u\n", count, errors, oks, lost);
    msg_decoder_destroy(&d);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return errors == count ? 0 : 1;
}

/* ---- odd shapes: one request, its answer printed ---- */

static void *dealer_to(void *ctx, const char *endpoint)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int timeout = 10000, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "connect: %s\n", zmq_strerror(zmq_errno()));
        exit(1);
    }
    return s;
}

/* Prints "ok", "error CODE: MESSAGE" or "no reply"; returns 0 for an answer. */
static int print_answer(void *s)
{
    static char reply[65536];
    msg_decoder d;
    msg m;
    msg_decoder_init(&d, 0);
    int n, more = 1;
    while (more) { /* the payload is the last frame */
        n = zmq_recv(s, reply, sizeof reply, 0);
        size_t size = sizeof more;
        if (n < 0 || zmq_getsockopt(s, ZMQ_RCVMORE, &more, &size) != 0)
            break;
    }
    int rc = 0;
    if (n < 0 || msg_decode(&d, reply, (size_t)n, &m, NULL) != CAIRN_OK) {
        printf("no reply\n");
        rc = 1;
    } else if (m.kind == MSG_REPLY_ERROR) {
        printf("error %s: %.*s\n", cairn_status_name(m.err_status), (int)m.err_message.n,
               m.err_message.p);
    } else {
        printf("ok\n");
    }
    msg_decoder_destroy(&d);
    return rc;
}

static void ping_message(msg_writer *w, uint32_t nils)
{
    ulid id = ulid_new();
    msg_start_request(w, &id, "ping", "cairn-load", nils ? 1 : 0);
    if (nils) {
        mp_str(&w->pk, "x");
        msgpack_pack_array(&w->pk, nils);
        for (uint32_t i = 0; i < nils; i++)
            msgpack_pack_nil(&w->pk);
    }
}

/* Sends `empty` empty frames, then a ping with `nils` nils; prints the answer. */
static int send_ping(const char *endpoint, int empty, uint32_t nils)
{
    void *ctx = zmq_ctx_new(), *s = dealer_to(ctx, endpoint);
    msg_writer w;
    msg_writer_init(&w);
    ping_message(&w, nils);
    for (int i = 0; i < empty; i++)
        zmq_send(s, "", 0, ZMQ_SNDMORE);
    zmq_send(s, w.sb.data, w.sb.size, 0);
    int rc = print_answer(s);
    msg_writer_destroy(&w);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}

/* ---- many large reads in flight at once ---- */

static void blob_get_message(msg_writer *w, const char *sha)
{
    ulid id = ulid_new();
    msg_writer_reset(w);
    msg_start_request(w, &id, "blob.get", "cairn-load", 1);
    mp_str(&w->pk, "sha256");
    mp_str(&w->pk, sha);
}

static int blobs(char **argv)
{
    void *ctx = zmq_ctx_new(), *s = dealer_to(ctx, argv[2]);
    long count = atol(argv[4]), good = 0;
    msg_writer w;
    msg_writer_init(&w);
    for (long i = 0; i < count; i++) {
        blob_get_message(&w, argv[3]);
        zmq_send(s, w.sb.data, w.sb.size, 0);
    }
    msg_decoder d;
    msg_decoder_init(&d, 0);
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    for (long i = 0; i < count; i++) {
        msg m;
        if (zmq_msg_recv(&reply, s, 0) < 0)
            break;
        if (msg_decode(&d, zmq_msg_data(&reply), zmq_msg_size(&reply), &m, NULL) == CAIRN_OK &&
            m.kind == MSG_REPLY_OK)
            good++;
    }
    printf(good == count ? "ok\n" : "%ld of %ld answered with data\n", good, count);
    zmq_msg_close(&reply);
    msg_decoder_destroy(&d);
    msg_writer_destroy(&w);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return good == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "stream") == 0)
        return stream(argv);
    if (argc == 7 && strcmp(argv[1], "points") == 0)
        return points(argv);
    if (argc == 5 && strcmp(argv[1], "garbage") == 0)
        return garbage(argv);
    if (argc == 4 && strcmp(argv[1], "frames") == 0) /* FRAMES frames in all */
        return send_ping(argv[2], atoi(argv[3]) - 1, 0);
    if (argc == 4 && strcmp(argv[1], "nils") == 0) /* one byte each on the wire */
        return send_ping(argv[2], 0, (uint32_t)atol(argv[3]));
    if (argc == 5 && strcmp(argv[1], "blobs") == 0)
        return blobs(argv);
    return usage();
}
