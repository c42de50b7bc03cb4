/* slowlog.h: a slow request's PHP backtrace, written by the worker itself into its scoreboard slot when the
 * supervisor signals it (no ptrace), and sleep()/usleep() that sleep on through that signal */
#pragma once

#include "scoreboard.h"

/* In a worker, once PHP runs: answers SCOREBOARD_TRACE_SIGNAL with at most depth frames in slot->trace */
int slowlog_init(ScoreboardSlot *slot, unsigned depth);
