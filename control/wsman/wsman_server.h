/*
 * control/wsman/wsman_server.h - what ferryd's main() needs of the WS-Man endpoint.
 */
#ifndef FERRY_WSMAN_SERVER_H
#define FERRY_WSMAN_SERVER_H

#include <stdbool.h>

#include "ferry/config.h"
#include "ferry/jobs.h"
#include "ferry/server.h"
#include "ferry/users.h"

struct wsman_server;

struct wsman_engine_ops;

/* Start the WS-Man HTTP server (one worker thread "wsman") and its listeners, reaching the
 * engine through `ops` (ferryd: &wsman_engine_ops_real). The engine objects are borrowed.
 * -errno with the reason logged. */
int wsman_server_new(const struct ferry_config *cfg, const struct wsman_engine_ops *ops,
                     struct ferry_jobs *jobs, struct ferry_server *srv,
                     struct ferry_users *users, struct wsman_server **ret);
/* Bound port of the plain (tls=false) or TLS listener; -ENOENT when not listening. */
int wsman_server_port(struct wsman_server *s, bool tls);
/* Stop listening, finish the thread, free. NULL-safe; returns NULL. */
struct wsman_server *wsman_server_free(struct wsman_server *s);

#endif
