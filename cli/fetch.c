#include "fetch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_PAGE_MAX 50000
#define EVENTS_PAGE_MAX 10000

static cairn_status no_memory(cairn_error *err)
{
    if (err) {
        err->status = CAIRN_OUT_OF_MEMORY;
        strcpy(err->message, "out of memory");
    }
    return CAIRN_OUT_OF_MEMORY;
}

/* Moves a page's *n items of size bytes to the end of *items (holding
 * *count), and empties the page (*n = 0) so that freeing it leaves them be.
 * When out of memory the page keeps them. */
static bool take_items(void **items, size_t *count, const void *page, size_t *n, size_t size)
{
    if (*n == 0)
        return true;
    void *grown = realloc(*items, (*count + *n) * size);
    if (!grown)
        return false;
    memcpy((char *)grown + *count * size, page, *n * size);
    *items = grown;
    *count += *n;
    *n = 0;
    return true;
}

static size_t page_size(size_t max, size_t have, size_t cap)
{
    if (max == 0)
        return 0; /* the coordinator's default page */
    return max - have < cap ? max - have : cap;
}

/* ---- runs ---- */

cairn_status fetch_runs(cairn_client *c, const cairn_search_opts *opts, size_t max,
                        cairn_run_list **out, cairn_error *err)
{
    cairn_search_opts o = *opts;
    cairn_run_list *all = calloc(1, sizeof *all), *page = NULL;
    char *token = NULL;
    cairn_status st = all ? CAIRN_OK : no_memory(err);
    o.page_token = NULL;
    while (!st && (max == 0 || all->count < max)) {
        o.max = page_size(max, all->count, SEARCH_PAGE_MAX);
        if ((st = cairn_run_search(c, &o, &page, err)))
            break;
        size_t got = page->count;
        void *runs = all->runs;
        if (!take_items(&runs, &all->count, page->runs, &page->count, sizeof *page->runs))
            st = no_memory(err);
        all->runs = runs;
        free(token);
        token = page->next_page_token; /* kept for the next request */
        page->next_page_token = NULL;
        cairn_run_list_free(page);
        if (!token || got == 0) /* an empty page with a token would loop */
            break;
        o.page_token = token;
    }
    free(token);
    if (st) {
        cairn_run_list_free(all);
        return st;
    }
    *out = all;
    return CAIRN_OK;
}

/* ---- metric history ---- */

cairn_status fetch_history(cairn_client *c, const char *run, const char *key,
                           cairn_history **out, cairn_error *err)
{
    cairn_history *all = calloc(1, sizeof *all), *page = NULL;
    cairn_status st = all ? CAIRN_OK : no_memory(err);
    uint64_t offset = 0;
    while (!st) {
        if ((st = cairn_metric_history(c, run, key, offset, 0, &page, err)))
            break;
        void *points = all->points;
        if (!take_items(&points, &all->count, page->points, &page->count, sizeof *page->points))
            st = no_memory(err);
        all->points = points;
        all->total = page->total;
        uint64_t next = page->next_offset;
        cairn_history_free(page);
        if (next <= offset) /* 0 on the last page; a step back would loop */
            break;
        offset = next;
    }
    if (st) {
        cairn_history_free(all);
        return st;
    }
    *out = all;
    return CAIRN_OK;
}

/* ---- audit events ---- */

cairn_status fetch_events(cairn_client *c, uint64_t since, size_t max, cairn_audit_entry_list **out,
                          cairn_error *err)
{
    cairn_audit_entry_list *all = calloc(1, sizeof *all), *page = NULL;
    cairn_status st = all ? CAIRN_OK : no_memory(err);
    while (!st && (max == 0 || all->count < max)) {
        if ((st = cairn_audit_entries_list(c, since, page_size(max, all->count, EVENTS_PAGE_MAX), &page, err)))
            break;
        void *events = all->items;
        if (!take_items(&events, &all->count, page->items, &page->count, sizeof *page->items))
            st = no_memory(err);
        all->items = events;
        uint64_t next = page->next;
        cairn_audit_entry_list_free(page);
        if (next <= since) /* 0 when there are no more */
            break;
        since = next;
    }
    if (st) {
        cairn_audit_entry_list_free(all);
        return st;
    }
    *out = all;
    return CAIRN_OK;
}
