/* The leaf commands; main.c arranges them into the command tree. */
#ifndef CAIRN_CLI_COMMANDS_H
#define CAIRN_CLI_COMMANDS_H

#include "cli.h"

#define CMD(name) int name(cli_ctx *ctx, const cli_command *self, int argc, char **argv)

/* cmd_runs.c: writing runs */
CMD(cmd_runs_start);
CMD(cmd_runs_log);
CMD(cmd_runs_end);

/* cmd_runs_read.c: reading runs */
CMD(cmd_runs_list);
CMD(cmd_runs_show);
CMD(cmd_runs_compare);

/* cmd_read.c: the other reads */
CMD(cmd_experiments);
CMD(cmd_metrics);
CMD(cmd_events);
CMD(cmd_ping);
CMD(cmd_artifacts_get);

/* cmd_agent_events.c: what agents' plugins and clients reported */
CMD(cmd_agent_events);

/* cmd_models.c, cmd_models_read.c, cmd_lineage.c: the model registry */
CMD(cmd_models_create);
CMD(cmd_models_register);
CMD(cmd_models_stage);
CMD(cmd_models_alias);
CMD(cmd_models_unalias);
CMD(cmd_models_rollback);
CMD(cmd_models_list);
CMD(cmd_models_show);
CMD(cmd_models_versions);
CMD(cmd_models_version);
CMD(cmd_models_history);
CMD(cmd_models_get);
CMD(cmd_lineage);

/* cmd_agents.c: the fleet */
CMD(cmd_agents);
/* ping --selector: fans a ping out to the agents the selector matches ("all"
 * or "*": every agent), giving them timeout_ms to answer. */
int cli_ping_agents(cli_ctx *ctx, const char *selector, int timeout_ms);
/* The protocol's selector for the CLI's: "all" and "*" are every agent, "". */
const char *cli_protocol_selector(const char *selector);
/* The exit status of a fan-out of n results, bad of them not ok: CLI_OK when
 * every agent answered ok; else CLI_FAILED, saying on stderr how many did not
 * (or that no agent matches the selector). */
int cli_judge_fanout(size_t n, size_t bad, const char *selector);

/* cmd_fleet.c: commands whose agents' replies carry a body */
CMD(cmd_plugins);
CMD(cmd_deploy);
CMD(cmd_rollback);

/* cmd_datasets.c: dataset versions by content hash, and the runs that used them */
CMD(cmd_datasets_add);
CMD(cmd_datasets_list);
CMD(cmd_datasets_show);

#undef CMD
#endif
