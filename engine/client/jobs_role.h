/*
 * engine/client/jobs_role.h - the client role's constructor, called by engine/engine.c
 * (and by the client's unit tests, which run this role alone).
 */
#ifndef FERRY_JOBS_ROLE_H
#define FERRY_JOBS_ROLE_H

#include "ferry/config.h"
#include "ferry/jobs.h"

/* Open the store (STATE/jobs.db, SQLite WAL), recover jobs left in CONNECTING/TRANSFERRING
 * by a crash, start the scheduler thread. */
int jobs_new(const struct ferry_config *cfg, struct ferry_jobs **ret_jobs);
struct ferry_jobs *jobs_free(struct ferry_jobs *jobs);

struct relay;
/* The relay of the job file writing `path` (a new reference, created when missing), NULL
 * when no unfinished job writes it. For the server role's relay URLs (engine.c). */
struct relay *jobs_relay_find(struct ferry_jobs *jobs, const char *path);

#endif
