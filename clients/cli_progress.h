/*  cli_progress: a progress line on a terminal for long-running commands.

    `pacer append` of a large file would otherwise sit silent for minutes.
    The line is drawn on stderr only when stderr is a terminal (so logs and
    pipes never see it), only once the work has run for half a second (so a
    short file never flickers one), and at most ten times a second. With a
    known total it is a bar with a percentage; otherwise a running count. */

#ifndef PACER_CLI_PROGRESS_H
#define PACER_CLI_PROGRESS_H

#include <stdint.h>

typedef struct _cli_progress_t cli_progress_t;

/* A progress line for `total_bytes` of input (0: unknown), or NULL when
   stderr is not a terminal or memory is short: callers skip updates then. */
cli_progress_t *cli_progress_new(uint64_t total_bytes);

/* Note how far the work has got; redraws when it is time to. */
void cli_progress_update(cli_progress_t *self, uint64_t bytes, uint64_t events);

/* Erase the line and free. Sets *self_p to NULL; harmless on NULL. */
void cli_progress_destroy(cli_progress_t **self_p);

#endif
