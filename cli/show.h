/*
 * What the CLI's read commands share: the table they print, and the parsing
 * of a command that takes options only.
 */
#ifndef CAIRN_CLI_SHOW_H
#define CAIRN_CLI_SHOW_H

#include <stdbool.h>
#include <stdio.h> /* cli.h uses FILE */

#include "cli.h"
#include "table.h"

/* Says on stderr that memory ran out; CLI_FAILED. */
int cli_out_of_memory(void);

/* Prints t on stdout when every row made it in (ok) and frees it; CLI_OK, or
 * CLI_FAILED after saying on stderr that memory ran out. */
int cli_print_table(table *t, bool ok);

/* cli_parse for a command that takes no positional argument: -1 when it
 * should run (out filled, for args_free), else the exit status to return,
 * after a usage error for a stray argument. */
int cli_parse_options(cli_ctx *ctx, const cli_command *self, int argc, char **argv,
                      const opt_spec *specs, parsed_args *out);

#endif
