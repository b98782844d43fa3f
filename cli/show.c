#include "show.h"


int cli_print_table(table *t, bool ok)
{
    if (table_print_section(t, ok, NULL))
        return CLI_OK;
    fputs("cairn: out of memory\n", stderr);
    return CLI_FAILED;
}

int cli_parse_options(cli_ctx *ctx, const cli_command *self, int argc, char **argv,
                      const opt_spec *specs, parsed_args *out)
{
    int rc = cli_parse(ctx, self, argc, argv, specs, out);
    if (rc >= 0 || out->n_pos == 0)
        return rc;
    rc = cli_usage_error(self, "unexpected argument '%s'", out->pos[0]);
    args_free(out);
    return rc;
}
