/* Memory libcairn hands out, freed by libcairn's own free(): callers such as
 * Python's ctypes may not reach the same C library. */
#include <stdlib.h>

#include "cairn/client.h"

void cairn_free(void *p)
{
    free(p);
}
