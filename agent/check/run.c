/* cairn-plugin-check's run: load, feed, watch, report (see main.c). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libconfig.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "error.h"
#include "plugin_host.h"
#include "plugin_json.h"

typedef struct pending_fetch {
    cairn_fetch_fn fn;
    void *arg;
    int status;
    char error[256];
} pending_fetch;

typedef struct checker {
    check_opts *o;
    plugin_host host;
    bool faulted;
    pending_fetch fetches[64];
    int n_fetches;
    char temp_state[64];
    char *dirs[1]; /* the plugin's own directory: the host keeps the pointer */
} checker;

static void print_line(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (s)
        printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(j);
}

static const char *result_name(cairn_plugin_result r)
{
    return r == CAIRN_PLUGIN_OK ? "ok" : r == CAIRN_PLUGIN_RETRY ? "retry" : "error";
}

/* ---- the sink: what the plugin produced ---- */

static int sink_spool(void *ctx, const cairn_event *ev)
{
    const char *command, *message;
    size_t nc, nm;
    (void)ctx;
    if (strcmp(ev->type, "command.progress") == 0 &&
        event_get_string(ev, "command", &command, &nc) == 0 &&
        event_get_string(ev, "message", &message, &nm) == 0) {
        print_line(json_pack("{s:s, s:s%, s:s%}", "event", "progress", "command", command, nc,
                             "message", message, nm));
        return 0;
    }
    print_line(json_pack("{s:s, s:s, s:s, s:I, s:o}", "event", "emit", "type", ev->type, "source",
                         ev->source, "time", (json_int_t)ev->time_ms, "fields",
                         msgpack_to_json(&ev->fields)));
    return 0;
}

static void sink_done(void *ctx, const char *id, cairn_status code, const char *message,
                      const cairn_event *fields)
{
    checker *c = ctx;
    if (code)
        c->faulted = true;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "event", "done", "command", id, "result",
                          code == CAIRN_OK ? "ok" : code == CAIRN_TIMEOUT ? "timeout" : "error",
                          "message", message ? message : "");
    json_object_set_new(j, "fields", fields ? msgpack_to_json(&fields->fields) : json_object());
    print_line(j);
}

static void sink_delivered(void *ctx, plugin_instance *p, const cairn_event *ev,
                           cairn_plugin_result r)
{
    checker *c = ctx;
    (void)p;
    if (r == CAIRN_PLUGIN_ERROR)
        c->faulted = true;
    print_line(json_pack("{s:s, s:s, s:s}", "event", "deliver", "type", ev->type, "result",
                         result_name(r)));
}

/* fetch_blob from the --blob files: copied and verified now, answered on
 * the next turn of the loop, as the agent answers after its download. */
static int copy_verified(const char *from, const char *expect, const char *dest, char *why,
                         size_t cap)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.fetch-%d", dest, (int)getpid());
    FILE *in = fopen(from, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    sha256_stream s;
    bool ok = in && out && sha256_begin(&s);
    char buf[65536], got[SHA256_HEX_LEN + 1] = "";
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n && sha256_update(&s, buf, n);
    ok = ok && !ferror(in) && sha256_finish(&s, got);
    ok = (out && fclose(out) == 0) && ok;
    if (in)
        fclose(in);
    if (ok && strcmp(got, expect) != 0)
        snprintf(why, cap, "sha256 mismatch: got %s", got), ok = false;
    else if (!ok)
        snprintf(why, cap, "cannot copy %.100s to %.100s: %s", from, tmp, strerror(errno));
    if (ok && rename(tmp, dest) != 0)
        snprintf(why, cap, "rename to %.180s: %s", dest, strerror(errno)), ok = false;
    if (!ok)
        unlink(tmp);
    return ok ? 0 : -1;
}

static int sink_fetch(void *ctx, plugin_instance *p, const char *sha256, const char *dest,
                      cairn_fetch_fn fn, void *arg)
{
    checker *c = ctx;
    (void)p;
    if (c->n_fetches == (int)(sizeof c->fetches / sizeof c->fetches[0]))
        return -1;
    pending_fetch *f = &c->fetches[c->n_fetches++];
    *f = (pending_fetch){fn, arg, -1, ""};
    const check_blob *b = NULL;
    for (int i = 0; i < c->o->n_blobs && !b; i++)
        if (strcmp(c->o->blobs[i].sha256, sha256) == 0)
            b = &c->o->blobs[i];
    if (!b)
        snprintf(f->error, sizeof f->error, "RESOURCE_DOES_NOT_EXIST: no blob %.64s", sha256);
    else
        f->status = copy_verified(b->path, sha256, dest, f->error, sizeof f->error);
    return 0;
}

static void finish_fetches(checker *c)
{
    while (c->n_fetches) {
        pending_fetch f = c->fetches[0];
        memmove(c->fetches, c->fetches + 1, (size_t)--c->n_fetches * sizeof f);
        f.fn(f.arg, f.status, f.status ? f.error : NULL);
        plugin_host_drain(&c->host);
    }
}

/* ---- setting up ---- */

static int hash_blobs(check_opts *o)
{
    for (int i = 0; i < o->n_blobs; i++) {
        FILE *f = fopen(o->blobs[i].path, "rb");
        sha256_stream s;
        bool ok = f && sha256_begin(&s);
        char buf[65536];
        size_t n;
        while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
            ok = sha256_update(&s, buf, n);
        ok = ok && sha256_finish(&s, o->blobs[i].sha256);
        if (f)
            fclose(f);
        if (!ok) {
            fprintf(stderr, "cairn-plugin-check: cannot read blob %s\n", o->blobs[i].path);
            return -1;
        }
    }
    return 0;
}

static int read_config(const char *file, plugin_settings *out)
{
    memset(out, 0, sizeof *out);
    if (!file)
        return 0;
    config_t cf;
    config_init(&cf);
    cairn_error err = {0};
    int rc = 0;
    if (config_read_file(&cf, file) != CONFIG_TRUE) {
        fprintf(stderr, "cairn-plugin-check: %s:%d: %s\n", file, config_error_line(&cf),
                config_error_text(&cf) ? config_error_text(&cf) : "cannot read");
        rc = -1;
    } else if (plugin_settings_read(config_root_setting(&cf), out, &err)) {
        fprintf(stderr, "cairn-plugin-check: %s\n", err.message);
        rc = -1;
    }
    config_destroy(&cf);
    return rc;
}

static void print_descriptor(const cairn_plugin_descriptor *d)
{
    json_t *keys = json_array();
    for (size_t i = 0; d->config && d->config[i].key; i++) {
        const cairn_config_key *k = &d->config[i];
        json_array_append_new(
            keys, json_pack("{s:s, s:s, s:s?, s:b, s:s?}", "key", k->key, "type",
                            config_type_name(k->type), "default", k->default_value, "required",
                            k->required != 0, "doc", k->doc));
    }
    char abi[16];
    snprintf(abi, sizeof abi, "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
    print_line(json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:o}", "event", "descriptor", "name",
                         d->name, "kind", plugin_kind_name(d->kind), "version", d->version,
                         "description", d->description, "abi", abi, "config", keys));
}

/* Loads the descriptor alone first, so it is shown even when the config is
 * then refused. */
static int show_descriptor(const char *path)
{
    loaded_plugin lib;
    cairn_error err = {0};
    if (plugin_open(path, &lib, &err)) {
        fprintf(stderr, "cairn-plugin-check: %s: %s\n", path, err.message);
        return -1;
    }
    print_descriptor(lib.desc);
    plugin_unload(&lib);
    return 0;
}

static int start(checker *c, char *dir_buf)
{
    check_opts *o = c->o;
    char real[PATH_MAX];
    if (!realpath(o->plugin, real)) {
        fprintf(stderr, "cairn-plugin-check: %s: %s\n", o->plugin, strerror(errno));
        return -1;
    }
    if (show_descriptor(real) || hash_blobs(o))
        return -1;
    plugin_spec spec = {.isolate = false};
    if (!o->state_dir) {
        snprintf(c->temp_state, sizeof c->temp_state, "/tmp/cairn-plugin-check.XXXXXX");
        o->state_dir = mkdtemp(c->temp_state);
    }
    snprintf(spec.state_dir, sizeof spec.state_dir, "%s", o->state_dir ? o->state_dir : "");
    snprintf(dir_buf, PATH_MAX, "%s", real);
    snprintf(spec.path, sizeof spec.path, "%s", real);
    if (read_config(o->config_file, &spec.config))
        return -1;
    c->dirs[0] = dirname(dir_buf);
    plugin_sink sink = {c, sink_spool, sink_done, sink_fetch, sink_delivered, NULL};
    cairn_error err = {0};
    int rc = plugin_host_init(&c->host, "/nonexistent", c->dirs, 1, 3, &sink, &err) ? -1 : 0;
    if (!rc && !o->state_dir) {
        error_set(&err, CAIRN_IO_ERROR, "cannot make a temporary state directory");
        rc = -1;
    }
    if (!rc)
        rc = plugin_host_load(&c->host, &spec, &err) == CAIRN_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "cairn-plugin-check: %s\n", err.message);
    plugin_settings_free(&spec.config);
    return rc;
}

/* ---- feeding and running ---- */

static void feed_event(checker *c, const char *json)
{
    cairn_error err = {0};
    cairn_event *ev = event_from_json(json, "cairn-plugin-check", &err);
    if (!ev) {
        fprintf(stderr, "cairn-plugin-check: --event: %s\n", err.message);
        c->faulted = true;
        return;
    }
    if (!plugin_host_wants(&c->host, ev->type))
        fprintf(stderr, "cairn-plugin-check: the plugin did not subscribe to '%s': not fed\n",
                ev->type);
    plugin_host_route(&c->host, ev, NULL);
    plugin_host_drain(&c->host);
    event_destroy(ev);
}

static void feed_command(checker *c, const char *json, int index)
{
    cairn_error err = {0};
    cairn_event *cmd = event_from_json(json, "cairn-plugin-check", &err);
    if (!cmd) {
        fprintf(stderr, "cairn-plugin-check: --command: %s\n", err.message);
        c->faulted = true;
        return;
    }
    char id[64];
    const char *given;
    size_t len;
    if (event_get_string(cmd, "id", &given, &len) == 0 && len < sizeof id)
        snprintf(id, sizeof id, "%.*s", (int)len, given);
    else
        snprintf(id, sizeof id, "check-%d", index);
    int64_t relative = 30000;
    event_get_int(cmd, "deadline_ms", &relative);
    if (plugin_host_command(&c->host, id, cmd, clock_wall_ms() + relative, &err)) {
        print_line(json_pack("{s:s, s:s, s:s, s:s}", "event", "done", "command", id, "result",
                             "refused", "message", err.message));
        c->faulted = true;
    }
    event_destroy(cmd);
}

static void turn(checker *c, int64_t until)
{
    zmq_pollitem_t items[PLUGIN_MAX_WATCHES];
    int64_t now = clock_mono_ms();
    plugin_host_run_timers(&c->host, now);
    finish_fetches(c);
    int64_t next = plugin_host_next_deadline(&c->host);
    int64_t wait = clock_earliest(next, until) - clock_mono_ms();
    int n = plugin_host_poll_items(&c->host, items, PLUGIN_MAX_WATCHES);
    zmq_poll(items, n, wait < 0 ? 0 : wait > 1000 ? 1000 : (long)wait);
    plugin_host_dispatch(&c->host, items, n);
}

static void print_counters(const plugin_host *h)
{
    json_t *counters = json_object();
    for (size_t i = 0; i < h->n_plugins; i++)
        for (int k = 0; k < h->plugins[i]->n_counters; k++)
            json_object_set_new(counters, h->plugins[i]->counters[k].name,
                                json_integer((json_int_t)h->plugins[i]->counters[k].value));
    print_line(json_pack("{s:s, s:o}", "event", "counters", "counters", counters));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Only the directory this run made itself. */
static void remove_temp_state(checker *c)
{
    if (c->temp_state[0] && nftw(c->temp_state, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "cairn-plugin-check: could not remove %s\n", c->temp_state);
}

int check_run(check_opts *o)
{
    checker *c = calloc(1, sizeof *c);
    static char dir_buf[PATH_MAX];
    if (!c)
        return 1;
    c->o = o;
    int rc = start(c, dir_buf);
    if (rc == 0) {
        for (int i = 0; i < o->n_inputs; i++) {
            if (o->inputs[i].kind == CHECK_EVENT)
                feed_event(c, o->inputs[i].json);
            else
                feed_command(c, o->inputs[i].json, i + 1);
            finish_fetches(c);
        }
        int64_t until = clock_mono_ms() + o->run_for_ms;
        while (clock_mono_ms() < until || c->host.n_commands || c->n_fetches)
            turn(c, until);
        print_counters(&c->host);
    }
    /* A delivery given up after its retries ends in no ERROR the sink saw,
     * only in the host's count: it fails the run all the same. */
    bool faulted = rc != 0 || c->faulted || c->host.stats.delivery_failed > 0;
    if (c->host.queue)
        plugin_host_close(&c->host);
    remove_temp_state(c);
    free(c);
    return faulted ? 1 : 0;
}
