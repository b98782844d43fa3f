/*
 * symlink: a deployer that installs model versions side by side and points a
 * `current` symlink at the live one.
 *
 *     <root>/<model>/versions/<version>/<file_name>   the artifact
 *     <root>/<model>/versions/<version>/.sha256       its hash, for redeploys
 *     <root>/<model>/current -> versions/<version>    what the server loads
 *     <root>/<model>/history                          deployed versions, oldest first
 *
 * Every change a server could observe is one rename(): a version directory
 * appears whole (built under a dot name, then renamed), and `current` is
 * switched by renaming a new symlink over it, so a reader sees the old target
 * or the new one, never none. Names starting with '.' in versions/ are this
 * plugin's scratch (a model or version name may not start with '.'), removed
 * when the next deploy of that model starts.
 *
 * A command runs in steps on the agent's loop, never blocking it: the fetch
 * is the host's (fetch_blob calls back when the file is in place), and the
 * reload command is a child process watched through a pidfd (or, where the
 * kernel has none, a short poll timer) with a timeout. One command per model
 * runs at a time; another one for the same model meanwhile is answered
 * `retry`.
 */
#ifndef CAIRN_SYMLINK_H
#define CAIRN_SYMLINK_H

#include <cairn/plugin.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NAME_MAX_LEN 128  /* longest model, version or file name */
#define HISTORY_KEEP 32   /* versions remembered per model for rollback */
#define RELOAD_POLL_MS 50 /* reload exit polling, only where pidfd_open is missing */
#define VERSIONS_PREFIX "versions/"

struct deployer {
    const cairn_host_api *api;
    cairn_host *host;
    const char *root; /* host strings, valid until fini */
    const char *reload_command;
    const char *file_name;
    int64_t reload_timeout_ms;
    struct op *ops; /* commands in flight */
    unsigned seq;   /* makes scratch names unique */
};

/* One command in flight. */
struct op {
    struct op *next;
    struct deployer *d;
    char *id;
    int rollback;
    int64_t deadline_ms;
    char model[NAME_MAX_LEN + 1];
    char version[NAME_MAX_LEN + 1]; /* the version being switched to */
    char sha256[65];
    char *model_dir;    /* <root>/<model> */
    char *fetch_path;   /* scratch file the blob is fetched into, or NULL */
    char *prev_target;  /* what `current` pointed at before, or NULL when absent */
    char *prev_version; /* the version of prev_target ("" when none) */
    pid_t pid;          /* the reload command, or 0 */
    int pidfd;
    uint64_t poll_timer, timeout_timer;
};

/* The plugin's files share these functions. They are not static, yet stay
 * inside symlink.so: plugins build with -fvisibility=hidden, so the only
 * symbol the agent sees is cairn_plugin_entry. */

/* files.c */
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
int safe_name(const char *s, size_t len);
void sync_dir(const char *dir);
int write_file_atomic(const char *path, const char *text);
char *read_small_file(const char *path);

/* history.c */
size_t history_read(const char *model_dir, char (*out)[NAME_MAX_LEN + 1]);
int history_write(const char *model_dir, char (*names)[NAME_MAX_LEN + 1], size_t n);

/* current.c */
int current_read(const char *model_dir, char **target, char **version);
int current_switch(struct deployer *d, const char *model_dir, const char *target);

/* command.c */
const char *command_name(struct deployer *d, const cairn_event *cmd, const char *name,
                         char out[NAME_MAX_LEN + 1]);
int command_sha256(struct deployer *d, const cairn_event *cmd, char out[65]);
void op_free(struct op *op);
char *op_file_path(const struct op *op);
void op_finish(struct op *op, cairn_plugin_result result, const char *message);
void op_fail(struct op *op, const char *f, ...) __attribute__((format(printf, 2, 3)));
cairn_plugin_result deployer_on_command(void *state, const char *command_id,
                                        const cairn_event *command, int64_t deadline_ms);

/* switch.c */
void op_switch(struct op *op);
void op_succeeded(struct op *op);

/* reload.c */
int reload_start(struct op *op);
void reload_ended(struct op *op, const char *failure);

/* deploy.c, rollback.c */
void deploy_start(struct op *op, const cairn_event *cmd);
void rollback_start(struct op *op);

#endif
