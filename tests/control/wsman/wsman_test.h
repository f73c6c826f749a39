/*
 * tests/control/wsman/wsman_test.h - helpers of the WS-Man suites: a dispatcher context on
 * the fake engine, envelope builders in several prefix styles, and XPath reads of replies
 * (namespaces bound by URI, so the checks do not depend on the server's prefixes).
 */
#ifndef FERRY_TEST_WSMAN_H
#define FERRY_TEST_WSMAN_H

#include "fake_engine.h"
#include "wsman.h"
#include "wsman_config.h"

#define NS_JOB WSMAN_URI_BITS_CLIENT_JOB
#define NS_FILE WSMAN_URI_BITS_CLIENT_FILE
#define NS_GROUP WSMAN_URI_BITS_URL_GROUP

struct wt {
    struct ferry_config cfg;
    struct wsman_config wcfg;
    struct fake_engine *fe;
    struct wsman_ctx *ctx;
    struct wsman_reply reply;
    struct wsman_caller admin, bob, anon;
};

void wt_init(struct wt *t);
void wt_done(struct wt *t);
/* (Re)create the context after changing t->cfg. */
void wt_reset_ctx(struct wt *t);

/* Envelope with prefixes s/a/w/n: Action, To, ResourceURI, MessageID (given), ReplyTo,
 * then `headers` (raw), Body = body (raw, may be ""). malloc()ed. */
char *wt_env(const char *action, const char *uri, const char *msgid, const char *headers,
             const char *body);
/* Dispatch body as caller into t->reply (freed first); returns the HTTP status. */
int wt_send(struct wt *t, const struct wsman_caller *caller, const char *body);
/* Same with a malloc()ed envelope that is freed. */
int wt_send_env(struct wt *t, const struct wsman_caller *caller, char *env);

/* XPath string value over the last reply (prefixes s a w n x p pf pg wsmid f); malloc()ed,
 * "" when nothing matches. */
char *wt_x(struct wt *t, const char *xpath);
/* count(xpath) */
int wt_count(struct wt *t, const char *xpath);
/* Fault subcode local name of the last reply ("" when not a fault) and detail name. */
char *wt_subcode(struct wt *t);
char *wt_detail(struct wt *t);

/* Convenience: invoke `method` on the job class (selector JobId unless NULL) with an
 * _INPUT body of raw parameters. */
int wt_invoke(struct wt *t, const char *uri, const char *method, const char *selector_name,
              const char *selector_value, const char *params);
/* CreateJob and return the JobId (static buffer reused). */
const char *wt_create_job(struct wt *t, const char *name);

#endif
