/*
 * The C client API in one page: start a run, log a batch, end it, read it
 * back as the CLI's JSON. Build against an installed libcairn with
 *   cc log_run.c $(pkg-config --cflags --libs cairn) -o log_run
 * and run with CAIRN_COORDINATOR pointing at a coordinator.
 */
#include <cairn/client.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const cairn_error *err)
{
    fprintf(stderr, "log_run: %s: %s\n", cairn_status_name(err->status), err->message);
    return 1;
}

int main(void)
{
    cairn_error err;
    cairn_client *c = cairn_client_open(NULL, &err); /* $CAIRN_COORDINATOR or the default */
    if (!c)
        return fail(&err);

    char run_id[CAIRN_ID_TEXT_LEN + 1];
    cairn_kv tags[] = {{"team", "growth"}};
    cairn_run_start_opts opts = {.experiment = "c-example", .name = "from-c", .tags = tags,
                                 .n_tags = 1, .detect_source = 1};
    if (cairn_run_start(c, NULL, &opts, run_id, &err))
        return fail(&err);

    cairn_kv params[] = {{"learning_rate", "0.01"}, {"epochs", "3"}};
    cairn_metric metrics[3];
    for (int step = 0; step < 3; step++)
        metrics[step] = (cairn_metric){"loss", 1.0 / (step + 1), step, 0};
    cairn_log_batch batch = {.params = params, .n_params = 2, .metrics = metrics, .n_metrics = 3};
    if (cairn_run_log(c, run_id, &batch, &err) || cairn_run_end(c, run_id, "FINISHED", 0, &err))
        return fail(&err);

    cairn_run *run;
    if (cairn_run_get(c, run_id, &run, &err))
        return fail(&err);
    char *json = cairn_run_to_json(run);
    puts(json);
    free(json);
    cairn_run_free(run);
    cairn_client_close(c);
    return 0;
}
