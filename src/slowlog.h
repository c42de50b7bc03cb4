/* slowlog.h: the signals the supervisor sends into a running script. A slow request's PHP backtrace, written by
 * the worker itself into its scoreboard slot (no ptrace); a look at whether the web server is still there (a
 * long request whose client went is ended as PHP ends it under Apache). sleep()/usleep() sleep on through both. */
#pragma once

#include <stdbool.h>

#include "scoreboard.h"

typedef struct SlowlogHooks {
        /* SCOREBOARD_CLIENT_SIGNAL: whether the client of the running request is gone (a sleep() then ends) */
        bool (*client_gone)(void);
        /* ...and, from the VM's next interrupt check, what to do then (end the script unless
         * ignore_user_abort) */
        void (*client_check)(void);
} SlowlogHooks;

/* In a worker, once PHP runs: answers SCOREBOARD_TRACE_SIGNAL with at most depth frames in slot->trace, and
 * SCOREBOARD_CLIENT_SIGNAL with the hooks */
int slowlog_init(ScoreboardSlot *slot, unsigned depth, const SlowlogHooks *hooks);
