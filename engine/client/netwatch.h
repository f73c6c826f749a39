/*
 * engine/client/netwatch.h - network awareness of the client role (netwatch.c): a thread
 * listening to rtnetlink link, address and route events, which keeps one flag "the
 * network is up" (some interface other than loopback is up, running and has an address)
 * and calls a wake function when it changes. Without rtnetlink the network counts as up.
 */
#ifndef FERRY_CLIENT_NETWATCH_H
#define FERRY_CLIENT_NETWATCH_H

#include <stdbool.h>

struct netwatch;

/* Start watching; wake(ud) runs on the netwatch thread after each change of the flag.
 * 0, or -errno (the caller may go on without one: the network then counts as up). */
int netwatch_new(void (*wake)(void *ud), void *ud, struct netwatch **ret);
/* Stop the thread and free (NULL-safe); returns NULL. */
struct netwatch *netwatch_free(struct netwatch *nw);
/* Is the network up? true for NULL. Any thread. */
bool netwatch_up(const struct netwatch *nw);
/* Does url name a loopback host (localhost, 127.0.0.0/8, ::1)? Those need no network. */
bool netwatch_url_local(const char *url);

#endif
