/* test-pm: PHP-FPM's process manager decisions as tables: workers' states and time in, spawns and stops out */
#include <stdio.h>

#include "pm.h"
#include "test.h"

#define S_ USEC_PER_SEC

/* A pool's workers written as a string, one letter a slot: '.' free, 's' starting, 'i' idle, 'r' running,
 * 'f' finishing, 'x' idle and asked to stop */
static void slots_from(const char *layout, usec_t idle_since, PmSlot *slots, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char c = layout[i];

                slots[i] = (PmSlot){.idle_since = idle_since + i}; /* slot 0 idle the longest */
                slots[i].state = c == 's'               ? WORKER_STARTING
                                 : c == 'i' || c == 'x' ? WORKER_IDLE
                                 : c == 'r'             ? WORKER_RUNNING
                                 : c == 'f'             ? WORKER_FINISHING
                                                        : WORKER_FREE;
                slots[i].stop_asked = c == 'x';
        }
}

typedef struct Case {
        const char *name;
        PmConfig pm;
        const char *layout;
        bool tick, waiting, throttled, memory_full;
        unsigned spawn_rate; /* state before; 0: fresh */
        bool hit;            /* max_children already reached in this episode */
        /* expected */
        unsigned spawn;
        int stop;
        bool max_children, busy, memory_held;
        unsigned spawn_rate_after;
} Case;

#define STATIC(n)                                                            \
        {                                                                    \
                .mode = PM_STATIC, .max_children = (n), .max_spawn_rate = 32 \
        }
#define DYNAMIC(n, start, lo, hi)                                                                             \
        {                                                                                                     \
                .mode = PM_DYNAMIC, .max_children = (n), .start_servers = (start), .min_spare_servers = (lo), \
                .max_spare_servers = (hi), .max_spawn_rate = 32                                               \
        }
#define DYNAMIC_RATE(n, lo, hi, r)                                                                         \
        {                                                                                                  \
                .mode = PM_DYNAMIC, .max_children = (n), .start_servers = (lo), .min_spare_servers = (lo), \
                .max_spare_servers = (hi), .max_spawn_rate = (r)                                           \
        }
#define ONDEMAND(n, idle)                                                                                      \
        {                                                                                                      \
                .mode = PM_ONDEMAND, .max_children = (n), .process_idle_timeout = (idle), .max_spawn_rate = 32 \
        }

static const Case cases[] = {
        /* static: always max_children */
        {"static start", STATIC(4), "....", .tick = true, .spawn = 4, .stop = -1, .spawn_rate_after = 1},
        {"static one died", STATIC(4), "ir.i", .spawn = 1, .stop = -1, .spawn_rate_after = 1},
        {"static full never reaps", STATIC(2), "ii", .tick = true, .spawn = 0, .stop = -1, .spawn_rate_after = 1},
        {"static failing workers: one at a time", STATIC(4), "....", .throttled = true, .spawn = 1, .stop = -1,
                .spawn_rate_after = 1},
        /* the pool's cgroup near its memory limit: the workers there serve; none new unless none is left */
        {"static memory full", STATIC(4), "ir..", .memory_full = true, .spawn = 0, .stop = -1, .memory_held = true,
                .spawn_rate_after = 1},
        {"static memory full, no worker left", STATIC(4), "....", .memory_full = true, .spawn = 4, .stop = -1,
                .spawn_rate_after = 1},
        {"static memory full, none missing", STATIC(2), "ir", .memory_full = true, .spawn = 0, .stop = -1,
                .spawn_rate_after = 1},

        /* dynamic: start_servers at first */
        {"dynamic start", DYNAMIC(8, 3, 2, 4), "........", .tick = true, .spawn = 3, .stop = -1, .spawn_rate_after = 2},
        /* too few idle: spawn_rate workers, then the rate doubles */
        {"dynamic busy rate 1", DYNAMIC(8, 2, 2, 4), "rrr.....", .tick = true, .spawn = 1, .stop = -1,
                .spawn_rate_after = 2},
        {"dynamic busy rate 2", DYNAMIC(8, 2, 2, 4), "rrri....", .tick = true, .spawn_rate = 2, .spawn = 1, .stop = -1,
                .spawn_rate_after = 4},
        {"dynamic busy rate 4 wants 2", DYNAMIC(8, 2, 2, 4), "rrrr....", .tick = true, .spawn_rate = 4, .spawn = 2,
                .stop = -1, .spawn_rate_after = 8},
        /* PHP-FPM's notice from a rate of 8 up; the rate stops at max_spawn_rate */
        {"dynamic busy notice", DYNAMIC_RATE(32, 16, 20, 8), "rrrrrrrrrrrrrrrr................", .tick = true,
                .spawn_rate = 8, .spawn = 8, .stop = -1, .busy = true, .spawn_rate_after = 8},
        {"dynamic rate capped", DYNAMIC_RATE(32, 16, 20, 32), "rrrrrrrrrrrrrrrr................", .tick = true,
                .spawn_rate = 32, .spawn = 16, .stop = -1, .busy = true, .spawn_rate_after = 32},
        /* enough idle: the rate falls back to 1 */
        {"dynamic settled", DYNAMIC(8, 2, 2, 4), "rrii....", .tick = true, .spawn_rate = 8, .spawn = 0, .stop = -1,
                .spawn_rate_after = 1},
        /* starting workers count as idle */
        {"dynamic starting counts idle", DYNAMIC(8, 2, 2, 4), "rrss....", .tick = true, .spawn = 0, .stop = -1,
                .spawn_rate_after = 1},
        /* too many idle: one stopped per tick, the one idle the longest */
        {"dynamic reap oldest", DYNAMIC(8, 2, 1, 2), "riii....", .tick = true, .spawn = 0, .stop = 1,
                .spawn_rate_after = 1},
        {"dynamic reap skips asked", DYNAMIC(8, 2, 1, 2), "rxii....", .tick = true, .spawn = 0, .stop = 2,
                .spawn_rate_after = 1},
        {"dynamic no reap between ticks", DYNAMIC(8, 2, 1, 2), "riii....", .spawn = 0, .stop = -1,
                .spawn_rate_after = 1},
        /* max_children: said once per episode */
        {"dynamic max children", DYNAMIC(4, 2, 2, 3), "rrrr", .tick = true, .spawn = 0, .stop = -1,
                .max_children = true, .spawn_rate_after = 1},
        {"dynamic max children again", DYNAMIC(4, 2, 2, 3), "rrrr", .tick = true, .hit = true, .spawn = 0, .stop = -1,
                .spawn_rate_after = 1},
        {"dynamic wants more than room", DYNAMIC(4, 2, 3, 3), "rrr.", .tick = true, .spawn_rate = 8, .spawn = 1,
                .stop = -1, .busy = true, .spawn_rate_after = 16},
        {"dynamic failing workers", DYNAMIC(8, 4, 2, 4), "........", .tick = true, .throttled = true, .spawn = 1,
                .stop = -1, .spawn_rate_after = 2},

        /* ondemand: nothing without a connection waiting */
        {"ondemand empty", ONDEMAND(4, 10 * S_), "....", .tick = true, .spawn = 0, .stop = -1, .spawn_rate_after = 1},
        {"ondemand waiting", ONDEMAND(4, 10 * S_), "....", .waiting = true, .spawn = 1, .stop = -1,
                .spawn_rate_after = 1},
        {"ondemand waiting busy", ONDEMAND(4, 10 * S_), "rr..", .waiting = true, .spawn = 1, .stop = -1,
                .spawn_rate_after = 1},
        {"ondemand waiting busy, memory full", ONDEMAND(4, 10 * S_), "rr..", .waiting = true, .memory_full = true,
                .spawn = 0, .stop = -1, .memory_held = true, .spawn_rate_after = 1},
        {"ondemand waiting idle one", ONDEMAND(4, 10 * S_), "ri..", .waiting = true, .spawn = 0, .stop = -1,
                .spawn_rate_after = 1},
        {"ondemand waiting full", ONDEMAND(2, 10 * S_), "rr", .waiting = true, .spawn = 0, .stop = -1,
                .max_children = true, .spawn_rate_after = 1},
};

START_TEST(test_table)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                PmSlot slots[64];
                PmState s;
                PmDecision d;

                pm_state_init(&s);
                if (c->spawn_rate > 0)
                        s.spawn_rate = c->spawn_rate;
                s.max_children_hit = c->hit;
                ck_assert_uint_eq(strlen(c->layout), c->pm.max_children);
                slots_from(c->layout, 100 * S_, slots, c->pm.max_children);
                pm_decide(&s,
                        &(PmInput){.config = &c->pm,
                                .slots = slots,
                                .now = 101 * S_,
                                .tick = c->tick,
                                .waiting = c->waiting,
                                .throttled = c->throttled,
                                .memory_full = c->memory_full},
                        &d);
                ck_assert_msg(d.spawn == c->spawn, "%s: spawn %u, expected %u", c->name, d.spawn, c->spawn);
                ck_assert_msg(d.stop == c->stop, "%s: stop %d, expected %d", c->name, d.stop, c->stop);
                ck_assert_msg(d.max_children == c->max_children, "%s: max_children %d", c->name, d.max_children);
                ck_assert_msg(d.busy == c->busy, "%s: busy %d", c->name, d.busy);
                ck_assert_msg(d.memory_held == c->memory_held, "%s: memory_held %d", c->name, d.memory_held);
                ck_assert_msg(s.spawn_rate == c->spawn_rate_after, "%s: spawn rate %u, expected %u", c->name,
                        s.spawn_rate, c->spawn_rate_after);
        }
}
END_TEST

/* ondemand: an idle worker stops after process_idle_timeout, not before, and only on a tick */
START_TEST(test_ondemand_idle_timeout)
{
        PmConfig pm = ONDEMAND(3, 10 * S_);
        PmSlot slots[3];
        PmState s;
        PmDecision d;

        pm_state_init(&s);
        slots_from("ri.", 50 * S_, slots, 3); /* slot 1 idle since 50 s + 1 us */
        pm_decide(&s, &(PmInput){.config = &pm, .slots = slots, .now = 60 * S_, .tick = true}, &d);
        ck_assert_int_eq(d.stop, -1);
        pm_decide(&s, &(PmInput){.config = &pm, .slots = slots, .now = 60 * S_ + 2, .tick = true}, &d);
        ck_assert_int_eq(d.stop, 1);
        pm_decide(&s, &(PmInput){.config = &pm, .slots = slots, .now = 70 * S_}, &d);
        ck_assert_int_eq(d.stop, -1);
        /* asked already: not asked again */
        slots[1].stop_asked = true;
        pm_decide(&s, &(PmInput){.config = &pm, .slots = slots, .now = 70 * S_, .tick = true}, &d);
        ck_assert_int_eq(d.stop, -1);
}
END_TEST

/* A max_children episode ends when the pool has room again; the next one is said again */
START_TEST(test_max_children_episodes)
{
        PmConfig pm = DYNAMIC(2, 1, 1, 2);
        PmSlot slots[2];
        PmState s;
        PmDecision d;
        const struct {
                const char *layout;
                bool said;
        } steps[] = {{"rr", true}, {"rr", false}, {"rr", false}, {"r.", false}, {"rr", true}, {"rr", false}};

        pm_state_init(&s);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                slots_from(steps[i].layout, 0, slots, 2);
                pm_decide(&s, &(PmInput){.config = &pm, .slots = slots, .now = S_, .tick = true}, &d);
                ck_assert_msg(d.max_children == steps[i].said, "step %zu", i);
        }
}
END_TEST

START_TEST(test_initial_workers)
{
        PmConfig st = STATIC(7), dy = DYNAMIC(8, 3, 2, 4), od = ONDEMAND(5, S_);

        ck_assert_uint_eq(pm_initial_workers(&st), 7);
        ck_assert_uint_eq(pm_initial_workers(&dy), 3);
        ck_assert_uint_eq(pm_initial_workers(&od), 0);
}
END_TEST

static Suite *pm_suite(void)
{
        Suite *s = suite_create("pm");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_table);
        tcase_add_test(tc, test_ondemand_idle_timeout);
        tcase_add_test(tc, test_max_children_episodes);
        tcase_add_test(tc, test_initial_workers);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(pm_suite)
