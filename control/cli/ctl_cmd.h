/*
 * control/cli/ctl_cmd.h - what ferryctl's commands share: the global options, session
 * creation, failure reporting, instance printing, argument parsing. Each command family
 * lives in its own file (ctl_cmd_job.c, ctl_cmd_server.c, ctl_distribute.c with its steps
 * in ctl_dist_*.c, ctl_user.c).
 */
#ifndef FERRY_CTL_CMD_H
#define FERRY_CTL_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_defaults.h"
#include "ctl_envelope.h"
#include "ctl_help.h"
#include "ctl_http.h"
#include "ctl_json.h"
#include "ctl_session.h"

/* ferry's own BitsClientJob properties (beside BITS's, docs/DESIGN.md §4). */
#define CTL_PROP_THROUGHPUT "Throughput"
#define CTL_PROP_THROUGHPUT_AVG "ThroughputAverage"
#define CTL_PROP_BYTES_REFETCHED "BytesRefetched"
#define CTL_PROP_RETRIES "Retries"
#define CTL_PROP_CONNECTIONS "ConnectionsPerFile"
#define CTL_PROP_BANDWIDTH_LIMIT "BandwidthLimit"


struct ctl_ctx {
    const char *endpoint;
    struct ctl_http_options http;
    bool json;
    bool tty;            /* stdout is a terminal */
    struct ctl_json js;  /* writer on stdout */
};

/* A session on endpoint (NULL: ctx->endpoint). On failure prints one line and returns the
 * exit code (negated so callers can test < 0). */
int ctl_ctx_session(struct ctl_ctx *ctx, const char *endpoint, struct ctl_session **ret);
/* Print the failure of the last call on s as one line on stderr ("ferryctl: ..."), and as
 * {"error": {...}} on stdout with --json. Returns the exit code. */
int ctl_report(struct ctl_ctx *ctx, struct ctl_session *s, int err);
/* "ferryctl: <message>" on stderr (and {"error":{"message":...}} with --json); returns
 * `code`. */
int ctl_fail(struct ctl_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Usage error: message + a pointer to `ferryctl CMD --help`; returns CTL_EXIT_USAGE. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option callback of ctl_args(): 0, or an exit code after printing the usage error. */
typedef int (*ctl_opt_fn)(int c, const char *arg, void *data);
/* ctl_args() result when --help was printed (the command exits 0). */
#define CTL_ARGS_HELP (-1)
/* Parse a command's options (getopt_long, "--help" built in) and exactly npos positional
 * arguments into pos[]. cmd is the command path for messages ("job create"). Returns 0,
 * CTL_ARGS_HELP, or CTL_EXIT_USAGE after printing the problem. */
int ctl_args(const char *cmd, int argc, char **argv, const struct option *opts, int npos,
             char **pos, ctl_opt_fn on_opt, void *data);

/* Human output of an instance: "Name  value" lines, nested objects indented. */
void ctl_print_instance(FILE *f, const struct ctl_instance *inst, unsigned indent);

/* The end of a command that reads one instance (`job show`, `identify`): r < 0 reports the
 * failure; else resp's first instance is printed (JSON with --json, ctl_print_instance
 * otherwise). Frees resp and s. Returns the exit code. */
struct ctl_response;
int ctl_show_one(struct ctl_ctx *ctx, struct ctl_session *s, int r, struct ctl_response *resp);

/* One line of a list command's human output for inst, on f. */
typedef void (*ctl_list_row_fn)(FILE *f, const struct ctl_instance *inst);
/* A list command (cmd "job list"): Enumerate uri on the default endpoint and print every
 * instance: a JSON array with --json; else header (NULL = none) and row() per instance, or
 * ctl_print_instance blocks when row is NULL. Returns the exit code. */
int ctl_list(struct ctl_ctx *ctx, const char *cmd, int argc, char **argv, const char *uri,
             const char *header, ctl_list_row_fn row);

/* Numbers: decimal (or 0x hex), <= max. -EINVAL otherwise. */
int ctl_parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* Seconds with an optional fraction ("0.5"), 0 < v <= 86400. */
int ctl_parse_seconds(const char *s, double *ret);
/* Priority: 0..3 or foreground|high|normal|low. */
int ctl_parse_priority(const char *s, unsigned *ret);
bool ctl_parse_bool(const char *s);

/* A live display is on stdout: SIGINT/SIGTERM end its line before exiting (128 + sig). */
void ctl_live_begin(void);

/* Monotonic seconds. */
double ctl_now(void);
/* Sleep for s seconds (interrupted sleeps resume). */
void ctl_sleep(double s);

/* The command families. argv[0] is the command name ("job", ...); each parses its own
 * options, prints its result (text, or JSON with ctx->json) and returns the exit code
 * (CTL_EXIT_*), having reported any failure on stderr. */
int ctl_cmd_identify(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_job(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_group(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_url(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_user(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cmd_distribute(struct ctl_ctx *ctx, int argc, char **argv);

/* Shared by `job wait` and `distribute`: a job's progress figures from a Get. */
struct ctl_job_status {
    unsigned state;
    uint64_t bytes_total, bytes_transferred;
    uint64_t creation_time, completion_time; /* FILETIME, 0 when absent */
    uint64_t from_origin, from_peers;        /* BytesFromOrigin/Peers, 0 when absent */
};
/* Read State, BytesTotal/Transferred and the times of a BitsClientJob instance (absent
 * sizes read as CTL_SIZE_UNKNOWN, absent times as 0). -EBADMSG without a State. */
int ctl_job_status_read(const struct ctl_instance *inst, struct ctl_job_status *ret);
/* SetJobState on job id; 0 or the session error. */
int ctl_job_set_state(struct ctl_session *s, const char *job_id, unsigned action);
/* GetError as one line into buf; 0 or the session error. */
int ctl_job_error_line(struct ctl_session *s, const char *job_id, char *buf, size_t len);

#endif
