/*
 * Isolated plugins (`isolate = true`): the plugin runs in a child process,
 * this program started again as `cairn-agent --plugin-child`, under the same
 * contract. The child runs its own plugin host with the one plugin in it and
 * relays what the plugin does (emits, answers, fetch requests, subscriptions,
 * counters) over a socketpair (plugin_wire.h); the agent keeps a stand-in
 * instance that forwards events and commands to it.
 *
 * The agent pings the child every second (a quarter of plugins.watchdog_ms if
 * shorter), and the child also says it is alive between callbacks; silence
 * for plugins.watchdog_ms is a hang and the child is killed. A child that dies or hangs is logged,
 * reported to the coordinator as a `plugin.crashed` event, its commands are
 * answered COMMAND_FAILED, and it is started again after 1 s, doubling to
 * 60 s while it keeps failing. With plugins.user set and the agent running as
 * root, children run as that user and can never become root again.
 */
#ifndef CAIRN_AGENT_PLUGIN_ISOLATE_H
#define CAIRN_AGENT_PLUGIN_ISOLATE_H

#include "plugin_host.h"

/* Starts the child and waits (up to 10 s) for its plugin's init. */
cairn_status isolate_start(plugin_instance *p, const char *path, const plugin_spec *spec,
                           cairn_error *err);
/* Sends an event to the child's plugin. */
void isolate_event(plugin_instance *p, const cairn_event *ev);
cairn_plugin_result isolate_command(plugin_instance *p, const char *command_id,
                                    const cairn_event *cmd, int64_t deadline_wall_ms);
/* Hands on the frames held back while their plugin's share of the emit
 * queue was full (the caller drained it), leaving the last of their events
 * queued; false when none were held. */
bool isolate_take_held(plugin_host *h);
/* Asks the child to flush and stop; kills it after 2 s. Frees p->iso. */
void isolate_stop(plugin_instance *p);

/* The child's side: serves the plugin on fd until told to stop. */
int plugin_child_main(int fd);

#endif
