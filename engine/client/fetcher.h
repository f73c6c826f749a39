/*
 * engine/client/fetcher.h - libcurl multi transfers of the client role (fetcher.c
 * and its fetch_*.c pieces, jobs thread only). Used by the scheduler (and jobs.c for the
 * wakeup and the connection count).
 */
#ifndef FERRY_CLIENT_FETCHER_H
#define FERRY_CLIENT_FETCHER_H

#include <stdbool.h>
#include <stdint.h>

struct ferry_jobs;
struct job;

int fetcher_init(struct ferry_jobs *jobs);
void fetcher_done(struct ferry_jobs *jobs);
/* Start fetching the current file of a runnable job. */
int fetcher_start(struct ferry_jobs *jobs, struct job *job);
/* Stop a job's transfer: checkpoint (unless the job is cancelled), abort requests, close
 * files. */
void fetcher_stop(struct ferry_jobs *jobs, struct job *job);
/* Drive libcurl: perform, completions, checkpoints. */
void fetcher_run(struct ferry_jobs *jobs);
/* Wait for sockets or a wakeup, at most timeout_ms. Called without the lock. */
void fetcher_poll(struct ferry_jobs *jobs, int timeout_ms);
void fetcher_wakeup(struct ferry_jobs *jobs);
/* Requests (connections) the job has in flight now. */
uint32_t fetcher_connections(const struct job *job);
/* Does pacing hold requests back (the thread should wake again soon)? */
bool fetcher_throttled(struct ferry_jobs *jobs);
/* Idle for a while: drop the multi handle's cached connections (a fresh handle). */
void fetcher_idle(struct ferry_jobs *jobs, int64_t now_ms);
#define FETCHER_IDLE_CLOSE_MS 1000
/* A URL of this host publishes file fidx of job: its running transfer fills the file's
 * relay in (fetch_source.c). */
void fetcher_relay_attach(struct job *job, size_t fidx);

#endif
