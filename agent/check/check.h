/* cairn-plugin-check's parts (see main.c). */
#ifndef CAIRN_PLUGIN_CHECK_H
#define CAIRN_PLUGIN_CHECK_H

#include <stdbool.h>

#include "sha256_file.h"

#define CHECK_MAX_INPUTS 4096
#define CHECK_MAX_BLOBS 64

typedef enum { CHECK_EVENT, CHECK_COMMAND } check_input_kind;

typedef struct check_input {
    check_input_kind kind;
    const char *json;
} check_input;

typedef struct check_blob {
    const char *path;
    char sha256[SHA256_HEX_LEN + 1];
} check_blob;

typedef struct check_opts {
    const char *plugin;
    const char *config_file;
    const char *state_dir;
    check_input inputs[CHECK_MAX_INPUTS];
    int n_inputs;
    check_blob blobs[CHECK_MAX_BLOBS];
    int n_blobs;
    long run_for_ms;
} check_opts;

int check_run(check_opts *o);

#endif
