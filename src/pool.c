/* pool.c: the supervisor's view of one generation of a pool: its socket, scoreboard, leader and workers */
#include <sys/resource.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <systemd/sd-daemon.h>

#include "channel.h"
#include "isolation.h"
#include "log.h"
#include "messages.h"
#include "pool.h"

#define LEADER_RESTART_MAX_DELAY_USEC (30 * USEC_PER_SEC)
/* The supervisor's tick: slowest, and the slack a kill gets before the pool counts as wedged */
#define TICK_MAX_USEC (1 * USEC_PER_SEC)

/* ---- settings ---- */

/* The php.ini and the ini files of the folder PHP scans: a pool whose PHP setup changed is restarted on reload
 * even when its own settings did not */
static uint64_t php_fingerprint(const Config *c, const PoolConfig *p)
{
        const char *ini = pool_php_ini(c, p);
        _cleanup_free_ char *dir = NULL;
        uint64_t h = 1469598103934665603ULL;
        struct dirent **names = NULL;
        struct stat st;
        int n;

#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ULL)
        if (ini) {
                for (const char *s = ini; *s; s++)
                        MIX((unsigned char)*s);
                if (stat(ini, &st) == 0) {
                        MIX(st.st_mtim.tv_sec);
                        MIX(st.st_mtim.tv_nsec);
                        MIX(st.st_size);
                }
        }
        if (pool_php_ini_scan_dir(c, p, &dir) < 0 || isempty(dir))
                return h;
        n = scandir(dir, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, names[i]->d_name) >= 0 && stat(path, &st) == 0) {
                        for (const char *s = names[i]->d_name; *s; s++)
                                MIX((unsigned char)*s);
                        MIX(st.st_mtim.tv_sec);
                        MIX(st.st_mtim.tv_nsec);
                        MIX(st.st_size);
                }
                free(names[i]);
        }
        free(names);
#undef MIX
        return h;
}

const char *pool_name(const Pool *p)
{
        return p->config->name;
}

bool pool_unchanged(const Pool *p, const Config *c, const PoolConfig *pc)
{
        return pool_config_equal(p->config, pc) && p->php_fingerprint == php_fingerprint(c, pc) &&
               p->state != POOL_FAILED;
}

/* ---- life ---- */

Pool *pool_free(Pool *p)
{
        if (!p)
                return NULL;
        cgroup_retire(p->owner->cgroups, TAKE_PTR(p->cgroup));
        p->ctl_source = sd_event_source_disable_unref(p->ctl_source);
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->handover_source = sd_event_source_disable_unref(p->handover_source);
        safe_close(p->ctl_fd);
        safe_close(p->listen_fd);
        safe_close(p->handover[0]);
        safe_close(p->handover[1]);
        if (p->scoreboard)
                munmap(p->scoreboard, scoreboard_size(p->n_slots));
        safe_close(p->scoreboard_fd);
        free(p->slots);
        free(p->faults);
        config_unref(p->config_owner);
        return mfree(p);
}

/* The socket is kept across generations when the address is the same; a new backlog applies at once */
static bool listen_same(const PoolConfig *a, const PoolConfig *b)
{
        if (!a->listen.address || !b->listen.address)
                return !a->listen.address && !b->listen.address;
        return streq(a->listen.address, b->listen.address);
}

static int pool_open_socket(Pool *p, const Pool *previous, bool *ret_bound)
{
        const PoolConfig *c = p->config;
        int fd, r;

        *ret_bound = false;
        if (previous && (previous->listen_from_systemd || listen_same(previous->config, c))) {
                p->listen_fd = fcntl(previous->listen_fd, F_DUPFD_CLOEXEC, 3);
                if (p->listen_fd < 0)
                        return log_error_errno(errno, "[pool %s] failed to keep the socket: %m", c->name);
                p->listen_from_systemd = previous->listen_from_systemd;
                if (!p->listen_from_systemd && c->listen.backlog != previous->config->listen.backlog)
                        (void)listen(p->listen_fd, c->listen.backlog > 0 ? c->listen.backlog : 511);
        } else if ((fd = listen_fds_take(p->owner->systemd_fds, c->name)) >= 0) {
                int family = AF_UNSPEC;

                r = listen_fd_check(fd, &family);
                if (r <= 0 || (family != AF_INET && family != AF_INET6 && family != AF_UNIX)) {
                        r = log_error_errno(r < 0 ? r : EINVAL,
                                "[pool %s] systemd passed a socket named \"%s\" that is not a listening stream socket "
                                "of IPv4, IPv6 or a unix path (%s): refusing it. Its socket unit needs "
                                "ListenStream= and no Accept=yes.",
                                c->name, c->name, listen_fd_describe(fd));
                        safe_close(fd);
                        return r;
                }
                log_info("[pool %s] using the socket systemd passed.", c->name);
                if (c->listen.address && listen_fd_matches(fd, c->listen.address) == 0)
                        log_notice("[pool %s] the socket systemd passed is not bound to listen.address %s, which "
                                   "is ignored.",
                                c->name, c->listen.address);
                p->listen_fd = fd;
                p->listen_from_systemd = true;
        } else if (c->listen.address) {
                r = listen_open(&c->listen, &p->listen_fd);
                if (r < 0)
                        return r;
                log_info("[pool %s] listening on %s.", c->name, c->listen.address);
                *ret_bound = true;
        } else
                return log_error_errno(EINVAL,
                        "[pool %s] has no socket: systemd passed none named \"%s\" and listen.address is not set.",
                        c->name, c->name);

        /* Workers wait for it in epoll and accept without blocking: another one may have taken the connection */
        r = fcntl(p->listen_fd, F_GETFL);
        if (r < 0 || fcntl(p->listen_fd, F_SETFL, r | O_NONBLOCK) < 0)
                return log_error_errno(errno, "[pool %s] failed to make the socket non-blocking: %m", c->name);
        return 0;
}

/* The pair on which workers hand their connections on (leaving: to a sibling, or to the next generation): one
 * per pool, shared by its generations as the listening socket is */
static int pool_open_handover(Pool *p, const Pool *previous)
{
        if (previous && previous->handover[0] >= 0 && p->listen_fd >= 0 && previous->listen_fd >= 0 &&
                (previous->listen_from_systemd || listen_same(previous->config, p->config))) {
                p->handover[0] = fcntl(previous->handover[0], F_DUPFD_CLOEXEC, 3);
                p->handover[1] = fcntl(previous->handover[1], F_DUPFD_CLOEXEC, 3);
        } else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->handover) < 0)
                p->handover[0] = p->handover[1] = -1;
        if (p->handover[0] < 0 || p->handover[1] < 0)
                return log_error_errno(errno, "[pool %s] failed to set up its handover channel: %m", pool_name(p));
        return 0;
}

/* A new scoreboard for the pool; the pool's counters (accepted connections, slow requests, since when it runs)
 * carry over from the previous one, as a pool's leader may stop and start many times (ondemand at rest) */
static int pool_new_scoreboard(Pool *p)
{
        Scoreboard *old = p->scoreboard, *s = NULL;
        int fd = -1, r;

        r = scoreboard_new(pool_name(p), pm_mode_to_string(p->config->pm.mode), p->n_slots, &s, &fd);
        if (r < 0)
                return r;
        if (old) {
                s->start_usec = old->start_usec;
                s->accepted_conn = old->accepted_conn;
                s->max_children_reached = old->max_children_reached;
                s->slow_requests = old->slow_requests;
                s->max_active = old->max_active;
                s->max_listen_queue = old->max_listen_queue;
                s->memory_peak = old->memory_peak;
                munmap(old, scoreboard_size(p->n_slots));
        }
        safe_close(p->scoreboard_fd);
        p->scoreboard = s;
        p->scoreboard_fd = fd;
        return 0;
}

int pool_new(const PoolOwner *owner, Config *config, const PoolConfig *c, const Pool *previous, Pool **ret)
{
        _cleanup_(pool_freep) Pool *p = NULL;
        Isolation isolation = {};
        int r;

        p = calloc(1, sizeof(Pool));
        if (!p)
                return log_oom();
        *p = (Pool){
                .owner = owner,
                .config_owner = config_ref(config),
                .config = c,
                .listen_fd = -1,
                .handover = {-1, -1},
                .ctl_fd = -1,
                .leader_pidfd = -1,
                .scoreboard_fd = -1,
                .n_slots = c->pm.max_children,
                .state = POOL_NEW,
        };
        pm_state_init(&p->pm);
        p->php_fingerprint = php_fingerprint(config, c);
        p->slots = calloc(p->n_slots, sizeof(SlotInfo));
        if (!p->slots)
                return log_oom();
        if (config->emergency_restart_threshold > 0) {
                p->faults = calloc(config->emergency_restart_threshold, sizeof(usec_t));
                if (!p->faults)
                        return log_oom();
        }

        /* What the leader will do with these settings is checked here, where a bad one can still be refused */
        r = isolation_plan(c, true, &isolation);
        isolation_done(&isolation);
        if (r < 0)
                return r;

        r = pool_open_socket(p, previous, &p->listen_bound);
        if (r < 0)
                return r;
        r = pool_open_handover(p, previous);
        if (r < 0)
                return r;
        /* From the start, so `fpmd status` and the status line see a pool at rest too */
        r = pool_new_scoreboard(p);
        if (r < 0)
                return r;

        /* The leader and every worker count against pids.max */
        if (c->cgroup.pids_max != CGROUP_LIMIT_UNSET && c->cgroup.pids_max < (uint64_t)c->pm.max_children + 1)
                log_warning("[pool %s] cgroup pids_max = %llu is lower than pm.max_children + 1 (%u): the pool "
                            "cannot have more than %llu worker%s.",
                        c->name, (unsigned long long)c->cgroup.pids_max, c->pm.max_children + 1,
                        c->cgroup.pids_max > 0 ? (unsigned long long)c->cgroup.pids_max - 1 : 0ULL,
                        c->cgroup.pids_max == 2 ? "" : "s");

        *ret = TAKE_PTR(p);
        return 0;
}

void pool_store_socket(const Pool *p, bool replace)
{
        _cleanup_free_ char *state = NULL;

        if (!p->listen_bound)
                return;
        if (replace)
                (void)sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", pool_name(p));
        if (asprintf(&state, "FDSTORE=1\nFDNAME=%s", pool_name(p)) >= 0)
                (void)sd_pid_notify_with_fds(0, false, state, &p->listen_fd, 1);
}

void pool_unstore_socket(const Pool *p)
{
        if (!p->listen_from_systemd)
                (void)sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", pool_name(p));
}

/* ---- workers ---- */

/* The state of a slot for decisions: the supervisor's record says whether a worker holds it; what the worker
 * is doing comes from the scoreboard, bounded */
static WorkerState slot_state(const Pool *p, unsigned i)
{
        int32_t s;

        if (!p->slots[i].taken)
                return WORKER_FREE;
        if (p->slots[i].pid == 0 || !p->scoreboard)
                return WORKER_STARTING;
        s = p->scoreboard->slots[i].state;
        /* Free while we still count it: it exited and the leader's word is on its way */
        if (s == WORKER_FREE)
                return WORKER_EXITING;
        return s > WORKER_FREE && s < _WORKER_STATE_MAX ? (WorkerState)s : WORKER_STARTING;
}

void pool_counts(const Pool *p, ScoreboardCounts *ret)
{
        ScoreboardCounts c = {};

        for (unsigned i = 0; i < p->n_slots; i++) {
                WorkerState s = slot_state(p, i);

                if (s == WORKER_FREE)
                        continue;
                c.total++;
                /* In its loop: not merely forked, nor on its way out. A worker that fails before its first request
                 * (its worker.script, its setup) is exiting between its last state and the leader's word of its
                 * exit: counted, it made a failing new generation look as if it served and replace the previous
                 * one. */
                if (s != WORKER_STARTING && s != WORKER_EXITING)
                        c.started++;
                if (p->scoreboard)
                        c.requests += p->scoreboard->slots[i].requests;
                if (s == WORKER_IDLE || s == WORKER_STARTING)
                        c.idle++;
                else if (s != WORKER_EXITING)
                        c.active++;
        }
        *ret = c;
}

bool pool_serving(const Pool *p)
{
        ScoreboardCounts c;

        /* At rest, its socket is watched: the first connection starts its leader */
        if (p->state == POOL_RESTING || p->state == POOL_DOZING)
                return true;
        if (p->state != POOL_RUNNING)
                return false;
        pool_counts(p, &c);
        /* A pool whose further forks fail (a pids limit; the generation it replaces may hold the rest) serves
         * with the workers it has, as PHP-FPM goes on with the children it could fork */
        return c.started >= pm_initial_workers(&p->config->pm) || (p->spawn_failing && c.started > 0) ||
               /* Up, with an application that does not boot: fpmd's other pools are not held back for it */
               (p->boot_failed && !p->replaces);
}

/* A new generation whose first worker cannot fork for a process limit (cgroup pids_max, TasksMax=) while the
 * generation it replaces holds the processes the limit allows: both never fit, so the previous one finishes its
 * requests and goes first, and the next spawn (a tick later) finds room. Connections wait in the socket
 * meanwhile; the reload completes once the new generation serves. */
static void pool_make_room(Pool *p, int error)
{
        ScoreboardCounts c;

        if (error != -EAGAIN || !p->replaces || p->served || p->state != POOL_RUNNING)
                return;
        pool_counts(p, &c);
        if (c.started > 0)
                return;
        log_notice("[pool %s] no room for a worker beside the previous generation (a process limit): it finishes "
                   "its requests and stops first.",
                pool_name(p));
        p->owner->serving(p, p->owner->userdata);
}

/* A new generation serves: the one it replaces may finish its requests and go */
void pool_check_served(Pool *p)
{
        if (p->served || !pool_serving(p))
                return;
        p->served = true;
        p->owner->serving(p, p->owner->userdata);
}

static bool pool_stopping(const Pool *p)
{
        return p->owner->stopping(p->owner->userdata);
}

static int pool_spawn_one(Pool *p)
{
        unsigned slot;

        for (slot = 0; slot < p->n_slots; slot++)
                if (!p->slots[slot].taken)
                        break;
        if (slot == p->n_slots)
                return -ENOSPC;
        p->slots[slot] = (SlotInfo){.taken = true};
        p->scoreboard->slots[slot].state = WORKER_STARTING;
        p->scoreboard->slots[slot].idle_since_usec = now_usec(CLOCK_MONOTONIC);
        if (channel_send(p->ctl_fd, CHANNEL_SPAWN, (int)slot, 0, 0) < 0) {
                p->slots[slot].taken = false;
                p->scoreboard->slots[slot].state = WORKER_FREE;
                return -EIO;
        }
        return 0;
}

/* Signals go through the leader, to its own child of that slot, never to a pid read from shared memory */
static void pool_signal(Pool *p, unsigned slot, int sig)
{
        if (p->ctl_fd >= 0 && p->slots[slot].pid > 0)
                (void)channel_send(p->ctl_fd, CHANNEL_SIGNAL, (int)slot, p->slots[slot].pid, sig);
}

static void pool_ask_stop(Pool *p, unsigned slot)
{
        if (p->slots[slot].taken && p->slots[slot].stop_sent == 0) {
                p->slots[slot].stop_sent = now_usec(CLOCK_MONOTONIC);
                pool_signal(p, slot, SIGTERM);
        }
}

/* An event of the pool in the journal: FPMD_POOL=, and FPMD_WORKER_PID= when a worker is named (pid > 0) */
_printf_(5, 6) static void log_pool_event(const Pool *p, int level, const char *id, pid_t pid, const char *format, ...)
{
        _cleanup_(log_fields_done) LogFields f = {};
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0) {
                log_oom();
                return;
        }
        log_fields_add(&f, "FPMD_POOL", "%s", pool_name(p));
        if (pid > 0)
                log_fields_add(&f, "FPMD_WORKER_PID", "%d", (int)pid);
        (void)log_event(level, id, f.items, message);
}

/* The fields of a worker's request in the journal: the scoreboard's strings are the worker's, display only */
static void request_fields(LogFields *f, const Pool *p, unsigned slot, usec_t duration)
{
        const ScoreboardSlot *s = &p->scoreboard->slots[slot];

        log_fields_add(f, "FPMD_POOL", "%s", pool_name(p));
        log_fields_add(f, "FPMD_WORKER_PID", "%d", (int)p->slots[slot].pid);
        log_fields_add(f, "SCRIPT_FILENAME", "%.*s", (int)sizeof(s->script), s->script);
        log_fields_add(f, "REQUEST_METHOD", "%.*s", (int)sizeof(s->method), s->method);
        log_fields_add(f, "REQUEST_URI", "%.*s", (int)sizeof(s->uri), s->uri);
        log_fields_add(f, "DURATION_USEC", "%llu", (unsigned long long)duration);
}

/* PHP-FPM's line about a worker's request ("... executing too slow (1.000123 sec), logging"), with the request's
 * fields for the journal; values may hold newlines, so the fields go as separate strings */
static void log_slot_request(
        const Pool *p, unsigned slot, usec_t d, const char *message_id, const char *what, const char *then)
{
        const ScoreboardSlot *s = &p->scoreboard->slots[slot];
        _cleanup_(log_fields_done) LogFields f = {};
        _cleanup_free_ char *message = NULL;

        if (asprintf(&message, "[pool %s] child %d, script '%.*s' (request: \"%.*s %.*s%s%.*s\") %s (%.6f sec), %s",
                    pool_name(p), (int)p->slots[slot].pid, (int)sizeof(s->script), s->script, (int)sizeof(s->method),
                    s->method, (int)sizeof(s->uri), s->uri, s->query[0] ? "?" : "", (int)sizeof(s->query), s->query,
                    what, (double)d / 1e6, then) < 0) {
                log_oom();
                return;
        }
        request_fields(&f, p, slot, d);
        (void)log_event(LOG_WARNING, message_id, f.items, message);
}

/* ---- the process manager ---- */

/* Peaks for the status page: the most workers busy at once, the longest accept queue seen */
static void pool_sample(Pool *p)
{
        Scoreboard *sb = p->scoreboard;
        ScoreboardCounts c;
        unsigned waiting, size;
        uint64_t mem, cpu;

        if (!sb)
                return;
        pool_counts(p, &c);
        if (c.active > sb->max_active)
                sb->max_active = c.active;
        if (listen_queue(p->listen_fd, &waiting, &size) >= 0 && waiting > sb->max_listen_queue)
                sb->max_listen_queue = waiting;
        if (cgroup_pool_stats(p->owner->cgroups, pool_name(p), &mem, &cpu) >= 0) {
                sb->cgroup_memory = mem;
                sb->cgroup_cpu_usec = cpu;
        }
}

static bool listen_queue_waiting(int fd)
{
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

/* A worker booted the application: the pool is no longer taken as broken */
static void pool_check_booted(Pool *p)
{
        ScoreboardCounts c;

        if (!p->boot_failures)
                return;
        pool_counts(p, &c);
        if (c.started == 0)
                return;
        if (p->boot_failed && p->config->worker_script)
                log_notice("[pool %s] a worker booted worker.script %s: serving again.", pool_name(p),
                        p->config->worker_script);
        else if (p->boot_failed)
                log_notice("[pool %s] a worker started: serving again.", pool_name(p));
        p->boot_failures = 0;
        p->boot_failed = false;
        p->owner->changed(p->owner->userdata);
}

/* The lower of the pool cgroup's memory_high and memory_max, CGROUP_LIMIT_UNSET when neither is set */
static uint64_t pool_memory_limit(const Pool *p)
{
        const CgroupConfig *c = &p->config->cgroup;

        return MIN(c->memory_high, c->memory_max);
}

/* At 90% of its limit (memory.current, read each tick) */
static bool pool_memory_full(const Pool *p)
{
        uint64_t limit = pool_memory_limit(p), used = p->scoreboard ? p->scoreboard->cgroup_memory : UINT64_MAX;

        return limit != CGROUP_LIMIT_UNSET && used != UINT64_MAX && used >= limit / 10 * 9;
}

/* tick: whether idle workers may be stopped now (once per tick) or only missing ones started (after an exit);
 * waiting: a connection is known to wait (ondemand) */
static void pool_maintain(Pool *p, bool tick, int waiting)
{
        const PmConfig *pm = &p->config->pm;
        _cleanup_free_ PmSlot *slots = NULL;
        PmDecision d;

        if (p->state != POOL_RUNNING || pool_stopping(p))
                return;
        pool_check_booted(p);
        slots = calloc(p->n_slots, sizeof(PmSlot));
        if (!slots)
                return;
        for (unsigned i = 0; i < p->n_slots; i++)
                slots[i] = (PmSlot){
                        .state = slot_state(p, i),
                        .idle_since = p->scoreboard->slots[i].idle_since_usec,
                        .stop_asked = p->slots[i].stop_sent != 0,
                };
        if (waiting < 0)
                waiting = pm->mode == PM_ONDEMAND && listen_queue_waiting(p->listen_fd);

        pm_decide(&p->pm,
                &(PmInput){
                        .config = pm,
                        .slots = slots,
                        .now = now_usec(CLOCK_MONOTONIC),
                        .tick = tick,
                        .waiting = waiting,
                        /* Workers that die right after their start: one new one per tick, not a fork loop */
                        .throttled = p->quick_failures > 3,
                        .memory_full = pool_memory_full(p),
                },
                &d);

        if (d.memory_held != p->memory_held) {
                p->memory_held = d.memory_held;
                if (d.memory_held)
                        log_pool_event(p, LOG_WARNING, NULL, 0,
                                "[pool %s] starting no new worker: its cgroup uses %llu MiB, near its memory limit "
                                "(%llu MiB); the workers it has serve the queue.",
                                pool_name(p), (unsigned long long)(p->scoreboard->cgroup_memory >> 20),
                                (unsigned long long)(pool_memory_limit(p) >> 20));
                else
                        log_pool_event(p, LOG_NOTICE, NULL, 0, "[pool %s] memory below its limit again.", pool_name(p));
                p->owner->changed(p->owner->userdata);
        }
        if (d.max_children) {
                __atomic_fetch_add(&p->scoreboard->max_children_reached, 1, __ATOMIC_RELAXED);
                log_pool_event(p, LOG_WARNING, FPMD_MESSAGE_MAX_CHILDREN_REACHED, 0,
                        "[pool %s] server reached pm.max_children setting (%u), consider raising it", pool_name(p),
                        pm->max_children);
        }
        if (d.busy)
                log_notice("[pool %s] seems busy (you may need to increase pm.start_servers, or "
                           "pm.min/max_spare_servers), spawning %u children, there are %u idle, and %u total children",
                        pool_name(p), d.spawn, d.idle, d.total);
        if (d.stop >= 0)
                pool_ask_stop(p, (unsigned)d.stop);
        for (unsigned i = 0; i < d.spawn; i++)
                if (pool_spawn_one(p) < 0)
                        break;
}

/* ondemand: the listening socket became readable, i.e. a connection waits */
static int on_listen_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s;
        (void)fd;
        (void)revents;
        pool_maintain(userdata, false, true);
        return 0;
}

/* ---- ondemand pools at rest: no leader until a connection waits ---- */

static bool pool_lazy(const Pool *p)
{
        return p->config->pm.mode == PM_ONDEMAND && p->config->pm.leader_idle_timeout > 0;
}

static bool pool_connection_waits(const Pool *p)
{
        return listen_queue_waiting(p->listen_fd) || (p->handover[0] >= 0 && listen_queue_waiting(p->handover[0]));
}

static int pool_rest(Pool *p);

/* A leader that could not even be started (no fds, no memory) is tried again as one that died */
static int on_wake_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        Pool *p = userdata;

        (void)usec;
        p->restart_timer = sd_event_source_disable_unref(s);
        if (!pool_stopping(p) && p->state == POOL_RESTING)
                (void)pool_rest(p);
        return 0;
}

static void pool_wake(Pool *p)
{
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->handover_source = sd_event_source_disable_unref(p->handover_source);
        log_debug("[pool %s] a connection waits: starting its leader.", pool_name(p));
        if (pool_start(p) < 0) {
                p->state = POOL_RESTING;
                (void)sd_event_add_time_relative(
                        p->owner->event, &p->restart_timer, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_wake_retry, p);
        }
        p->owner->changed(p->owner->userdata);
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Pool *p = userdata;

        (void)s;
        (void)fd;
        (void)revents;
        if (p->state == POOL_RESTING && !pool_stopping(p))
                pool_wake(p);
        return 0;
}

/* No leader: the supervisor watches the socket (and the handover pair, where a leaving worker of a previous
 * generation may have put a connection), and the first connection starts the leader, which forks a worker for
 * it. A connection already waiting starts it at once. */
static int pool_rest(Pool *p)
{
        int r;

        p->state = POOL_RESTING;
        p->workerless_since = 0;
        if (pool_connection_waits(p)) {
                pool_wake(p);
                return 0;
        }
        r = sd_event_add_io(p->owner->event, &p->listen_source, p->listen_fd, EPOLLIN, on_wake, p);
        if (r >= 0)
                r = sd_event_add_io(p->owner->event, &p->handover_source, p->handover[0], EPOLLIN, on_wake, p);
        if (r < 0) {
                log_warning_errno(r, "[pool %s] cannot watch its socket (%m): starting its leader now.", pool_name(p));
                pool_wake(p);
                return 0;
        }
        pool_check_served(p);
        p->owner->changed(p->owner->userdata);
        return 0;
}

int pool_activate(Pool *p, bool now)
{
        if (now || !pool_lazy(p))
                return pool_start(p);
        log_debug("[pool %s] at rest until its first connection.", pool_name(p));
        return pool_rest(p);
}

/* A lazy pool whose last worker went pm.leader_idle_timeout ago: its leader stops, and the pool rests until the
 * next connection. Not while it still replaces a previous generation. */
static void pool_check_doze(Pool *p)
{
        usec_t now;

        if (!pool_lazy(p) || p->state != POOL_RUNNING || p->replaces || p->leader <= 0)
                return;
        for (unsigned i = 0; i < p->n_slots; i++)
                if (p->slots[i].taken) {
                        p->workerless_since = 0;
                        return;
                }
        if (pool_connection_waits(p)) {
                p->workerless_since = 0;
                return;
        }
        now = now_usec(CLOCK_MONOTONIC);
        if (p->workerless_since == 0) {
                p->workerless_since = now;
                return;
        }
        if (now - p->workerless_since < p->config->pm.leader_idle_timeout)
                return;

        log_info("[pool %s] no worker for %.0f s (pm.leader_idle_timeout): stopping its PHP (leader %d) until the "
                 "next connection.",
                pool_name(p), (double)p->config->pm.leader_idle_timeout / USEC_PER_SEC, (int)p->leader);
        p->state = POOL_DOZING;
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->handover_source = sd_event_source_disable_unref(p->handover_source);
        if (p->ctl_fd < 0 || channel_send(p->ctl_fd, CHANNEL_STOP, -1, 0, 0) < 0)
                (void)kill(-p->leader, SIGTERM);
        p->owner->changed(p->owner->userdata);
}

/* ---- requests: timeouts and the slowlog ---- */

void pool_check_requests(Pool *p)
{
        const PoolConfig *c = p->config;
        Scoreboard *sb = p->scoreboard;
        usec_t now;

        if (!sb)
                return;
        now = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < p->n_slots; i++) {
                SlotInfo *info = &p->slots[i];
                usec_t start = sb->slots[i].request_mono_usec, d;

                if (info->pid <= 0 || slot_state(p, i) != WORKER_RUNNING || start == 0)
                        continue;
                d = now > start ? now - start : 0;

                /* Is its web server still there? A request that runs on for nobody is ended (slowlog.c) */
                if (d >= USEC_PER_SEC)
                        pool_signal(p, i, SCOREBOARD_CLIENT_SIGNAL);
                if (c->request_slowlog_timeout > 0 && d > c->request_slowlog_timeout && info->slow_logged != start) {
                        info->slow_logged = start;
                        __atomic_fetch_add(&sb->slow_requests, 1, __ATOMIC_RELAXED);
                        log_slot_request(p, i, d, NULL, "executing too slow", "logging");
                        /* The worker writes its own backtrace into its slot; collected on the next ticks */
                        if (c->slowlog) {
                                info->trace_seq = __atomic_load_n(&sb->slots[i].trace_seq, __ATOMIC_ACQUIRE);
                                info->trace_pending = true;
                                info->trace_asked = now;
                                info->trace_duration = d;
                                pool_signal(p, i, SCOREBOARD_TRACE_SIGNAL);
                        }
                }
                if (c->request_terminate_timeout > 0 && d > c->request_terminate_timeout && info->kill_sent == 0) {
                        info->kill_sent = now;
                        __atomic_fetch_add(&sb->requests_terminated, 1, __ATOMIC_RELAXED);
                        log_slot_request(p, i, d, FPMD_MESSAGE_REQUEST_TIMED_OUT, "execution timed out", "terminating");
                        pool_signal(p, i, SIGKILL);
                }
        }
}

/* The slowlog: one journal entry per slow request, in PHP-FPM's slowlog layout, with the backtrace the worker
 * wrote; the request keeps running */
static void pool_collect_traces(Pool *p)
{
        Scoreboard *sb = p->scoreboard;
        usec_t now;

        if (!sb || !p->config->slowlog)
                return;
        now = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < p->n_slots; i++) {
                ScoreboardSlot *s = &sb->slots[i];
                SlotInfo *info = &p->slots[i];
                _cleanup_(log_fields_done) LogFields f = {};
                _cleanup_free_ char *message = NULL;
                char trace[sizeof(s->trace)];
                bool got;

                if (!info->trace_pending)
                        continue;
                got = __atomic_load_n(&s->trace_seq, __ATOMIC_ACQUIRE) != info->trace_seq;
                if (!got && now - info->trace_asked < 2 * USEC_PER_SEC)
                        continue;
                info->trace_pending = false;
                if (got) {
                        memcpy(trace, s->trace, sizeof(trace));
                        trace[sizeof(trace) - 1] = 0;
                } else
                        strcpy(trace, "(no backtrace: the worker did not answer)\n");

                if (asprintf(&message, "[pool %s] pid %d\nscript_filename = %.*s\n%s", pool_name(p), (int)info->pid,
                            (int)sizeof(s->script), s->script, trace) < 0) {
                        log_oom();
                        continue;
                }
                request_fields(&f, p, i, info->trace_duration);
                log_fields_add(&f, "PHP_BACKTRACE", "%s", trace);
                (void)log_event(LOG_NOTICE, FPMD_MESSAGE_SLOW_REQUEST, f.items, message);
        }
}

/* A worker wrote over the scoreboard's header (an exploit in the pool, or a stray write of an extension): what
 * the pool's workers report can no longer be read, so the pool gets a fresh generation. Said once. */
static bool pool_check_scoreboard(Pool *p)
{
        const Scoreboard *sb = p->scoreboard;

        if (!sb || p->replaced_for_scoreboard)
                return p->replaced_for_scoreboard;
        if (sb->magic == SCOREBOARD_MAGIC && sb->n_slots == p->n_slots)
                return false;
        p->replaced_for_scoreboard = true;
        log_pool_event(p, LOG_WARNING, FPMD_MESSAGE_SCOREBOARD_OVERWRITTEN, 0,
                "[pool %s] its scoreboard was overwritten by one of its workers (header 0x%016llx, %u slots): "
                "starting a new generation of the pool.",
                pool_name(p), (unsigned long long)sb->magic, (unsigned)sb->n_slots);
        p->owner->restart(p, p->owner->userdata);
        return true;
}

void pool_tick(Pool *p)
{
        /* A pool at rest has nothing to look at: idle pools cost the tick nothing */
        if (p->state == POOL_RESTING || p->state == POOL_DOZING)
                return;
        if (pool_check_scoreboard(p))
                return;
        pool_check_requests(p);
        pool_collect_traces(p);
        pool_sample(p);
        pool_maintain(p, true, -1);
        pool_check_doze(p);
}

/* ---- faults ---- */

static void pool_record_fault(Pool *p)
{
        const Config *c = p->config_owner;
        usec_t now = now_usec(CLOCK_MONOTONIC), oldest;

        if (c->emergency_restart_threshold == 0 || c->emergency_restart_interval == 0 || !p->faults || p->replaces ||
                pool_stopping(p))
                return;
        p->faults[p->fault_next] = now;
        p->fault_next = (p->fault_next + 1) % c->emergency_restart_threshold;
        if (p->n_faults < c->emergency_restart_threshold)
                p->n_faults++;
        if (p->n_faults < c->emergency_restart_threshold)
                return;
        oldest = p->faults[p->fault_next]; /* the ring's next slot holds the oldest of the last N */
        if (now - oldest > c->emergency_restart_interval)
                return;

        log_pool_event(p, LOG_WARNING, FPMD_MESSAGE_EMERGENCY_RESTART, 0,
                "[pool %s] %u children died by signal%s within %.0f s, emergency restart of the pool (fresh PHP "
                "and opcache).",
                pool_name(p), c->emergency_restart_threshold,
                p->config->worker_script ? " or failed their worker.script" : "",
                (double)c->emergency_restart_interval / 1e6);
        p->n_faults = 0;
        p->owner->restart(p, p->owner->userdata);
}

/* One signal to the leader: through its pidfd, which cannot name another process; kill() where the kernel
 * has no pidfds. Its process group (kill(-leader), the leader and its workers) has no pidfd: the group's id is
 * the leader's pid, which stays ours until we reap the leader, so it cannot name anybody else's processes. */
static void pool_signal_leader(Pool *p, int sig)
{
        if (p->leader <= 0)
                return;
        if (p->leader_pidfd >= 0 && pidfd_send_signal(p->leader_pidfd, sig, NULL, 0) >= 0)
                return;
        (void)kill(p->leader, sig);
}

/* A worker that exited before its first request: it could not set itself up (setup), or its worker.script
 * failed. Three in a row with none started: a new generation is stopped (the previous one keeps serving, the
 * reload fails); a pool without one is ready with its failing workers, said once, so that fpmd's other pools
 * are not held back. */
static void pool_boot_failed(Pool *p, bool setup)
{
        const char *script = setup ? NULL : p->config->worker_script;
        ScoreboardCounts c;

        pool_record_fault(p);
        if (++p->boot_failures < 3 || p->boot_failed)
                return;
        pool_counts(p, &c);
        if (c.started > 0)
                return;
        p->boot_failed = true;
        if (p->replaces && !p->served) {
                if (script)
                        log_pool_event(p, LOG_ERR, NULL, 0,
                                "[pool %s] worker.script %s failed before its first request in %u workers of the new "
                                "generation: stopping it.",
                                pool_name(p), script, p->boot_failures);
                else
                        log_pool_event(p, LOG_ERR, NULL, 0,
                                "[pool %s] %u workers of the new generation could not start: stopping it.",
                                pool_name(p), p->boot_failures);
                pool_signal_leader(p, SIGTERM);
                return;
        }
        if (script)
                log_pool_event(p, LOG_ERR, NULL, 0,
                        "[pool %s] worker.script %s failed before its first request in %u workers: the pool serves "
                        "nothing until one boots (a new worker each second).",
                        pool_name(p), script, p->boot_failures);
        else
                log_pool_event(p, LOG_ERR, NULL, 0,
                        "[pool %s] %u workers could not start: the pool serves nothing until one does (a new worker "
                        "each second).",
                        pool_name(p), p->boot_failures);
        pool_check_served(p);
        p->owner->changed(p->owner->userdata);
}

static void pool_worker_exited(Pool *p, int slot, pid_t pid, int status)
{
        SlotInfo info;

        /* The leader's word on its own child: slot and pid must be the ones it reported at the fork */
        if (slot < 0 || (unsigned)slot >= p->n_slots || p->slots[slot].pid != pid || pid <= 0) {
                log_warning("[pool %s] the leader reported the exit of child %d in slot %d, which is not ours, "
                            "ignoring.",
                        pool_name(p), (int)pid, slot);
                return;
        }
        info = p->slots[slot];
        p->slots[slot] = (SlotInfo){};

        if (WIFSIGNALED(status) && info.kill_sent == 0 && info.stop_sent == 0) {
                if (p->scoreboard)
                        __atomic_fetch_add(&p->scoreboard->workers_killed, 1, __ATOMIC_RELAXED);
                log_pool_event(p, LOG_WARNING, FPMD_MESSAGE_WORKER_CRASHED, pid,
                        "[pool %s] child %d exited on signal %d (%s)%s", pool_name(p), (int)pid, WTERMSIG(status),
                        sigabbrev_np(WTERMSIG(status)) ?: "?", WCOREDUMP(status) ? " - core dumped" : "");
                pool_record_fault(p);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_NEVER_SERVED && info.stop_sent == 0) {
                log_warning("[pool %s] child %d exited before serving: its worker.script failed before its first "
                            "request.",
                        pool_name(p), (int)pid);
                if (!pool_stopping(p) && p->state == POOL_RUNNING)
                        pool_boot_failed(p, false);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_SETUP_FAILED && info.stop_sent == 0) {
                log_warning("[pool %s] child %d exited before serving: it could not set itself up.", pool_name(p),
                        (int)pid);
                if (!pool_stopping(p) && p->state == POOL_RUNNING)
                        pool_boot_failed(p, true);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                log_warning("[pool %s] child %d exited with code %d", pool_name(p), (int)pid, WEXITSTATUS(status));
        else
                log_debug("[pool %s] child %d exited", pool_name(p), (int)pid);

        if (pool_stopping(p) || p->state != POOL_RUNNING)
                return;

        /* Workers dying right away (bad chroot, a crashing extension) are respawned once per tick, not in a
         * fork loop */
        if ((WIFEXITED(status) && WEXITSTATUS(status) != 0) || (WIFSIGNALED(status) && info.kill_sent == 0)) {
                if (++p->quick_failures > 3)
                        return;
        } else
                p->quick_failures = 0;
        pool_maintain(p, false, -1);
}

/* ---- the leader ---- */

static void pool_close_leader(Pool *p)
{
        p->ctl_source = sd_event_source_disable_unref(p->ctl_source);
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->handover_source = sd_event_source_disable_unref(p->handover_source);
        p->ctl_fd = safe_close(p->ctl_fd);
        p->leader_pidfd = safe_close(p->leader_pidfd);
}

static void pool_leader_ready(Pool *p)
{
        if (p->state == POOL_STOPPING)
                return;
        p->state = POOL_RUNNING;
        p->leader_failures = 0;
        log_pool_event(p, LOG_INFO, FPMD_MESSAGE_POOL_STARTED, 0, "[pool %s] PHP started in leader %d.", pool_name(p),
                (int)p->leader);
        if (p->config->pm.mode == PM_ONDEMAND) {
                (void)sd_event_add_io(
                        p->owner->event, &p->listen_source, p->listen_fd, EPOLLIN | EPOLLET, on_listen_ready, p);
                /* A connection handed on by a worker that went: a worker must take it */
                (void)sd_event_add_io(
                        p->owner->event, &p->handover_source, p->handover[0], EPOLLIN | EPOLLET, on_listen_ready, p);
        }
        pool_maintain(p, false, -1);
        pool_check_served(p);
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Pool *p = userdata;
        ChannelMessage msg;
        int r;

        (void)revents;
        r = channel_receive(fd, &msg);
        if (r == 0)
                return 0;
        if (r < 0) {
                /* The leader is gone; SIGCHLD tells how */
                p->ctl_source = sd_event_source_disable_unref(s);
                return 0;
        }

        switch (msg.type) {
        case CHANNEL_READY:
                pool_leader_ready(p);
                break;
        case CHANNEL_FAILED:
                log_error("[pool %s] PHP failed to start; see the messages above.", pool_name(p));
                break;
        case CHANNEL_SPAWNED:
                if (msg.slot < 0 || (unsigned)msg.slot >= p->n_slots || !p->slots[msg.slot].taken || msg.pid <= 0)
                        break;
                p->slots[msg.slot].pid = msg.pid;
                log_debug("[pool %s] child %d started", pool_name(p), msg.pid);
                if (p->spawn_failing)
                        log_notice("[pool %s] workers start again.", pool_name(p));
                p->spawn_failing = false;
                if (!p->served)
                        p->owner->settle(p->owner->userdata);
                break;
        case CHANNEL_SPAWN_FAILED:
                if (msg.slot < 0 || (unsigned)msg.slot >= p->n_slots || !p->slots[msg.slot].taken ||
                        p->slots[msg.slot].pid != 0)
                        break;
                p->slots[msg.slot] = (SlotInfo){};
                /* As a worker that could not start: the next tick tries again, one at a time. Said once until a
                 * worker starts again, not once a second. */
                p->quick_failures = MAX(p->quick_failures + 1, 4u);
                if (!p->spawn_failing)
                        log_pool_event(p, LOG_ERR, NULL, 0,
                                "[pool %s] could not start a worker: fork() failed: %s%s; trying again once a second.",
                                pool_name(p), strerror(msg.status < 0 ? -msg.status : EIO),
                                msg.status == -EAGAIN ? " (a process limit: cgroup pids_max, TasksMax= or "
                                                        "RLIMIT_NPROC of the pool's user?)"
                                                      : "");
                p->spawn_failing = true;
                pool_check_served(p);
                pool_make_room(p, msg.status);
                break;
        case CHANNEL_EXITED:
                pool_worker_exited(p, msg.slot, msg.pid, msg.status);
                break;
        case CHANNEL_PONG:
                p->pong_received = msg.slot;
                break;
        case CHANNEL_STOPPING:
                p->stop_acked = true;
                p->owner->changed(p->owner->userdata);
                break;
        default:
                log_warning("[pool %s] unexpected message %d from the leader, ignoring.", pool_name(p), msg.type);
        }
        return 0;
}

/* A sealed memfd with the pool's settings as libconfig text, for the leader to read */
static int pool_config_fd(const Pool *p)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        size_t len;
        int r;

        r = config_format_pool(p->config_owner, p->config, &text);
        if (r < 0)
                return r;
        len = strlen(text);
        fd = memfd_create("fpmd-pool-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t)len)
                return -EIO;
        (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        return TAKE_FD(fd);
}

/* In the child between fork and exec: the leader's fds at their fixed numbers, nothing else open, the
 * supervisor's signal mask and systemd's variables gone. Async-signal-safe calls only. */
_noreturn_ static void exec_leader(const Pool *p, const int fds[LEADER_N_FDS], const char *parent)
{
        int high[LEADER_N_FDS];
        sigset_t none;
        char *argv[] = {(char *)p->owner->leader_path, (char *)"--protocol", (char *)LEADER_PROTOCOL,
                (char *)"--parent", (char *)parent, (char *)"--pool", (char *)pool_name(p), NULL};

        /* Above every target first, so no dup2() below overwrites one still to be moved */
        for (int i = 0; i < LEADER_N_FDS; i++) {
                high[i] = fcntl(fds[i], F_DUPFD, 100);
                if (high[i] < 0)
                        _exit(127);
        }
        for (int i = 0; i < LEADER_N_FDS; i++)
                if (dup2(high[i], LEADER_FD_CTL + i) < 0)
                        _exit(127);
        (void)close_range(_LEADER_FD_END, ~0U, 0);

        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        if (p->owner->nofile_soft > 0) {
                struct rlimit rl;

                if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur > p->owner->nofile_soft) {
                        rl.rlim_cur = p->owner->nofile_soft;
                        (void)setrlimit(RLIMIT_NOFILE, &rl);
                }
        }
        (void)unsetenv("NOTIFY_SOCKET");
        (void)unsetenv("WATCHDOG_USEC");
        (void)unsetenv("WATCHDOG_PID");
        execv(p->owner->leader_path, argv);
        _exit(127);
}

int pool_start(Pool *p)
{
        _cleanup_close_ int cgroup_fd = -1, config_fd = -1;
        int fds[LEADER_N_FDS];
        char parent[32];
        int pair[2], r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return log_error_errno(errno, "[pool %s] failed to create the leader's channel: %m", pool_name(p));

        /* A fresh scoreboard: workers of a previous leader may still be finishing in the old one */
        r = pool_new_scoreboard(p);
        if (r >= 0) {
                config_fd = pool_config_fd(p);
                if (config_fd < 0)
                        r = log_error_errno(
                                config_fd, "[pool %s] failed to write the leader's settings: %m", pool_name(p));
        }
        if (r < 0) {
                safe_close(pair[0]);
                safe_close(pair[1]);
                return r;
        }
        memset(p->slots, 0, sizeof(SlotInfo) * p->n_slots);

        /* A leaf per leader: a new generation's can be killed without touching the old one's, and back */
        cgroup_retire(p->owner->cgroups, TAKE_PTR(p->cgroup));
        if (cgroup_enabled(p->owner->cgroups))
                (void)cgroup_pool_create(p->owner->cgroups, pool_name(p), &p->config->cgroup, &p->cgroup, &cgroup_fd);

        fds[0] = pair[1];
        fds[1] = p->listen_fd;
        fds[2] = p->scoreboard_fd;
        fds[3] = config_fd;
        fds[4] = p->handover[0];
        fds[5] = p->handover[1];
        pid = p->owner->spawn_leader ? p->owner->spawn_leader(p, fds, cgroup_fd, p->owner->userdata) : -ENOTCONN;
        if (pid <= 0) {
                snprintf(parent, sizeof(parent), "%d", (int)getpid());
                pid = cgroup_fork_into(cgroup_fd);
                if (pid < 0) {
                        r = log_error_errno(errno, "[pool %s] failed to fork the leader: %m", pool_name(p));
                        safe_close(pair[0]);
                        safe_close(pair[1]);
                        return r;
                }
                if (pid == 0)
                        exec_leader(p, fds, parent);
        }

        safe_close(pair[1]);
        p->ctl_fd = pair[0];
        p->leader = pid;
        /* Our child, not reaped yet: the pidfd is that process's for as long as we keep it */
        p->leader_pidfd = pidfd_open(pid, 0);
        p->state = POOL_STARTING;
        p->served = false;
        pm_state_init(&p->pm);
        r = sd_event_add_io(p->owner->event, &p->ctl_source, p->ctl_fd, EPOLLIN, on_ctl, p);
        if (r < 0)
                return log_error_errno(r, "[pool %s] failed to watch the leader: %m", pool_name(p));
        log_debug("[pool %s] leader %d started.", pool_name(p), (int)pid);
        return 0;
}

void pool_kill(Pool *p)
{
        /* cgroup.kill reaches a worker that left the process group too (posix_setsid()) */
        if (p->cgroup)
                (void)cgroup_kill_and_remove(p->cgroup);
        /* Not reaped yet, so the group is still our child's */
        if (p->leader > 0)
                (void)kill(-p->leader, SIGKILL);
}

void pool_stop(Pool *p, bool wait)
{
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->handover_source = sd_event_source_disable_unref(p->handover_source);
        p->state = POOL_STOPPING;
        if (p->leader <= 0)
                return;
        if (!wait)
                pool_kill(p);
        else if (p->ctl_fd < 0 || channel_send(p->ctl_fd, CHANNEL_STOP, -1, 0, 0) < 0)
                (void)kill(-p->leader, SIGTERM);
}

static int on_leader_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
        Pool *p = userdata;

        (void)s;
        (void)usec;
        p->restart_timer = sd_event_source_unref(p->restart_timer);
        if (!pool_stopping(p))
                (void)pool_start(p);
        return 0;
}

void pool_leader_exited(Pool *p, int status)
{
        usec_t delay;

        p->leader = 0;
        pool_close_leader(p);
        cgroup_retire(p->owner->cgroups, TAKE_PTR(p->cgroup));

        if (pool_stopping(p) || p->state == POOL_STOPPING) {
                log_info("[pool %s] stopped.", pool_name(p));
                p->owner->gone(p, p->owner->userdata);
                return;
        }

        /* Its leader went for want of work: the pool rests, or starts again at once for a connection that came
         * meanwhile */
        if (p->state == POOL_DOZING) {
                log_debug("[pool %s] leader %s, at rest.", pool_name(p),
                        WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "stopped" : "ended");
                (void)pool_rest(p);
                return;
        }

        /* A new generation that cannot start: the previous one keeps serving */
        if (p->replaces && !p->served) {
                log_error(
                        "[pool %s] the new generation failed to start; the previous one keeps serving.", pool_name(p));
                p->owner->gone(p, p->owner->userdata);
                return;
        }

        p->leader_failures++;
        delay = MIN(USEC_PER_SEC << MIN(p->leader_failures - 1, 5u), LEADER_RESTART_MAX_DELAY_USEC);
        log_error("[pool %s] leader exited unexpectedly (%s %d); the pool is failed, restarting it in %llu s.",
                pool_name(p), WIFSIGNALED(status) ? "signal" : "code",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                (unsigned long long)(delay / USEC_PER_SEC));
        p->state = POOL_FAILED;
        (void)sd_event_add_time_relative(
                p->owner->event, &p->restart_timer, CLOCK_MONOTONIC, delay, 0, on_leader_restart, p);
        p->owner->changed(p->owner->userdata);
}

/* ---- what the supervisor shows ---- */

int pool_status_line(const Pool *p, char *buf, size_t size)
{
        ScoreboardCounts c;

        pool_counts(p, &c);
        return snprintf(buf, size, "%s: %u active, %u idle, %llu req, %llu slow%s", pool_name(p), c.active, c.idle,
                (unsigned long long)c.requests, p->scoreboard ? (unsigned long long)p->scoreboard->slow_requests : 0ULL,
                p->state == POOL_FAILED                               ? " (failed)"
                : p->state == POOL_RESTING || p->state == POOL_DOZING ? " (at rest)"
                : p->boot_failed && p->config->worker_script          ? " (worker.script failing)"
                : p->boot_failed || p->quick_failures > 3             ? " (workers failing)"
                : p->memory_held                                      ? " (memory full)"
                                                                      : "");
}

/* Wedged: every worker was told to be killed for request_terminate_timeout, and none has exited since: nothing
 * of the pool serves. From our own records, so no worker can fake it. */
static bool pool_wedged(const Pool *p)
{
        usec_t now = now_usec(CLOCK_MONOTONIC), slack = 2 * TICK_MAX_USEC + p->owner->watchdog_usec;
        unsigned wedged = 0, total = 0;

        if (p->config->request_terminate_timeout == 0 || p->state != POOL_RUNNING)
                return false;
        for (unsigned i = 0; i < p->n_slots; i++) {
                if (!p->slots[i].taken)
                        continue;
                total++;
                if (p->slots[i].kill_sent > 0 && now - p->slots[i].kill_sent > slack)
                        wedged++;
        }
        return total > 0 && wedged == total;
}

const char *pool_unhealthy(const Pool *p)
{
        if (p->state != POOL_RUNNING || p->ctl_fd < 0)
                return NULL;
        if (p->ping_sent != 0 && p->pong_received != p->ping_sent)
                return "its leader does not answer";
        if (pool_wedged(p))
                return "all its workers are stuck past request_terminate_timeout";
        return NULL;
}

void pool_heartbeat(Pool *p, int32_t n)
{
        if (p->state != POOL_RUNNING || p->ctl_fd < 0)
                return;
        if (p->ping_sent == 0 || p->pong_received == p->ping_sent) {
                p->ping_sent = n;
                (void)channel_send(p->ctl_fd, CHANNEL_PING, n, 0, 0);
        }
}
