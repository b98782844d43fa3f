/*
 * The signals a daemon acts on arrive on a descriptor its poll loop watches,
 * so one can never slip in between a flag check and the poll.
 */
#ifndef CAIRN_DAEMON_SIGNALS_H
#define CAIRN_DAEMON_SIGNALS_H

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a descriptor they arrive on;
 * -1 on failure. */
int daemon_signals_open(void);

/* The stop signal read from fd ("TERM" or "INT"), or NULL: none was
 * waiting, or it was SIGHUP, which is logged and otherwise ignored (the
 * daemons log to stderr and read their config at start: a logrotate
 * postrotate or a closed terminal must not stop them). */
const char *daemon_signals_stop(int fd);

#endif
