/*
 * engine/roles.h - internal constructors of the two roles, called by engine.c only.
 */
#ifndef FERRY_ENGINE_ROLES_H
#define FERRY_ENGINE_ROLES_H

#include "ferry/config.h"
#include "ferry/jobs.h"
#include "ferry/server.h"
#include "ferry/users.h"

/* engine/server/server.c: start the data-plane HTTP server (cfg->workers threads), restore
 * persisted groups/URLs from STATE/server.db (or the store the role chooses inside
 * cfg->state_dir), add the config file's url-group/url lines, start the manifest thread.
 * users is borrowed (outlives the server). */
int server_new(const struct ferry_config *cfg, struct ferry_users *users,
               struct ferry_server **ret_srv);
struct ferry_server *server_free(struct ferry_server *srv);

/* engine/client/jobs.c: open the store (STATE/jobs.db, SQLite WAL), recover jobs left in
 * CONNECTING/TRANSFERRING by a crash, start the scheduler thread. */
int jobs_new(const struct ferry_config *cfg, struct ferry_jobs **ret_jobs);
struct ferry_jobs *jobs_free(struct ferry_jobs *jobs);

#endif
