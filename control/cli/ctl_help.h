/*
 * control/cli/ctl_help.h - ferryctl's usage texts (ctl_help.c), one per command path.
 */
#ifndef FERRY_CTL_HELP_H
#define FERRY_CTL_HELP_H

#include <stdbool.h>
#include <stdio.h>

/* Print the usage text of a command path ("", "job", "job wait", ...) on f; false (and
 * nothing printed) when the path is unknown. */
bool ctl_help(FILE *f, const char *cmd);

#endif
