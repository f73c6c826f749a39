/*
 * ferry/auth.h - the one place a password is checked (docs/internals/users.md, "Failed
 * logins"): a failure limiter keyed by user and by address, a cache of recently verified
 * credentials, and a small pool of verifier threads so that PBKDF2 (~30 ms of CPU) never
 * runs on a data-plane or WS-Man loop thread. Both the WS-Man endpoint and the data port's
 * Basic authentication go through it, so they share one failure count.
 *
 * The limiter locks out the guessing, not the owner: an address that has not failed is
 * always allowed to try (its correct password is never refused); an address that failed
 * auth_fail_limit times waits an exponential backoff; once a user name or an address
 * prefix (/24 for IPv4, /64 for IPv6) collects failures past its limit, every address that
 * has itself failed at least once waits too, so spreading guesses over many addresses buys
 * one guess per address and backoff period.
 */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <sys/socket.h>

#include "ferry/common.h"
#include "ferry/users.h"

struct ferry_config;
struct ferry_authlimit;
struct ferry_authpool;

/* ---- the failure limiter (engine/core/authlimit.c) ---- */

/* A limiter allowing `fail_limit` failures per address before backoff (0 = no limit).
 * -ENOMEM. */
FERRY_API int ferry_authlimit_new(unsigned fail_limit, struct ferry_authlimit **ret);
FERRY_API struct ferry_authlimit *ferry_authlimit_free(struct ferry_authlimit *l);
/* Seconds the address must wait before a password for `user` is checked (0 = may try).
 * Thread-safe. sa may be NULL (then only the user's count applies). */
FERRY_API unsigned ferry_authlimit_wait(struct ferry_authlimit *l, const struct sockaddr *sa,
                                        const char *user);
/* Count one failed attempt from sa for user (user may be NULL: a malformed credential). */
FERRY_API void ferry_authlimit_fail(struct ferry_authlimit *l, const struct sockaddr *sa,
                                    const char *user);
/* Tests: pretend `seconds` passed. */
FERRY_API void ferry_authlimit_age(struct ferry_authlimit *l, unsigned seconds);

/* ---- the refusal tarpit (engine/core/authtarpit.c) ---- */

/* Delays of a held refusal: FERRY_TARPIT_BASE_MS for the first refusal past the budget,
 * doubled per further one, at most FERRY_TARPIT_CAP_MS. */
#define FERRY_TARPIT_BASE_MS 100u
#define FERRY_TARPIT_CAP_MS 2000u

struct ferry_tarpit;

/* A tarpit letting each address prefix (/24, /64) be refused `rate` times a second (and
 * in a burst of `rate`) before its refusals are held; 0 = never held. -ENOMEM. */
FERRY_API int ferry_tarpit_new(unsigned rate, struct ferry_tarpit **ret);
FERRY_API struct ferry_tarpit *ferry_tarpit_free(struct ferry_tarpit *t);
/* Count one refusal (401) of sa at now_ms (a monotonic clock): the milliseconds its
 * answer is to be held, 0 = answer at once. Thread-safe; NULL t or sa: 0. */
FERRY_API unsigned ferry_tarpit_refusal(struct ferry_tarpit *t, const struct sockaddr *sa,
                                        int64_t now_ms);

/* ---- the verifier pool (engine/core/authpool.c) ---- */

enum ferry_auth_result {
    FERRY_AUTH_OK = 0,   /* role set */
    FERRY_AUTH_BAD,      /* wrong password, unknown user: 401 */
    FERRY_AUTH_LIMITED,  /* the limiter refused without checking: 429, retry_after */
    FERRY_AUTH_BUSY,     /* the queue is full (or the pool stopping): 503, retry_after */
    FERRY_AUTH_PENDING,  /* queued; done(req) runs on a verifier thread */
};

typedef int (*ferry_auth_verify_fn)(struct ferry_users *users, const char *name,
                                    const char *password, enum ferry_role *ret_role);

#define FERRY_AUTH_USER_MAX 65
#define FERRY_AUTH_PASS_MAX 1024

/* One check. The caller fills the inputs, owns the struct and keeps it alive until
 * ferry_authpool_check() returned anything but PENDING, or until done(req) ran. */
struct ferry_auth_req {
    /* in */
    char user[FERRY_AUTH_USER_MAX];
    char pass[FERRY_AUTH_PASS_MAX];   /* wiped by the pool once checked */
    struct sockaddr_storage peer;
    socklen_t peer_len;               /* 0 = unknown */
    const char *what;                 /* "WS-Man", "data port": for the log line */
    void (*done)(struct ferry_auth_req *req); /* called once, on a verifier thread */
    void *ud;
    /* out */
    enum ferry_auth_result result;
    enum ferry_role role;
    unsigned retry_after;             /* seconds, LIMITED and BUSY */
};

/* A pool of `threads` verifiers with a queue of at most `queue_max` waiting checks,
 * checking through verify(users, ...) and counting failures in limit (borrowed, shared).
 * -errno. */
FERRY_API int ferry_authpool_new(unsigned threads, unsigned queue_max,
                                 ferry_auth_verify_fn verify, struct ferry_users *users,
                                 struct ferry_authlimit *limit,
                                 struct ferry_authpool **ret);
/* Stop the threads; queued checks complete with BUSY (done still runs). NULL-safe. */
FERRY_API struct ferry_authpool *ferry_authpool_free(struct ferry_authpool *p);
/* Start a check: a credential verified in the last 30 s answers OK at once; the limiter
 * may answer LIMITED; a full queue BUSY; otherwise PENDING and done(req) follows on a
 * verifier thread (req->result set). Thread-safe, never blocks on PBKDF2. */
FERRY_API enum ferry_auth_result ferry_authpool_check(struct ferry_authpool *p,
                                                      struct ferry_auth_req *req);
/* The two halves of ferry_authpool_check(), for a caller that must prepare (e.g. suspend
 * its request) before the check can complete on another thread: precheck answers OK,
 * LIMITED, or PENDING meaning "needs PBKDF2"; submit then queues it (PENDING, done
 * follows) or answers BUSY. */
FERRY_API enum ferry_auth_result ferry_authpool_precheck(struct ferry_authpool *p,
                                                         struct ferry_auth_req *req);
FERRY_API enum ferry_auth_result ferry_authpool_submit(struct ferry_authpool *p,
                                                       struct ferry_auth_req *req);
/* The same check run on the calling thread (never PENDING; done is not called). For
 * callers without a loop to resume (tests, tools). */
FERRY_API enum ferry_auth_result ferry_authpool_check_sync(struct ferry_authpool *p,
                                                           struct ferry_auth_req *req);
/* The pool's limiter for failures that need no password check (a malformed credential, an
 * unmapped client certificate): count one, or ask whether sa must wait (then true and
 * *ret_wait seconds). */
FERRY_API void ferry_authpool_count_failure(struct ferry_authpool *p, const struct sockaddr *sa,
                                            const char *user);
FERRY_API bool ferry_authpool_wait(struct ferry_authpool *p, const struct sockaddr *sa,
                                   const char *user, unsigned *ret_wait);
/* Tests: pretend `seconds` passed for the credential cache. */
FERRY_API void ferry_authpool_age(struct ferry_authpool *p, unsigned seconds);

#endif
