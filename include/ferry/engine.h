/*
 * ferry/engine.h - the data plane as one object: opens the state directory, the store and
 * the users file, starts the server role (its HTTP workers and listeners for persisted and
 * configured URL groups) and the client role (scheduler thread, jobs resumed from the
 * store). ferryd's main() creates one engine and hands its parts to the control plane.
 */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#include "ferry/common.h"

struct ferry_config;
struct ferry_engine;
struct ferry_jobs;
struct ferry_server;
struct ferry_users;

/* cfg must outlive the engine. -errno with the reason logged on failure. */
FERRY_API int ferry_engine_new(const struct ferry_config *cfg, struct ferry_engine **ret);
/* Stops both roles cleanly (jobs keep their persisted progress). NULL-safe. */
FERRY_API struct ferry_engine *ferry_engine_free(struct ferry_engine *engine);

FERRY_API struct ferry_jobs *ferry_engine_jobs(struct ferry_engine *engine);
FERRY_API struct ferry_server *ferry_engine_server(struct ferry_engine *engine);
FERRY_API struct ferry_users *ferry_engine_users(struct ferry_engine *engine);

#endif
