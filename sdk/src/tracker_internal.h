/*
 * What tracker.c (the calls training code makes) and tracker_sender.c (the
 * background thread) share: the tracker object and its timing constants.
 *
 * One mutex guards the queue and every field below it. Callers append under
 * it; the sender takes the whole queue under it and sends without it, so
 * logging never waits on the network. Two condition variables: `work` wakes
 * the sender (a batch is ready, a flush or an upload waits, close), `done`
 * wakes callers waiting for acknowledgements.
 */
#ifndef CAIRN_TRACKER_INTERNAL_H
#define CAIRN_TRACKER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/client.h"
#include "tracker_queue.h"

#define TK_DEFAULT_MAX_QUEUED ((size_t)1000000)
#define TK_DEFAULT_FLUSH_MS 50
#define TK_BATCH_ITEMS 10000        /* queued items that wake the sender before flush_ms */
#define TK_REPLY_WAIT_MS 5000       /* one attempt: wait this long for the reply (resending
                                       every TK_RESEND_MS) before backing off */
#define TK_RESEND_MS 1000
#define TK_BACKOFF_FIRST_MS 50      /* between attempts: doubling, with jitter, up to the cap */
#define TK_BACKOFF_CAP_MS 2000
#define TK_ARTIFACT_CALL_MS 30000   /* each artifact chunk is resent until acknowledged or this */
#define TK_ARTIFACT_WAIT_MS 60000   /* log_artifact gives up when the sender has not reached
                                       its upload by then */
#define TK_WINDOW 32                /* requests of distinct runs in flight at once */
#define TK_BURST_POINTS 1000        /* an operation of more points has a request to itself:
                                       its commit is shared by enough points already */
/* Requests and resent copies ZeroMQ may hold for a peer that stopped
 * reading: a window's worth and a few (at most 40 of TK_MSG_BYTES; 1.5 MB is
 * a typical 50,000-point request). ZeroMQ learns that its peer has read only
 * every half HWM, so a window can find the queue full: those requests are
 * offered again within milliseconds (client_call_batch). */
#define TK_SENDER_SNDHWM (TK_WINDOW + 8)

struct cairn_tracker {
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_cond_t done;
    tk_queue q;
    uint64_t acked_seq;   /* every operation up to this seq is acknowledged or refused */
    uint64_t urgent_upto; /* someone waits for operations up to this seq: send them now */
    bool stop;            /* close: the sender returns, dropping what it has not sent */
    int wake_fd; /* eventfd written by close: ends the sender's wait for a reply */
    cairn_error refusal;  /* the first refusal not yet reported; status CAIRN_OK: none */
    cairn_error retrying; /* why the request being resent failed last; CAIRN_OK: it did not */
    int flush_ms;
    cairn_client *client; /* the sender's connection, used by the sender thread only */
    pthread_t thread;
};

/* The sender thread's body; arg is the cairn_tracker. */
void *tk_sender_main(void *arg);

/* Keeps err as the tracker's refusal unless an earlier one is still unreported.
 * Called with the mutex held. */
void tk_keep_refusal(cairn_tracker *t, const cairn_error *err);

/* Keeps the refusal of a request of kind to run, why saying why, in the words
 * every refusal uses: the request and the run, then the reason. Called with
 * the mutex held. */
void tk_keep_run_refusal(cairn_tracker *t, tk_kind kind, const ulid *run, const cairn_error *why);

int64_t tk_mono_ms(void);

/* pthread_cond_timedwait until the CLOCK_MONOTONIC time deadline_ms (the
 * condition variables are made with that clock). */
int tk_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms);

#endif
