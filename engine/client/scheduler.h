/*
 * engine/client/scheduler.h - the jobs thread (scheduler.c): retry timers,
 * priorities, round-robin slices; starts and stops the fetcher's transfers.
 */
#ifndef FERRY_CLIENT_SCHEDULER_H
#define FERRY_CLIENT_SCHEDULER_H

#include <stdint.h>

struct ferry_jobs;

int scheduler_start(struct ferry_jobs *jobs);
void scheduler_stop(struct ferry_jobs *jobs);
/* Slice length for round-robin among equal priorities. */
#define SCHEDULER_SLICE_MS 5000
/* How often the job policies (MaxDownloadTime, JobInactivityTimeout) are applied. */
#define SCHEDULER_POLICY_MS 250

#endif
