/* pm.c: PHP-FPM's process manager as a pure function: a pool's settings, its workers' states and the time in,
 * how many workers to start and which one to stop out; static, dynamic and ondemand */
#include "pm.h"

void pm_state_init(PmState *s)
{
        *s = (PmState){.spawn_rate = 1};
}

unsigned pm_initial_workers(const PmConfig *c)
{
        switch (c->mode) {
        case PM_STATIC:
                return c->max_children;
        case PM_DYNAMIC:
                return MIN(c->start_servers, c->max_children);
        default:
                return 0;
        }
}

/* The worker idle the longest and not already asked to stop; -1 if none */
static int oldest_idle(const PmInput *in, usec_t *ret_since)
{
        usec_t oldest = USEC_INFINITY;
        int found = -1;

        for (unsigned i = 0; i < in->config->max_children; i++) {
                const PmSlot *s = &in->slots[i];

                if (s->state == WORKER_IDLE && !s->stop_asked && s->idle_since < oldest) {
                        oldest = s->idle_since;
                        found = (int)i;
                }
        }
        *ret_since = oldest;
        return found;
}

/* max_children reached: said once per episode, which ends when the pool has fewer workers again */
static void reached_max_children(PmState *s, PmDecision *d)
{
        d->max_children = !s->max_children_hit;
        s->max_children_hit = true;
}

/* dynamic: between min_spare_servers and max_spare_servers idle workers, spawning at a rate that doubles each
 * tick up to max_spawn_rate, reaping one idle worker per tick */
static unsigned decide_dynamic(PmState *s, const PmInput *in, PmDecision *d)
{
        const PmConfig *c = in->config;
        unsigned want = 0;

        if (d->idle > c->max_spare_servers) {
                usec_t since;

                if (in->tick)
                        d->stop = oldest_idle(in, &since);
                s->spawn_rate = 1;
                return 0;
        }
        if (d->total < pm_initial_workers(c))
                want = pm_initial_workers(c) - d->total;
        if (d->idle >= c->min_spare_servers) {
                s->spawn_rate = 1;
                return want;
        }
        if (d->total >= c->max_children) {
                reached_max_children(s, d);
                return 0;
        }
        want = MAX(want, MIN(s->spawn_rate, c->min_spare_servers - d->idle));
        d->busy = s->spawn_rate >= 8;
        s->spawn_rate = MIN(s->spawn_rate * 2, MAX(c->max_spawn_rate, 1u));
        return want;
}

/* ondemand: a worker when a connection waits and none is idle; one idle past process_idle_timeout stops */
static unsigned decide_ondemand(PmState *s, const PmInput *in, PmDecision *d)
{
        const PmConfig *c = in->config;
        usec_t since;
        int slot = oldest_idle(in, &since);

        if (in->tick && slot >= 0 && c->process_idle_timeout > 0 && in->now > since &&
                in->now - since > c->process_idle_timeout)
                d->stop = slot;
        if (d->idle > 0 || !in->waiting)
                return 0;
        if (d->total >= c->max_children) {
                reached_max_children(s, d);
                return 0;
        }
        return 1;
}

void pm_decide(PmState *s, const PmInput *in, PmDecision *ret)
{
        const PmConfig *c = in->config;
        PmDecision d = {.stop = -1};
        unsigned want = 0;

        for (unsigned i = 0; i < c->max_children; i++) {
                WorkerState state = in->slots[i].state;

                if (state == WORKER_FREE)
                        continue;
                d.total++;
                /* A worker on its way counts as idle: it will take the next connection */
                if (state == WORKER_IDLE || state == WORKER_STARTING)
                        d.idle++;
        }
        if (d.total < c->max_children)
                s->max_children_hit = false;

        switch (c->mode) {
        case PM_STATIC:
                want = c->max_children - MIN(d.total, c->max_children);
                break;
        case PM_DYNAMIC:
                want = decide_dynamic(s, in, &d);
                break;
        case PM_ONDEMAND:
                want = decide_ondemand(s, in, &d);
                break;
        default:
                break;
        }

        want = MIN(want, c->max_children - MIN(d.total, c->max_children));
        if (in->throttled)
                want = MIN(want, 1u);
        /* Near the memory limit a new worker would meet the OOM killer, or push the pool into reclaim: the
         * workers there serve the queue; one is started only when none is left */
        if (in->memory_full && want > 0 && d.total > 0) {
                d.memory_held = true;
                want = 0;
        }
        d.spawn = want;
        *ret = d;
}
