/*
 * engine/server/fileserve_relay.h - answering a published URL from the relay of a job of
 * this host still fetching its source (docs/internals/relay.md). Used by fileserve.c.
 */
#ifndef FERRY_SERVER_FILESERVE_RELAY_H
#define FERRY_SERVER_FILESERVE_RELAY_H

#include <stdbool.h>

#include "ferry/http.h"
#include "ferry/rate.h"
#include "urlgroup.h"

struct relay;

/* Answer a GET/HEAD of url (or its .meta4, meta4 true) from its relay r (a reference,
 * consumed). rate: the group's bucket or NULL. The caller has routed, authorized and
 * counted the request. */
void fileserve_relay(struct urlgroup_url *url, struct relay *r, struct ferry_rate *rate,
                     bool meta4, bool head, const struct ferry_http_request *req,
                     struct ferry_http_response *resp);

#endif
