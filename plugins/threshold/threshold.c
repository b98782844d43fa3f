/*
 * threshold: a detector that watches one numeric field of one event type and
 * raises an `alert` when it stays outside its bounds.
 *
 * The streak. Each event whose field is a number either extends the streak
 * of out-of-bound values (value > above, or value < below) or, being within
 * bounds, ends it. When the streak reaches `consecutive` the alert fires, once;
 * the first value back within bounds resolves it, once. A resolve is not
 * debounced: a value back in bounds is good news worth telling at once, and
 * firing again still takes a full streak.
 *
 * Missing values. An event without the field, or whose field is not a number
 * (a string, a NaN), says nothing about the bound: it is counted as `missing`
 * and neither extends nor breaks the streak.
 */
#include <cairn/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cairn_config_key threshold_config[] = {
    {.key = "event_type",
     .type = CAIRN_CONFIG_STRING,
     .required = 1,
     .doc = "events to watch: a type, a prefix ending in '.', or \"*\""},
    {.key = "field",
     .type = CAIRN_CONFIG_STRING,
     .required = 1,
     .doc = "path of the numeric field to watch, e.g. \"latency_ms\" or \"scores.0\""},
    {.key = "above",
     .type = CAIRN_CONFIG_FLOAT,
     .doc = "upper bound: a value greater than this is out of bounds"},
    {.key = "below",
     .type = CAIRN_CONFIG_FLOAT,
     .doc = "lower bound: a value less than this is out of bounds"},
    {.key = "consecutive",
     .type = CAIRN_CONFIG_INT,
     .default_value = "3",
     .doc = "out-of-bound values in a row that fire the alert (1 to 1000000)"},
    {.key = "alert_name",
     .type = CAIRN_CONFIG_STRING,
     .default_value = "threshold",
     .doc = "the `alert` field of the alerts raised"},
    {.key = NULL},
};

struct threshold {
    const cairn_host_api *api;
    cairn_host *host;
    const char *field; /* host strings, valid until fini */
    const char *alert_name;
    double above, below; /* +inf / -inf when not configured */
    int64_t consecutive;

    int64_t streak; /* out-of-bound values in a row */
    int firing;
    int fired_above; /* which bound was crossed when the alert fired */
};

/* 1 when `value` is above the upper bound, -1 below the lower one, 0 within. */
static int threshold_side(const struct threshold *th, double value)
{
    return value > th->above ? 1 : value < th->below ? -1 : 0;
}

static void threshold_alert(struct threshold *th, const cairn_event *source, const char *state,
                            double value)
{
    double bound = th->fired_above ? th->above : th->below;
    const cairn_host_api *api = th->api;
    cairn_event *ev = api->event_new(th->host, "alert");
    if (!ev) {
        api->counter_add(th->host, "emit_failed", 1);
        return;
    }
    api->event_set_string(ev, "alert", th->alert_name);
    api->event_set_string(ev, "state", state);
    api->event_set_string(ev, "field", th->field);
    api->event_set_float(ev, "value", value);
    api->event_set_float(ev, "bound", bound);
    api->event_set_string(ev, "direction", th->fired_above ? "above" : "below");
    api->event_set_int(ev, "consecutive", th->consecutive);
    api->event_set_string(ev, "source_event_type", api->event_type(source));
    if (api->emit(th->host, ev) != 0)
        api->counter_add(th->host, "emit_failed", 1);
    api->counter_add(th->host, state, 1);

    char detail[256];
    snprintf(detail, sizeof(detail), "alert=%s field=%s value=%.17g bound=%.17g", th->alert_name,
             th->field, value, bound);
    api->log(th->host, CAIRN_LOG_INFO, state, detail);
}

static void threshold_on_event(void *state, const cairn_event *ev)
{
    struct threshold *th = state;
    double value;
    th->api->counter_add(th->host, "events", 1);
    if (th->api->event_get_float(ev, th->field, &value) != 0 || isnan(value)) {
        th->api->counter_add(th->host, "missing", 1);
        return;
    }
    int side = threshold_side(th, value);
    if (side == 0) {
        th->streak = 0;
        if (th->firing) {
            th->firing = 0;
            threshold_alert(th, ev, "resolved", value);
        }
        return;
    }
    if (th->streak < th->consecutive)
        th->streak++;
    if (!th->firing && th->streak >= th->consecutive) {
        th->firing = 1;
        th->fired_above = side > 0;
        threshold_alert(th, ev, "firing", value);
    }
}

/* Reads the configuration; logs and returns -1 on the first bad key. */
static int threshold_configure(struct threshold *th, const char **event_type)
{
    const cairn_host_api *api = th->api;
    cairn_host *h = th->host;
    const char *why = NULL;
    int has_above = api->config_float(h, "above", &th->above) == 0;
    int has_below = api->config_float(h, "below", &th->below) == 0;
    if (!has_above)
        th->above = INFINITY;
    if (!has_below)
        th->below = -INFINITY;

    if (api->config_string(h, "event_type", event_type) != 0 || !(*event_type)[0])
        why = "event_type must not be empty";
    else if (api->config_string(h, "field", &th->field) != 0 || !th->field[0])
        why = "field must not be empty";
    else if (!has_above && !has_below)
        why = "give `above`, `below` or both";
    else if ((has_above && !isfinite(th->above)) || (has_below && !isfinite(th->below)))
        why = "above and below must be finite numbers";
    else if (has_above && has_below && !(th->below < th->above))
        why = "below must be less than above";
    else if (api->config_int(h, "consecutive", &th->consecutive) != 0 || th->consecutive < 1 ||
             th->consecutive > 1000000)
        why = "consecutive must be 1 to 1000000";
    else if (api->config_string(h, "alert_name", &th->alert_name) != 0 || !th->alert_name[0])
        why = "alert_name must not be empty";
    if (why)
        api->log(h, CAIRN_LOG_ERROR, "bad_config", why);
    return why ? -1 : 0;
}

static int threshold_init(const cairn_host_api *api, cairn_host *host, void **state)
{
    struct threshold *th = calloc(1, sizeof(*th));
    if (!th) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", "out of memory");
        return -1;
    }
    th->api = api;
    th->host = host;
    const char *event_type;
    if (threshold_configure(th, &event_type) != 0) {
        free(th);
        return -1;
    }
    if (api->subscribe(host, event_type) != 0) {
        api->log(host, CAIRN_LOG_ERROR, "bad_config",
                 "the host refused to subscribe to event_type");
        free(th);
        return -1;
    }
    *state = th;
    return 0;
}

static void threshold_fini(void *state)
{
    free(state);
}

static const cairn_detector_ops threshold_ops = {
    .size = sizeof(cairn_detector_ops),
    .on_event = threshold_on_event,
};

static const cairn_plugin_descriptor threshold_descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DETECTOR,
    .name = "threshold",
    .version = "1.0.0",
    .description = "alerts when a numeric field stays above or below a bound",
    .config = threshold_config,
    .init = threshold_init,
    .fini = threshold_fini,
    .ops = &threshold_ops,
};

CAIRN_PLUGIN_EXPORT(threshold_descriptor)
