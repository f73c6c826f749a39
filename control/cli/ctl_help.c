/*
 * control/cli/ctl_help.c - ferryctl's usage texts, one per command. docs/man/ferryctl.1
 * documents the same options; tests/integration/ferryctl_help.sh keeps them in step.
 */
#include <string.h>

#include "ctl_defaults.h"
#include "ctl_help.h"

static const struct {
    const char *cmd;
    const char *text;
} help_texts[] = {
    {"",
     "usage: ferryctl [GLOBAL OPTIONS] COMMAND [ARGS]\n"
     "\n"
     "A WS-Management controller for ferryd (and other BITS-compatible endpoints).\n"
     "\n"
     "Global options:\n"
     "  --endpoint URL        WS-Man endpoint (default " CTL_DEFAULT_ENDPOINT ")\n"
     "  --user NAME           user for HTTP Basic (default: $FERRY_USER)\n"
     "  --password-file FILE  read the password from the first line of FILE\n"
     "                        (otherwise $FERRY_PASSWORD; never on the command line)\n"
     "  --cacert FILE         CA certificates (PEM) to verify an https endpoint\n"
     "  --client-cert FILE[:KEY]  client certificate (PEM) and its key for https\n"
     "  --timeout SECONDS     per-request timeout (default 60)\n"
     "  --json                machine-readable output on stdout\n"
     "  --help                this text; `ferryctl COMMAND --help` for a command\n"
     "  --version             print the version\n"
     "\n"
     "Commands:\n"
     "  identify                              the endpoint's protocol and product\n"
     "  job create NAME URL LOCALFILE         create a download job\n"
     "  job add-file ID URL LOCALFILE         add a file to a job\n"
     "  job list                              jobs that are not final\n"
     "  job show ID                           every property of a job\n"
     "  job set ID [options]                  change writable properties (Get + Put)\n"
     "  job resume|suspend|complete|cancel ID change a job's state\n"
     "  job error ID                          the job's error (GetError)\n"
     "  job wait ID                           follow a job until it ends\n"
     "  group create|delete PREFIX            URL groups of the server role\n"
     "  group list                            URL groups and their URLs\n"
     "  url publish PREFIX SUFFIX SOURCE      publish a file under a group\n"
     "  url delete PREFIX SUFFIX              stop publishing it\n"
     "  url check PREFIX SUFFIX               whether a URL is published\n"
     "  user add --state-dir DIR NAME --role ROLE  add a user (password on stdin)\n"
     "  distribute --server URL ...           publish once, fetch on many hosts\n"
     "\n"
     "Exit status: 0 success; 1 a fault or a failed operation; 2 usage error;\n"
     "3 connection or authentication failure.\n"},
    {"identify",
     "usage: ferryctl identify\n"
     "\n"
     "Sends a WS-Man Identify and prints ProtocolVersion, ProductVendor and\n"
     "ProductVersion.\n"},
    {"job",
     "usage: ferryctl job SUBCOMMAND ...\n"
     "\n"
     "  create NAME URL LOCALFILE [--suspended] [--description D] [--priority P]\n"
     "  add-file ID URL LOCALFILE\n"
     "  list\n"
     "  show ID\n"
     "  set ID [--priority P] [--display-name N] [--description D] [--min-retry-delay S]\n"
     "         [--no-progress-timeout S] [--connections N] [--bandwidth-limit B]\n"
     "  resume ID | suspend ID | complete ID | cancel ID\n"
     "  error ID\n"
     "  wait ID [--complete] [--interval S]\n"
     "\n"
     "`ferryctl job SUBCOMMAND --help` describes one.\n"},
    {"job create",
     "usage: ferryctl job create NAME URL LOCALFILE [options]\n"
     "\n"
     "Creates a download job (CreateJob) fetching URL into LOCALFILE (absolute, inside a\n"
     "download root of the host) and prints its JobId. The job starts at once unless\n"
     "--suspended. With --upload or --upload-reply the job goes the other way: LOCALFILE\n"
     "is uploaded to URL with the BITS upload protocol.\n"
     "\n"
     "  --suspended        leave the job SUSPENDED (start it with `job resume`)\n"
     "  --description D    the job's Description\n"
     "  --priority P       foreground|high|normal|low or 0..3 (default normal)\n"
     "  --notify-cmd 'PROG ARG...'  run PROG (absolute path) with these words as its argv\n"
     "                     on the job's notifications; split by ferryctl and ferryd:\n"
     "                     spaces separate, '...' and \"...\" quote, \\ escapes; no shell\n"
     "  --notify-url URL   POST the job's JSON to URL on its notifications\n"
     "  --notify-flags N   NotifyFlags: 1 transferred, 2 error, 4 disable,\n"
     "                     8 modification, 16 file transferred (default 3)\n"

     "  --upload           an upload job (Type 1): LOCALFILE is sent to URL\n"
     "  --upload-reply F   an upload-reply job (Type 2): the server's reply goes to F\n"
     "                     (ReplyFileName, inside a download root) at `job complete`\n"},
    {"job add-file",
     "usage: ferryctl job add-file ID URL LOCALFILE\n"
     "\n"
     "Adds a file to a job (AddFile).\n"},
    {"job list",
     "usage: ferryctl job list\n"
     "\n"
     "Lists the jobs that are not ACKNOWLEDGED or CANCELLED (Enumerate + Pull).\n"},
    {"job show",
     "usage: ferryctl job show ID\n"
     "\n"
     "Prints every property of a job and its files (Get).\n"},
    {"job set",
     "usage: ferryctl job set ID [options]\n"
     "\n"
     "Changes writable properties the way Set-WSManInstance does: Get, modify, Put.\n"
     "\n"
     "  --priority P              foreground|high|normal|low or 0..3\n"
     "  --display-name N          DisplayName\n"
     "  --description D           Description\n"
     "  --min-retry-delay S       MinimumRetryDelay, seconds\n"
     "  --no-progress-timeout S   NoProgressTimeout, seconds (0: every error is fatal)\n"
     "  --connections N           ranges fetched in parallel per file\n"
     "  --bandwidth-limit B       bytes/s for this job, 0 = none\n"
     "  --notify-cmd 'PROG ARG...'  SetNotifyCmdLine ('' clears; see job create)\n"
     "  --notify-url URL          NotifyUrl ('' clears)\n"
     "  --notify-flags N          NotifyFlags (0..31)\n"},
    {"job resume",
     "usage: ferryctl job resume ID\n\nResumes a job (SetJobState 2).\n"},
    {"job suspend",
     "usage: ferryctl job suspend ID\n\nSuspends a job (SetJobState 3).\n"},
    {"job complete",
     "usage: ferryctl job complete ID\n"
     "\n"
     "Completes a TRANSFERRED job (SetJobState 1): its files appear at their LocalFile\n"
     "paths and the job becomes ACKNOWLEDGED.\n"},
    {"job cancel",
     "usage: ferryctl job cancel ID\n"
     "\n"
     "Cancels a job (SetJobState 0); partial and temporary files are removed.\n"},
    {"job error",
     "usage: ferryctl job error ID\n"
     "\n"
     "Prints the job's error: context, code and text (GetError).\n"},
    {"job wait",
     "usage: ferryctl job wait ID [options]\n"
     "\n"
     "Follows a job until it is TRANSFERRED (or ACKNOWLEDGED), ERROR or CANCELLED: a live\n"
     "progress bar on a terminal, plain lines otherwise; then the job's statistics.\n"
     "Exit 0 when it ends TRANSFERRED/ACKNOWLEDGED (ACKNOWLEDGED with --complete), 1 on\n"
     "ERROR (the error is printed) or CANCELLED. Connection failures (an agent restarting)\n"
     "are retried for up to 60 s.\n"
     "\n"
     "  --complete     complete the job when it is TRANSFERRED\n"
     "  --interval S   seconds between polls (default 0.5)\n"},
    {"group",
     "usage: ferryctl group create PREFIX | group delete PREFIX | group list\n"
     "\n"
     "URL groups of the server role. PREFIX is scheme://host:port/name (host + for all\n"
     "addresses), e.g. http://+:8080/images.\n"},
    {"group create", "usage: ferryctl group create PREFIX\n\nCreates a URL group.\n"},
    {"group delete",
     "usage: ferryctl group delete PREFIX\n\nDeletes a URL group and its URLs.\n"},
    {"group list",
     "usage: ferryctl group list\n\nLists URL groups with their URLs and counters.\n"},
    {"url",
     "usage: ferryctl url publish PREFIX SUFFIX SOURCE [--rule R]\n"
     "       ferryctl url delete PREFIX SUFFIX\n"
     "       ferryctl url check PREFIX SUFFIX\n"},
    {"url publish",
     "usage: ferryctl url publish PREFIX SUFFIX SOURCE [--rule R]\n"
     "\n"
     "Publishes SOURCE (a file inside a publish root of the server) as PREFIX/SUFFIX\n"
     "(CreateUrl; the group is created when missing).\n"
     "\n"
     "  --rule R   access rule: an SDDL form such as D:(A;;GA;;;WD) (everyone, the\n"
     "             default), (A;;GA;;;AU) (authenticated users), or ferry's rule syntax\n"},
    {"url delete", "usage: ferryctl url delete PREFIX SUFFIX\n\nStops publishing a URL.\n"},
    {"url check",
     "usage: ferryctl url check PREFIX SUFFIX\n"
     "\n"
     "Prints whether PREFIX/SUFFIX is published (CheckUrl).\n"},
    {"user",
     "usage: ferryctl user add --state-dir DIR NAME --role admin|user\n"
     "\n"
     "Adds or replaces a user in DIR/users; the password is read from stdin (one line).\n"
     "Works on the local file, no endpoint involved.\n"},
    {"user add",
     "usage: ferryctl user add --state-dir DIR NAME --role admin|user\n"
     "\n"
     "  --state-dir DIR    ferryd's state directory (the file is DIR/users)\n"
     "  --role ROLE        admin (manages jobs and URL groups) or user\n"},
    {"distribute",
     "usage: ferryctl distribute --server URL --source PATH --group PREFIX\n"
     "                          --to URL[,URL...] --dest PATH [options]\n"
     "\n"
     "Publishes PATH on the server under PREFIX, creates a job on every client fetching\n"
     "PREFIX/basename(PATH) into --dest, shows the progress of every host and in total,\n"
     "completes each job when it is TRANSFERRED, reports per-host time and throughput and\n"
     "deletes the URL. A failing host does not stop the others; exit 1 if any failed.\n"
     "The same --user and password apply to every endpoint.\n"
     "\n"
     "  --server URL      WS-Man endpoint of the publishing host\n"
     "  --source PATH     file to publish (a path on the server)\n"
     "  --group PREFIX    URL group, e.g. http://10.0.0.1:8080/images (host + or * is\n"
     "                    replaced by the server endpoint's host in the clients' URL)\n"
     "  --to URL,...      WS-Man endpoints of the clients (repeatable)\n"
     "  --dest PATH       LocalFile on every client (a trailing / appends the basename)\n"
     "  --via URL         clients fetch through this HTTP cache, scheme://host:port (the\n"
     "                    published path on it), e.g. nginx proxy_cache + slice 4m\n"
     "  --keep            keep the URL published afterwards (and the relay URLs)\n"
     "  --priority P      job priority (foreground|high|normal|low or 0..3)\n"
     "  --interval S      seconds between polls (default 0.5)\n"
     "  --relay           hosts relay verified chunks to each other while fetching:\n"
     "                    a pipelined chain (or tree) in --to order, the origin as\n"
     "                    fallback; the origin sends about one copy\n"
     "  --fanout K        children per relay (default: a chain up to 128 hosts, 2 beyond)\n"
     "  --relay-limit B   upload limit of each relay, bytes/s (default 0: none)\n"
     "  --relay-group P   URL group of the relays (default http://+:8089/ferry-relay)\n"},
};

/*
 * The usage text of cmd on f; false when no command has that path. See ctl_help.h.
 */
bool
ctl_help(FILE *f, const char *cmd)
{
    for (size_t i = 0; i < sizeof(help_texts) / sizeof(help_texts[0]); i++)
        if (strcmp(help_texts[i].cmd, cmd) == 0) {
            fputs(help_texts[i].text, f);
            return true;
        }
    return false;
}
