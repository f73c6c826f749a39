/*
 * engine/client/notify_json.h - the job document a notify URL receives (notify_json.c).
 */
#ifndef FERRY_CLIENT_NOTIFY_JSON_H
#define FERRY_CLIENT_NOTIFY_JSON_H

#include "ferry/jobs.h"

struct job;

/* The JSON object POSTed for `event` ("TRANSFERRED", "ERROR", ...): the BitsClientJob
 * properties of `info` with the names and string values `ferryctl --json job show` prints
 * (a documented subset), Files always an array, plus Event, StateName and the error object
 * of `job` when it has one. malloc()ed, NULL on OOM. Caller holds the role's lock. */
char *notify_json_job(const struct job *job, const struct ferry_job_info *info,
                      const char *event);

#endif
