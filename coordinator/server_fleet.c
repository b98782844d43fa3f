/* Presence and fan-out around the server's groups: who a message comes from,
 * agents' replies, the down timer, presence records, and finishing fan-outs. */
#include <string.h>

#include "error.h"
#include "kvlog.h"
#include "server_internal.h"

cairn_status fleet_load(server *s, cairn_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->store.env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_fail(rc, "begin transaction", err);
    cairn_status st = agents_load(&s->agents, &s->store, txn, clock_mono_ms(), err);
    mdb_txn_abort(txn);
    return st;
}

agent *fleet_note_peer(server *s, pending *p, int64_t now)
{
    zmq_msg_t *rid = &p->frames[0];
    agent *a = agents_by_routing(&s->agents, zmq_msg_data(rid), zmq_msg_size(rid));
    if (a)
        agents_seen(&s->agents, a, now, s->rctx.mono_ms);
    return a;
}

bool fleet_from_agent(pending *p)
{
    zmq_msg_t *rid = &p->frames[0];
    return zmq_msg_size(rid) >= 6 && memcmp(zmq_msg_data(rid), AGENT_ROUTING_PREFIX, 6) == 0;
}

/* A reply is never answered: an agent would have nothing to match it to. */
void fleet_take_reply(server *s, agent *a, const msg *m)
{
    s->stats.agent_replies++;
    if (!fanout_on_reply(&s->fanouts, a, m))
        kvlog(KVLOG_DEBUG, "late_reply", "agent=%s", a ? a->routing + 6 : "unknown");
}

/* Presence records go in a transaction of their own: a failing write of soft
 * state must not fail anyone's request. all_dirty: also last_seen and
 * spool_depth (the periodic write); else only status changes. */
static void persist_agents(server *s, bool all_dirty)
{
    MDB_txn *txn;
    cairn_error err = {0};
    int rc = mdb_txn_begin(s->store.env, NULL, 0, &txn);
    cairn_status st = rc ? store_fail(rc, "begin transaction", &err)
                         : agents_persist(&s->agents, &s->store, txn, all_dirty, &err);
    if (!rc && st)
        mdb_txn_abort(txn);
    else if (!rc && (rc = mdb_txn_commit(txn)) != 0)
        st = store_fail(rc, "commit agents", &err);
    if (!st)
        return;
    agents_persist_failed(&s->agents);
    char q[600];
    kvlog(KVLOG_WARN, "agents_not_saved", "error=%s", kvlog_quote(q, sizeof q, err.message));
}

void fleet_timers(server *s, int64_t mono)
{
    if (mono >= s->next_sweep_mono) {
        agents_sweep(&s->agents, mono);
        s->next_sweep_mono = mono + agents_sweep_every_ms(&s->agents);
    }
    if (mono >= s->next_persist_mono) {
        persist_agents(s, true);
        s->next_persist_mono = mono + AGENTS_PERSIST_EVERY_MS;
    } else if (s->agents.n_status_dirty) {
        persist_agents(s, false);
    }
}

/* A fan-out's result is acknowledged only once its record is durable. */
void fleet_complete_fanouts(server *s)
{
    fanout_expire(&s->fanouts, clock_mono_ms());
    if (!fanout_any_done(&s->fanouts))
        return;
    group_txn g = {.now_ms = clock_wall_ms()};
    cairn_error err = {0};
    cairn_status st = txn_for(s, &g, true, &err);
    if (!st)
        st = fanout_record_done(&s->fanouts, &s->store, g.txn, g.now_ms, &err);
    if (st)
        txn_abort(s, &g);
    bool committed = !st && commit_group(s, &g, 0, &err);
    fanout_reply_done(&s->fanouts, committed, err.message);
}

long fleet_wake_in(const server *s, int64_t mono)
{
    long sweep = s->next_sweep_mono > mono ? (long)(s->next_sweep_mono - mono) : 0;
    long fanout = fanout_wake_in(&s->fanouts, mono);
    return fanout >= 0 && fanout < sweep ? fanout : sweep;
}

void fleet_save(server *s)
{
    persist_agents(s, true);
}
