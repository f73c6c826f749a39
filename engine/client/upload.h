/*
 * engine/client/upload.h - upload jobs (BITS Type 1 upload, Type 2 upload-reply) of the
 * client role: the BITS upload protocol spoken as a client (upload_xfer.c: Ping,
 * Create-Session, Fragment with Content-Range, the reply of an upload-reply job,
 * Close-Session; resume from BITS-Received-Content-Range), their table in jobs.db
 * (upload_store.c), the upload side of Complete / Cancel (upload_job.c) and the
 * Cancel-Session a cancelled job sends its server (upload_cancel.c).
 * docs/internals/client.md "Upload jobs".
 *
 * An upload transfer is a struct xfer (fetcher-internal.h) whose `up` is set: the fetcher
 * hands its start, its requests' completions, its pump and its end to upload_xfer.c, so
 * states, priorities, retries and pacing are the downloads' own. Jobs thread only, with
 * the role's lock held, except where a function says otherwise.
 */
#ifndef FERRY_CLIENT_UPLOAD_H
#define FERRY_CLIENT_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/common.h"

struct ferry_config;
struct ferry_jobs;
struct job;
struct req;
struct upload_cancel;
struct store;
struct xfer;

/* The BITS 1.5 upload protocol, the only one. */
#define UPLOAD_CLIENT_PROTOCOL "{7df0354d-249b-430f-820d-3d2a9bef4931}"
/* BG_E_SESSION_NOT_FOUND: the server forgot the session; the upload starts a new one. */
#define UPLOAD_CLIENT_E_SESSION_NOT_FOUND 0x8020001Fu
/* Largest fragment sent (halved on a 413 down to UPLOAD_FRAGMENT_MIN): ferryd's default
 * --upload-fragment-max, since one fragment is in flight at a time. */
#define UPLOAD_FRAGMENT_MAX (8u << 20)
#define UPLOAD_FRAGMENT_MIN (64u << 10)
/* Largest reply body written to ReplyFileName. */
#define UPLOAD_REPLY_MAX (64u << 20)
/* Sessions the server forgot in a row before the job fails. */
#define UPLOAD_MAX_SESSION_RESTARTS 3u

/* ---- upload_xfer.c ---- */
/* Start the upload of a runnable Type 1/2 job: open LocalFile (beneath its download root,
 * read only), check it is the file the upload began with, and send the first packet.
 * Errors move the job to ERROR / TRANSIENT_ERROR. Returns 0. */
int upload_start(struct ferry_jobs *jobs, struct job *job);
/* Send the next packet when none is in flight. May free x (the job failed or finished). */
void upload_pump(struct xfer *x);
/* A request of x finished (libcurl result, HTTP status, its error text): read the Ack,
 * advance, persist. Frees q; may free x. */
void upload_req_done(struct xfer *x, struct req *q, int curl_result, long status,
                     const char *curl_text);
/* x ends (xfer_free): close the files and drop the protocol state; the session stays in
 * the job (and jobs.db) for the next start. */
void upload_xfer_done(struct xfer *x);

/* ---- upload_job.c (API side; any thread holding the role's lock) ---- */
/* Type 2's reply path: ReplyFileName, or LocalFile + ".reply". 0, or -ENAMETOOLONG. */
int upload_reply_path(const struct job *job, char *buf, size_t len);
/* CreateJob / AddFile / SetOption checks of upload jobs: 0 or -errno with *st filled. */
int upload_check_add_file(const struct job *job, struct ferry_status *st);
int upload_set_reply_file(const struct ferry_config *cfg, struct store *store, struct job *job,
                          const char *path, struct ferry_status *st);
/* Complete: Type 2 renames the reply onto its path (idempotent); Type 1 has nothing to
 * put in place. 0 or -errno. */
int upload_complete(const struct ferry_config *cfg, struct job *job);
/* Cancel: remove the reply's temp file. Logs what it could not remove. */
void upload_remove_temps(const struct ferry_config *cfg, struct job *job);

/* ---- upload_cancel.c ---- */
/* How long a Cancel-Session may take, connecting included. */
#define UPLOAD_CANCEL_TIMEOUT_MS 5000
/* Cancel of an upload job holding a server session (any thread, the role's lock held,
 * before the job's credentials are wiped): queue a Cancel-Session BITS_POST with the job's
 * URL, session, credentials, proxy and headers on jobs->up_cancels, and forget the session
 * (jobs.db too). Nothing for downloads or jobs without a session; a request that cannot be
 * built is logged. */
void upload_cancel_session(struct ferry_jobs *jobs, struct job *job);

/* A response header line's value after its name (namelen bytes, colon included): trimmed,
 * at most max bytes, malloc()ed (upload_xfer.c; the fragments' and Cancel-Session's). */
char *upload_header_value(const char *line, size_t len, size_t namelen, size_t max);
/* Jobs thread, after the scheduler stopped the transfers of jobs no longer runnable: add
 * the queued Cancel-Sessions to the multi handle. */
void upload_cancel_start(struct ferry_jobs *jobs);
/* A Cancel-Session request (kind REQ_UPLOAD_CANCEL) ended: log its outcome, free it. */
void upload_cancel_done(struct ferry_jobs *jobs, struct req *q, int curl_result, long status);
/* Shutdown (jobs thread, before the multi handle goes): drop what is queued or in flight. */
void upload_cancel_abandon(struct ferry_jobs *jobs);

/* ---- upload_store.c ---- */
/* Upsert the job's `uploads` row (nothing for downloads). 0 or -errno (logged). */
int upload_store_put(struct store *s, const struct job *job);
/* Fill job->up of the loaded jobs from their rows. 0 or -errno (logged). */
int upload_store_load(struct store *s, struct job **v, size_t n);

#endif
