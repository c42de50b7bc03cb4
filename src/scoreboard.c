/* scoreboard.c: per-pool shared memory table of workers, written by workers without locks, read by the supervisor */
#include <stdio.h>
#include <sys/mman.h>

#include "log.h"
#include "scoreboard.h"

static const char *const state_names[_WORKER_STATE_MAX] = {
        [WORKER_FREE] = "Free",
        [WORKER_STARTING] = "Starting",
        [WORKER_IDLE] = "Idle",
        [WORKER_READING] = "Reading headers",
        [WORKER_RUNNING] = "Running",
        [WORKER_FINISHING] = "Finishing",
        [WORKER_EXITING] = "Ending",
};

const char *worker_state_to_string(WorkerState s)
{
        if (s < 0 || s >= _WORKER_STATE_MAX)
                return NULL;
        return state_names[s];
}

size_t scoreboard_size(unsigned n_slots)
{
        return sizeof(Scoreboard) + (size_t)n_slots * sizeof(ScoreboardSlot);
}

int scoreboard_new(const char *pool, unsigned n_slots, Scoreboard **ret)
{
        Scoreboard *s;

        s = mmap(NULL, scoreboard_size(n_slots), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s == MAP_FAILED)
                return log_error_errno(errno, "Failed to map the scoreboard of pool %s: %m", pool);

        /* mmap() gives zeroed memory: every slot is WORKER_FREE */
        scoreboard_set_str(s->pool, sizeof(s->pool), pool);
        s->n_slots = n_slots;
        s->start_usec = now_usec(CLOCK_REALTIME);
        *ret = s;
        return 0;
}

Scoreboard *scoreboard_free(Scoreboard *s)
{
        if (s)
                munmap(s, scoreboard_size(s->n_slots));
        return NULL;
}

int scoreboard_find_free(const Scoreboard *s)
{
        for (unsigned i = 0; i < s->n_slots; i++)
                if (s->slots[i].state == WORKER_FREE)
                        return (int)i;
        return -ENOSPC;
}

void scoreboard_count(const Scoreboard *s, ScoreboardCounts *ret)
{
        ScoreboardCounts c = {};

        for (unsigned i = 0; i < s->n_slots; i++) {
                const ScoreboardSlot *slot = &s->slots[i];
                int32_t state = slot->state;

                if (state == WORKER_FREE)
                        continue;
                c.total++;
                c.requests += slot->requests;
                if (state == WORKER_IDLE || state == WORKER_STARTING)
                        c.idle++;
                else if (state != WORKER_EXITING)
                        c.active++;
        }
        *ret = c;
}

void scoreboard_set_str(char *dst, size_t size, const char *src)
{
        size_t n = src ? strnlen(src, size - 1) : 0;

        if (n > 0)
                memcpy(dst, src, n);
        dst[n] = 0;
}
