#include "daemon_signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "kvlog.h"

int daemon_signals_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

const char *daemon_signals_stop(int fd)
{
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM)
            return "TERM";
        if (si.ssi_signo == SIGINT)
            return "INT";
        kvlog(KVLOG_INFO, "signal_ignored", "signal=HUP reason=\"nothing to reload: the "
                                            "config is read at start, logs go to stderr\"");
    }
    return NULL;
}
