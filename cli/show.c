#include "show.h"


int cli_out_of_memory(void)
{
    fputs("cairn: out of memory\n", stderr);
    return CLI_FAILED;
}

int cli_print_table(table *t, bool ok)
{
    return table_print_section(t, ok, NULL) ? CLI_OK : cli_out_of_memory();
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
