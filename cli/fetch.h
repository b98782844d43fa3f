/*
 * Reads that span pages: the CLI shows whole results, so it follows
 * run.search page tokens, metric.history offsets and audit.list sequences,
 * and hands back one list in the libcairn structs (freed with their
 * cairn_*_free functions).
 */
#ifndef CAIRN_CLI_FETCH_H
#define CAIRN_CLI_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/client.h"

/* Every run of the search (opts->max and page_token ignored), or at most max
 * (0: no limit). */
cairn_status fetch_runs(cairn_client *c, const cairn_search_opts *opts, size_t max,
                        cairn_run_list **out, cairn_error *err);

/* The whole history of a metric. */
cairn_status fetch_history(cairn_client *c, const char *run, const char *key,
                           cairn_history **out, cairn_error *err);

/* Audit events from since (0: the first), at most max (0: no limit). */
cairn_status fetch_events(cairn_client *c, uint64_t since, size_t max, cairn_audit_entry_list **out,
                          cairn_error *err);

#endif
