/*
 * control/cli/ctl_dist.h - the pieces of `ferryctl distribute` and what they share:
 * the options, the run (what was published, what clients fetch), the host list and the
 * state of each host.
 *
 * The driver (ctl_distribute.c) parses the options and runs the steps in order, each in
 * its own file: publish (ctl_dist_publish.c) -> start a job on every host
 * (ctl_dist_start.c) -> follow them all (ctl_dist_follow.c) -> report
 * (ctl_dist_report.c) -> unpublish (ctl_dist_unpublish.c). The host list and per-host
 * helpers (ctl_dist_host.c) sit below all of them; no step calls another.
 *
 * Hosts are independent: one failing is reported and the others go on. A host fetches
 * its own fetch_url, so a mode where some hosts fetch from others (relays) only changes
 * what start is given per host.
 */
#ifndef FERRY_CTL_DIST_H
#define FERRY_CTL_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl_cmd.h"
#include "ctl_progress.h"

/* Client endpoints one run accepts. */
#define DIST_MAX_HOSTS 256
/* How long a host may stay unreachable (an agent restarting) before it counts as failed. */
#define DIST_RECONNECT_S 60.0
/* How long distribute waits for the server's chunk manifest of the published file (s). */
#define DIST_MANIFEST_WAIT 300.0
/* Without a terminal, one status block at most this often (s). */
#define DIST_PLAIN_PERIOD 5.0

enum dist_phase {
    DIST_RUNNING = 0,
    DIST_DONE,
    DIST_FAILED,
};

/* One client host: its endpoint, what it fetches, and where its job is. */
struct dist_host {
    const char *endpoint;   /* WS-Man endpoint (borrowed from the options) */
    const char *fetch_url;  /* the URL its job fetches (borrowed from the run) */
    struct ctl_session *s;
    char *job_id;
    enum dist_phase phase;
    struct ctl_job_status st;
    struct ctl_rate rate;
    double t_done;          /* s since start when completed */
    double down_since;      /* s since start of the current outage, < 0 when reachable */
    char error[600];
    /* --relay (ctl_dist_relay.c) */
    long parent;            /* index of the host it fetches from as a peer, -1: none */
    char *relay_url;        /* the URL its children fetch (its relay), NULL without --relay */
    bool relay_published;   /* CreateUrl on it succeeded: delete at the end */
};

/* The hosts of one run, in --to order. */
struct dist_hosts {
    struct dist_host *v;
    size_t n;
};

/* The command line. The --to lists are split into to[] (pointers into to_storage). */
/* distribute --relay without --fanout: a chain up to this many hosts, fan-out 2 beyond */
#define DIST_CHAIN_MAX 128

struct dist_opts {
    const char *server, *source, *group, *dest;
    const char *via;        /* --via: base URL of a cache in front of the server, or NULL */
    bool keep;
    bool relay;             /* hosts relay to each other (ctl_dist_relay.c) */
    unsigned fanout;        /* children per relay, 1 = a chain, 0 = auto (DIST_CHAIN_MAX) */
    uint64_t relay_limit;   /* bytes/s for each relay's uploads, 0 = none */
    const char *relay_group; /* URL group prefix of the relays (host + or *) */
    int priority;           /* -1: the daemon's default */
    double interval;        /* poll period (s) */
    char *to[DIST_MAX_HOSTS];
    size_t nto;
    char *to_storage[DIST_MAX_HOSTS];
    size_t nstorage;
};

/* One run: the options, the publication and the hosts. Strings are owned by the run. */
struct dist_run {
    struct ctl_ctx *ctx;
    struct dist_opts o;
    char *src_copy;         /* basename() works on this copy of --source */
    const char *suffix;     /* the published name (into src_copy) */
    char *remote;           /* the URL clients fetch */
    char *published;        /* group/suffix, for messages */
    char *local;            /* the file each job writes */
    char *display;          /* each job's DisplayName */
    struct ctl_session *srv;
    bool unpublish;         /* published by this run and no --keep: delete at the end */
    struct dist_hosts hosts;
    double t0;              /* ctl_now() when the jobs were started */
};

/* ---- hosts (ctl_dist_host.c) ---- */
/* One host per endpoint, each RUNNING and fetching fetch_url; both are borrowed. -ENOMEM. */
int dist_hosts_init(struct dist_hosts *hosts, char *const *endpoints, size_t n,
                    const char *fetch_url);
/* Close every session, free the job ids and the array; zeroes *hosts. */
void dist_hosts_done(struct dist_hosts *hosts);
/* Mark h FAILED with "what: msg" as its error. */
void dist_host_fail(struct dist_host *h, const char *what, const char *msg);
/* Seconds the host's job took: the job's own clock when the daemon reports creation and
 * completion times, else the time the run saw it done. */
double dist_host_seconds(const struct dist_host *h);
/* host[:port] of an http(s) URL into buf ("" when it has none); truncated to len. */
void dist_url_host(const char *url, char *buf, size_t len);

/* ---- publish (ctl_dist_publish.c) ---- */
/* The URL clients fetch: the group prefix with a wildcard host (+ or *) replaced by the
 * server endpoint's host, then "/" + suffix. *ret malloc()ed. -EINVAL for a group that is
 * not scheme://host..., -ENOMEM. */
int dist_publish_url(const char *group, const char *server, const char *suffix, char **ret);
/* The URL clients fetch through a cache (--via): the scheme, host and port of via, then
 * the path of url, so "http://cache:8080" and "http://srv:8080/g/f" give
 * "http://cache:8080/g/f". *ret malloc()ed. -EINVAL when either is not scheme://host...,
 * or via has a path other than "/" (the server's Link header names the Metalink by an
 * absolute path), a query or a fragment; -ENOMEM. */
int dist_via_url(const char *via, const char *url, char **ret);
/* Open the server session (run->srv), create the group if missing, publish --source as
 * run->suffix (replacing an earlier publication of the same name) and wait for its chunk
 * manifest. Sets run->unpublish once published. Returns 0 or an exit code, reported. */
int dist_publish(struct dist_run *run);

/* ---- start (ctl_dist_start.c) ---- */
/* Create (and, with --priority, set and resume; with --relay, leave suspended) a job on
 * every host. A host that fails is marked FAILED and named on stderr; the others go on. */
void dist_start(struct dist_run *run);

/* ---- relay (ctl_dist_relay.c) ---- */
/* Default URL group of the relays: every host publishes its copy there while fetching. */
#define DIST_RELAY_GROUP "http://+:8089/ferry-relay"
/* Arrange the hosts in a tree of fan-out o.fanout in --to order (1: a chain): host i
 * fetches from host (i - 1) / fanout as a peer and from the origin; name every host's
 * relay URL. -ENOMEM, -EINVAL (a relay group that is not scheme://host:port/name). */
int dist_relay_plan(struct dist_run *run);
/* After start (jobs created suspended): give every child its parent as a Peer source,
 * publish every host's job file as its relay URL (with --relay-limit as the group's
 * BandwidthLimit), then resume the jobs, parents first. A host that fails is marked
 * FAILED; its children keep the origin. */
void dist_relay_setup(struct dist_run *run);
/* Delete the relay URLs published by this run (not with --keep). 0, or -EIO after naming
 * a failure on stderr. */
int dist_relay_unpublish(struct dist_run *run);

/* ---- follow (ctl_dist_follow.c) ---- */
/* Poll every RUNNING host each interval, complete jobs that are TRANSFERRED, show one
 * display (live on a terminal, a block every DIST_PLAIN_PERIOD otherwise, none with
 * --json) until no host is RUNNING. */
void dist_follow(struct dist_run *run);

/* ---- report (ctl_dist_report.c) ---- */
/* Per-host figures (a table, or one JSON object with --json); ok tells whether every host
 * has the file. */
void dist_report(struct dist_run *run, double elapsed, bool ok);

/* ---- unpublish (ctl_dist_unpublish.c) ---- */
/* Delete the published URL when run->unpublish. 0, or -EIO after naming the failure on
 * stderr. */
int dist_unpublish(struct dist_run *run);

#endif
