/*
 * webhook: a notifier that POSTs each event it subscribed to (alerts, by
 * default) as JSON to an HTTP(S) endpoint:
 *
 *     {"type": "alert", "source": "threshold", "time": 1700000000000,
 *      "fields": {"alert": "latency", "state": "firing", "value": 812.5, ...}}
 *
 * The ABI reads fields by path and has no way to list a map's keys, so the
 * body carries the fields named in the `fields` configuration (the alert
 * fields by default), each under its path as written there. Arrays are walked
 * element by element; maps and binary values cannot be, and are left out, as
 * are absent fields.
 *
 * deliver() blocks for at most timeout_ms (the whole request, connection
 * included), on the agent's loop: run this plugin with `isolate = true` so a
 * slow endpoint holds up nothing else. The easy handle is kept between
 * deliveries so its connection is reused.
 */
#include <cairn/plugin.h>

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WEBHOOK_MAX_DEPTH 8        /* nested arrays walked */
#define WEBHOOK_MAX_ELEMENTS 10000 /* elements of one array put in the body */

/* The fields of threshold's alerts, and of any detector that follows them. */
static const char *const webhook_default_fields[] = {
    "alert", "state", "field", "value", "bound", "direction", "consecutive", "source_event_type",
};
#define WEBHOOK_DEFAULT_FIELDS (sizeof(webhook_default_fields) / sizeof(*webhook_default_fields))

static const cairn_config_key webhook_config[] = {
    {.key = "url",
     .type = CAIRN_CONFIG_STRING,
     .required = 1,
     .doc = "http:// or https:// URL to POST to"},
    {.key = "timeout_ms",
     .type = CAIRN_CONFIG_INT,
     .default_value = "5000",
     .doc = "longest a delivery may take, connection included (1 to 600000)"},
    {.key = "headers",
     .type = CAIRN_CONFIG_STRING_LIST,
     .doc = "extra request headers, each \"Name: value\""},
    {.key = "subscribe",
     .type = CAIRN_CONFIG_STRING_LIST,
     .doc = "event types to deliver (default [\"alert\"])"},
    {.key = "fields",
     .type = CAIRN_CONFIG_STRING_LIST,
     .doc = "field paths put in the body (default: the alert fields)"},
    {.key = NULL},
};

struct webhook {
    const cairn_host_api *api;
    cairn_host *host;
    const char *url;
    int64_t timeout_ms;
    CURL *curl;
    struct curl_slist *headers;
    const char **fields; /* host strings, or the defaults above */
    size_t nfields;
    char error[CURL_ERROR_SIZE];
};

/* ---- the body ---- */

static json_t *webhook_value(const struct webhook *w, const cairn_event *ev, const char *path,
                             int depth);

static json_t *webhook_array(const struct webhook *w, const cairn_event *ev, const char *path,
                             int depth)
{
    json_t *arr = json_array();
    size_t n = w->api->event_count(ev, path);
    if (n > WEBHOOK_MAX_ELEMENTS)
        n = WEBHOOK_MAX_ELEMENTS;
    size_t plen = strlen(path);
    char *child = malloc(plen + 24);
    for (size_t i = 0; arr && child && i < n; i++) {
        snprintf(child, plen + 24, "%s.%zu", path, i);
        json_t *v = webhook_value(w, ev, child, depth + 1);
        json_array_append_new(arr, v ? v : json_null());
    }
    free(child);
    return arr;
}

/* The JSON for the field at path, or NULL when it is absent or cannot be
 * written (a map, binary, a string that is not UTF-8). */
static json_t *webhook_value(const struct webhook *w, const cairn_event *ev, const char *path,
                             int depth)
{
    const cairn_host_api *api = w->api;
    const char *s;
    size_t len;
    int64_t i;
    double f;
    int b;
    switch (api->event_field_type(ev, path)) {
    case CAIRN_FIELD_NIL:
        return json_null();
    case CAIRN_FIELD_BOOL:
        return api->event_get_bool(ev, path, &b) == 0 ? json_boolean(b) : NULL;
    case CAIRN_FIELD_INT:
        return api->event_get_int(ev, path, &i) == 0 ? json_integer(i) : NULL;
    case CAIRN_FIELD_FLOAT:
        if (api->event_get_float(ev, path, &f) != 0)
            return NULL;
        return isfinite(f) ? json_real(f) : json_null(); /* JSON has no NaN */
    case CAIRN_FIELD_STRING:
        return api->event_get_string(ev, path, &s, &len) == 0 ? json_stringn(s, len) : NULL;
    case CAIRN_FIELD_ARRAY:
        return depth < WEBHOOK_MAX_DEPTH ? webhook_array(w, ev, path, depth) : NULL;
    default:
        return NULL;
    }
}

static char *webhook_body(const struct webhook *w, const cairn_event *ev)
{
    const cairn_host_api *api = w->api;
    json_t *fields = json_object();
    for (size_t k = 0; fields && k < w->nfields; k++) {
        json_t *v = webhook_value(w, ev, w->fields[k], 0);
        if (v)
            json_object_set_new(fields, w->fields[k], v);
    }
    const char *source = api->event_source(ev);
    json_t *body = json_pack("{s:s, s:s, s:I, s:o}", "type", api->event_type(ev), "source",
                             source ? source : "", "time", (json_int_t)api->event_time_ms(ev),
                             "fields", fields);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

/* ---- delivery ---- */

static size_t webhook_discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static cairn_plugin_result webhook_fail(struct webhook *w, cairn_plugin_result result,
                                        const char *why)
{
    char detail[CURL_ERROR_SIZE + 128];
    snprintf(detail, sizeof(detail), "%s: %s",
             result == CAIRN_PLUGIN_RETRY ? "will retry" : "gave up", why);
    w->api->log(w->host, CAIRN_LOG_WARN, "post_failed", detail);
    w->api->counter_add(w->host, result == CAIRN_PLUGIN_RETRY ? "retries" : "failed", 1);
    return result;
}

/* 2xx: delivered. 429, 5xx, no answer in time, no connection: the endpoint
 * may recover, try again. Any other status: this request will never be
 * accepted, give up. */
static cairn_plugin_result webhook_deliver(void *state, const cairn_event *ev)
{
    struct webhook *w = state;
    char *body = webhook_body(w, ev);
    if (!body)
        return webhook_fail(w, CAIRN_PLUGIN_RETRY, "cannot build the body (out of memory)");
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    w->error[0] = '\0';
    CURLcode rc = curl_easy_perform(w->curl);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, NULL);
    free(body);
    if (rc != CURLE_OK)
        return webhook_fail(w, CAIRN_PLUGIN_RETRY, w->error[0] ? w->error : curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        w->api->counter_add(w->host, "sent", 1);
        return CAIRN_PLUGIN_OK;
    }
    char why[64];
    snprintf(why, sizeof(why), "HTTP status %ld", status);
    return webhook_fail(w, status == 429 || status >= 500 ? CAIRN_PLUGIN_RETRY : CAIRN_PLUGIN_ERROR,
                        why);
}

/* ---- the plugin ---- */

/* "Name: value" with a token for a name and no line break anywhere. */
static int webhook_header_ok(const char *h)
{
    size_t name = strcspn(h, ":");
    if (name == 0 || h[name] != ':' || strpbrk(h, "\r\n"))
        return 0;
    for (size_t i = 0; i < name; i++)
        if (h[i] <= ' ' || h[i] == 0x7f)
            return 0;
    return 1;
}

static const char *webhook_check_url(const char *url)
{
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return "url must start with http:// or https://";
    CURLU *u = curl_url();
    CURLUcode rc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    return rc == CURLUE_OK ? NULL : "url is not a valid URL";
}

/* Reads and checks the configuration and subscribes; returns why it cannot. */
static const char *webhook_configure(struct webhook *w)
{
    const cairn_host_api *api = w->api;
    cairn_host *h = w->host;
    const char *why;
    if (api->config_string(h, "url", &w->url) != 0)
        return "url is required";
    if ((why = webhook_check_url(w->url)) != NULL)
        return why;
    if (api->config_int(h, "timeout_ms", &w->timeout_ms) != 0 || w->timeout_ms < 1 ||
        w->timeout_ms > 600000)
        return "timeout_ms must be 1 to 600000";
    size_t n = api->config_list_count(h, "headers");
    for (size_t i = 0; i < n; i++) {
        const char *hdr = api->config_list_item(h, "headers", i);
        if (!hdr || !webhook_header_ok(hdr))
            return "each of headers must be \"Name: value\" on one line";
        struct curl_slist *l = curl_slist_append(w->headers, hdr);
        if (!l)
            return "out of memory";
        w->headers = l;
    }
    n = api->config_list_count(h, "fields");
    w->nfields = n ? n : WEBHOOK_DEFAULT_FIELDS;
    w->fields = calloc(w->nfields, sizeof(*w->fields));
    if (!w->fields)
        return "out of memory";
    for (size_t i = 0; i < w->nfields; i++) {
        w->fields[i] = n ? api->config_list_item(h, "fields", i) : webhook_default_fields[i];
        if (!w->fields[i] || !w->fields[i][0])
            return "fields must not hold an empty path";
    }
    n = api->config_list_count(h, "subscribe");
    for (size_t i = 0; i < (n ? n : 1); i++) {
        const char *type = n ? api->config_list_item(h, "subscribe", i) : "alert";
        if (!type || !type[0] || api->subscribe(h, type) != 0)
            return "subscribe holds an event type the host refused";
    }
    return NULL;
}

static const char *webhook_setup_curl(struct webhook *w)
{
    struct curl_slist *l = curl_slist_append(w->headers, "Content-Type: application/json");
    if (!l || !(w->curl = curl_easy_init()))
        return "cannot set up libcurl";
    w->headers = l;
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* the agent has threads */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, webhook_discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->error);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn-webhook/1.0");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    return NULL;
}

static void webhook_fini(void *state)
{
    struct webhook *w = state;
    if (w->curl)
        curl_easy_cleanup(w->curl);
    curl_slist_free_all(w->headers);
    free(w->fields);
    free(w);
    curl_global_cleanup();
}

static int webhook_init(const cairn_host_api *api, cairn_host *host, void **state)
{
    struct webhook *w = calloc(1, sizeof(*w));
    if (!w || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed",
                 w ? "cannot initialise libcurl" : "out of memory");
        free(w);
        return -1;
    }
    w->api = api;
    w->host = host;
    const char *why = webhook_configure(w);
    if (why) {
        api->log(host, CAIRN_LOG_ERROR, "bad_config", why);
    } else if ((why = webhook_setup_curl(w)) != NULL) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", why);
    }
    if (why) {
        webhook_fini(w);
        return -1;
    }
    *state = w;
    return 0;
}

static const cairn_notifier_ops webhook_ops = {
    .size = sizeof(cairn_notifier_ops),
    .deliver = webhook_deliver,
};

static const cairn_plugin_descriptor webhook_descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_NOTIFIER,
    .name = "webhook",
    .version = "1.0.0",
    .description = "POSTs the events it subscribed to (alerts) as JSON to an HTTP endpoint",
    .config = webhook_config,
    .init = webhook_init,
    .fini = webhook_fini,
    .ops = &webhook_ops,
};

CAIRN_PLUGIN_EXPORT(webhook_descriptor)
