/*
 * engine/server/server_role.h - the server role's constructor, called by engine/engine.c
 * (and by tests/tools/rel_serverd.c, which runs this role alone).
 */
#ifndef FERRY_SERVER_ROLE_H
#define FERRY_SERVER_ROLE_H

#include "ferry/config.h"
#include "ferry/server.h"
#include "ferry/users.h"

/* Start the data-plane HTTP server (cfg->workers threads), restore persisted groups/URLs
 * from STATE/server.db, add the config file's url-group/url lines, start the manifest
 * thread. users is borrowed (outlives the server). */
int server_new(const struct ferry_config *cfg, struct ferry_users *users,
               struct ferry_server **ret_srv);
struct ferry_server *server_free(struct ferry_server *srv);

struct relay;
/* server_new, and URLs may publish files jobs of this host are still fetching:
 * relay_find(relay_ud, source) gives the relay of the job file writing source (a
 * reference) or NULL (docs/internals/relay.md). Set before the persisted URLs are
 * restored, so a relay URL survives a restart of its host. */
int server_new_relay(const struct ferry_config *cfg, struct ferry_users *users,
                     struct relay *(*relay_find)(void *ud, const char *source), void *relay_ud,
                     struct ferry_server **ret_srv);

#endif
