/*
 * What the model registry's commands (cmd_models_read.c, cmd_lineage.c) show
 * alike: a version, a list of history events, and whole lists read page by
 * page.
 */
#ifndef CAIRN_CLI_MODELS_VIEW_H
#define CAIRN_CLI_MODELS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"

/* A read command of the registry: its positional arguments, its request, and
 * how its result prints (--json: to_json's text; else print's tables). */
typedef struct models_read {
    size_t n_pos;         /* exactly this many positional arguments */
    const char *expected; /* the usage error when there are not */
    bool is_ref;          /* pos[0] is a version reference, checked before sending */
    cairn_status (*fetch)(cairn_client *c, char *const *pos, void **result, cairn_error *err);
    char *(*to_json)(const void *result);
    bool (*print)(const void *result); /* false: out of memory */
    void (*release)(void *result);
} models_read;

/* Parses argv (no option but --json), checks the positional arguments, then
 * models_view_show. */
int models_view_read(cli_ctx *ctx, const cli_command *self, int argc, char **argv,
                     const models_read *r);
/* Fetches r's result for pos and prints it; the command's exit status. */
int models_view_show(cli_ctx *ctx, const models_read *r, char *const *pos);

/* `models version REF`: the version REF names. */
extern const models_read models_view_version_read;

/* CAIRN_OUT_OF_MEMORY, said in err. */
cairn_status models_view_no_memory(cairn_error *err);

/* CLI_OK when ref reads as NAME/VERSION, NAME@ALIAS or NAME/STAGE, else the
 * usage error saying why. */
int models_view_check_ref(const cli_command *self, const char *ref);

/* Rows of "key value", aligned. */
bool models_view_block(const char *const (*rows)[2], size_t n);

/* "a, b" of the version's aliases ("-" for none); malloc'd, NULL when out of memory. */
char *models_view_aliases(const cairn_model_version *v);

/* A version: its fields, then its tags, signature and input example. */
bool models_view_version(const cairn_model_version *v);

/* A table of history events, under "title:" (NULL: as the whole output). */
bool models_view_events(const char *title, const cairn_model_event *e, size_t n);

/* Every page of a model's versions or history. fetch gets one page from
 * `since` and hands over its items (an array of size-byte items), its count
 * and the next page's start (0: none); they are appended to *items. On
 * failure (err is required) *items holds what was read so far, for the caller to free. */
typedef cairn_status (*models_view_page)(cairn_client *c, const char *name, uint64_t since,
                                         void **items, size_t *count, uint64_t *next,
                                         cairn_error *err);
/* Frees a page's n items and their array (when they cannot be kept). */
typedef void (*models_view_drop)(void *items, size_t n);
cairn_status models_view_fetch_all(cairn_client *c, const char *name, models_view_page fetch,
                                   models_view_drop drop, size_t size, void **items, size_t *count,
                                   cairn_error *err);

#endif
