#include "daemon_bind.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "error.h"

/* Whether a process accepts connections on the Unix socket at path. */
static bool someone_listens(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return false; /* ZeroMQ refuses such a path itself */
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return live;
}

cairn_status daemon_bind(void *router, const char *endpoint, cairn_error *err)
{
    static const char ipc[] = "ipc://";
    if (strncmp(endpoint, ipc, sizeof ipc - 1) == 0 && endpoint[sizeof ipc - 1] != '@' &&
        someone_listens(endpoint + sizeof ipc - 1))
        return error_set(err, CAIRN_TRANSPORT_ERROR,
                         "bind %s: another process is serving that socket", endpoint);
    if (zmq_bind(router, endpoint) != 0)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "bind %s: %s", endpoint,
                         zmq_strerror(errno));
    return CAIRN_OK;
}
