/*
 * control/cli/ctl_defaults.h - ferryctl's defaults, shared by the commands (ctl_cmd.h) and
 * the usage texts (ctl_help.c) that print them.
 */
#ifndef FERRY_CTL_DEFAULTS_H
#define FERRY_CTL_DEFAULTS_H

#define CTL_DEFAULT_ENDPOINT "http://127.0.0.1:5985/wsman"
#define CTL_DEFAULT_TIMEOUT 60
/* Largest password file read (one line). */
#define CTL_MAX_PASSWORD 1024

/* The access rule `url publish` and `distribute` use unless told otherwise: everyone. */
#define CTL_DEFAULT_RULE "D:(A;;GA;;;WD)"

#endif
