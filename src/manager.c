/* manager.c: the supervisor: configuration, sockets, one leader per pool, worker counts, systemd */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "fpmd-config.h"
#include "isolation.h"
#include "listen.h"
#include "log.h"
#include "manager.h"
#include "messages.h"
#include "pool.h"
#include "scoreboard.h"

#define RESPAWN_DELAY_USEC            (1 * USEC_PER_SEC)
#define LEADER_RESTART_MAX_DELAY_USEC (30 * USEC_PER_SEC)
#define TICK_MAX_USEC                 (1 * USEC_PER_SEC)
#define TICK_MIN_USEC                 (100 * USEC_PER_MSEC)

typedef enum PoolState {
        POOL_STARTING, /* leader forked, PHP starting */
        POOL_RUNNING,  /* PHP up, workers managed */
        POOL_STOPPING, /* told to stop, workers finishing */
        POOL_FAILED,   /* leader died or PHP failed; restarted with a backoff */
        _POOL_STATE_MAX,
        _POOL_STATE_INVALID = -EINVAL,
} PoolState;

typedef struct Pool Pool;

/* Supervisor's own bookkeeping of a worker slot, beside the shared scoreboard */
typedef struct SlotInfo {
        usec_t stop_sent;       /* CLOCK_MONOTONIC when we asked it to stop, 0 if not */
        bool killed_by_timeout; /* its death is not a fault */
        usec_t slow_logged;     /* request_mono_usec of the request already logged as slow */
        bool trace_pending;     /* its backtrace was asked for (slowlog) */
        uint32_t trace_seq;     /* trace_seq of the slot before asking */
        usec_t trace_asked;
        usec_t trace_duration;
} SlotInfo;

struct Pool {
        Manager *manager;
        Config *owner; /* holds config; one reference */
        const PoolConfig *config;
        uint64_t php_fingerprint;

        int listen_fd;
        bool listen_from_systemd;
        AllowedClients allowed;
        Isolation isolation;
        Scoreboard *scoreboard;
        int scoreboard_fd;
        SlotInfo *slots;
        PoolState state;

        pid_t leader;
        int ctl_fd;
        char *cgroup; /* the leaf of the running leader's generation, NULL without pool cgroups */
        sd_event_source *ctl_source;
        sd_event_source *restart_timer;
        sd_event_source *listen_source; /* ondemand: a connection is waiting */

        int32_t ping_sent; /* heartbeat number last sent to the leader, and last answered */
        int32_t pong_received;
        Pool *replaces; /* the previous generation, stopped once this one serves */
        bool served;    /* has had its first workers up */
        unsigned spawn_rate;
        bool max_children_logged;
        unsigned quick_failures;
        unsigned leader_failures;
        usec_t *faults; /* ring of the times of the last emergency_restart_threshold faults */
        size_t n_faults, fault_next;
};

struct Manager {
        sd_event *event;
        Config *config;
        char *config_path;
        Pool **pools; /* the current generation */
        size_t n_pools;
        Pool **old; /* previous generations, finishing their requests */
        size_t n_old;
        ListenFds systemd_fds;
        Cgroups cgroups;
        unsigned generation;
        struct LeftoverCgroup {
                char *path;
                usec_t since;
        } * leftovers; /* leaves of leaders gone, removed once their last worker is */
        size_t n_leftovers;
        bool stopping;
        bool ready_sent;
        bool reloading;
        char *reload_error; /* why the last reload failed: in STATUS= until one succeeds */
        char *last_status;
        sd_event_source *stop_timer;
        sd_event_source *tick_timer;
        sd_event_source *watchdog_timer;
        sd_event_source *settle_timer; /* re-checks soon while a pool waits for its first workers */
        usec_t watchdog_usec;
        int32_t heartbeat;
        bool watchdog_unhealthy_logged;
};

static void manager_update_status(Manager *m, bool force);
static int pool_start_leader(Pool *p);
static void pool_stop(Pool *p, bool wait);
static void pool_kill(Pool *p);

/* ---- configuration references ---- */

static Config *config_ref(Config *c)
{
        c->n_ref++;
        return c;
}

static Config *config_unref(Config *c)
{
        if (c && --c->n_ref == 0)
                config_free(c);
        return NULL;
}

/* The php.ini and the ini files of the folder PHP scans: a pool whose PHP setup changed is restarted on reload
 * even when its own settings did not */
static uint64_t php_fingerprint(const Config *c, const PoolConfig *p)
{
        const char *ini = p->php_ini ? p->php_ini : c->php_ini;
        _cleanup_free_ char *dir = NULL;
        uint64_t h = 1469598103934665603ULL;
        struct dirent **names = NULL;
        struct stat st;
        int n;

#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ULL)
        if (!ini)
                return h;
        for (const char *s = ini; *s; s++)
                MIX((unsigned char)*s);
        if (stat(ini, &st) == 0) {
                MIX(st.st_mtim.tv_sec);
                MIX(st.st_mtim.tv_nsec);
                MIX(st.st_size);
        }
        const char *slash = strrchr(ini, '/');
        if (!slash || asprintf(&dir, "%.*s/conf.d", (int)(slash - ini), ini) < 0)
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

/* ---- pools ---- */

static unsigned pool_initial_workers(const PoolConfig *c)
{
        switch (c->pm.mode) {
        case PM_STATIC:
                return c->pm.max_children;
        case PM_DYNAMIC:
                return MIN(c->pm.start_servers, c->pm.max_children);
        default:
                return 0;
        }
}

/* A leaf whose leader is gone: removed when empty; what still runs after process_control_timeout is killed */
static void manager_retire_cgroup(Manager *m, char *path)
{
        struct LeftoverCgroup *l;

        if (!path)
                return;
        if (rmdir(path) == 0 || errno == ENOENT) {
                free(path);
                return;
        }
        l = realloc(m->leftovers, (m->n_leftovers + 1) * sizeof(*l));
        if (!l) {
                free(path);
                return;
        }
        m->leftovers = l;
        m->leftovers[m->n_leftovers++] = (struct LeftoverCgroup){path, now_usec(CLOCK_MONOTONIC)};
}

static bool manager_pool_name_in_use(const Manager *m, const char *name)
{
        for (size_t i = 0; i < m->n_pools; i++)
                if (streq(m->pools[i]->config->name, name))
                        return true;
        for (size_t i = 0; i < m->n_old; i++)
                if (streq(m->old[i]->config->name, name))
                        return true;
        return false;
}

static void manager_sweep_cgroups(Manager *m, bool force)
{
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < m->n_leftovers;) {
                struct LeftoverCgroup *l = &m->leftovers[i];
                bool kill_now = force || now - l->since > MAX(m->config->process_control_timeout, USEC_PER_SEC);
                int r = kill_now ? cgroup_kill_and_remove(l->path)
                                 : (rmdir(l->path) < 0 && errno != ENOENT ? -errno : 0);

                if (r < 0) {
                        i++;
                        continue;
                }
                /* the pool folder goes with its last generation, unless the pool is still configured */
                {
                        char *slash = strrchr(l->path, '/');
                        const char *name = NULL;

                        if (slash) {
                                *slash = 0;
                                name = strrchr(l->path, '/');
                                if (name && strneq(name + 1, "pool-", 5) && !manager_pool_name_in_use(m, name + 6))
                                        (void)rmdir(l->path);
                        }
                }
                free(l->path);
                memmove(l, l + 1, (m->n_leftovers - i - 1) * sizeof(*l));
                m->n_leftovers--;
        }
}

/* After cgroup.kill the processes still take time to exit (a large heap to free): wait until the leaves are
 * empty and removed, reaping what exits meanwhile (we are the subreaper), for at most `timeout` */
static void manager_wait_cgroups(Manager *m, usec_t timeout)
{
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        while (m->n_leftovers > 0 && now_usec(CLOCK_MONOTONIC) < end) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                (void)poll(NULL, 0, 10);
                manager_sweep_cgroups(m, true);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static Pool *pool_free(Pool *p)
{
        if (!p)
                return NULL;
        manager_retire_cgroup(p->manager, TAKE_PTR(p->cgroup));
        p->ctl_source = sd_event_source_disable_unref(p->ctl_source);
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        safe_close(p->ctl_fd);
        safe_close(p->listen_fd);
        allowed_clients_done(&p->allowed);
        isolation_done(&p->isolation);
        scoreboard_free(p->scoreboard);
        safe_close(p->scoreboard_fd);
        free(p->slots);
        free(p->faults);
        config_unref(p->owner);
        return mfree(p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Pool *, pool_free);

/* The socket is kept across generations when the address is the same; a new backlog applies at once */
static bool listen_same(const PoolConfig *a, const PoolConfig *b)
{
        if (!a->listen.address || !b->listen.address)
                return !a->listen.address && !b->listen.address;
        return streq(a->listen.address, b->listen.address);
}

/* A pool object of a configuration; its socket is the previous generation's when the address is the same (so no
 * connection is refused while both run), else systemd's by name, else bound anew. */
static int pool_new(Manager *m, Config *owner, const PoolConfig *c, const Pool *previous, Pool **ret)
{
        _cleanup_(pool_freep) Pool *p = NULL;
        int fd, r;
        bool stored = false;

        p = calloc(1, sizeof(Pool));
        if (!p)
                return log_oom();
        *p = (Pool){
                .manager = m,
                .owner = config_ref(owner),
                .config = c,
                .listen_fd = -1,
                .ctl_fd = -1,
                .scoreboard_fd = -1,
                .spawn_rate = 1,
        };
        p->php_fingerprint = php_fingerprint(owner, c);
        p->slots = calloc(c->pm.max_children, sizeof(SlotInfo));
        if (!p->slots)
                return log_oom();
        if (owner->emergency_restart_threshold > 0) {
                p->faults = calloc(owner->emergency_restart_threshold, sizeof(usec_t));
                if (!p->faults)
                        return log_oom();
        }

        if (previous && (previous->listen_from_systemd || listen_same(previous->config, c))) {
                p->listen_fd = fcntl(previous->listen_fd, F_DUPFD_CLOEXEC, 3);
                if (p->listen_fd < 0)
                        return log_error_errno(errno, "[pool %s] failed to keep the socket: %m", c->name);
                p->listen_from_systemd = previous->listen_from_systemd;
                if (!p->listen_from_systemd && c->listen.backlog != previous->config->listen.backlog)
                        (void)listen(p->listen_fd, c->listen.backlog > 0 ? c->listen.backlog : 511);
        } else if ((fd = listen_fds_take(&m->systemd_fds, c->name)) >= 0) {
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
                stored = true;
        } else
                return log_error_errno(EINVAL,
                        "[pool %s] has no socket: systemd passed none named \"%s\" and listen.address is not set.",
                        c->name, c->name);

        /* Workers wait for it in epoll and accept without blocking: another one may have taken the connection */
        r = fcntl(p->listen_fd, F_GETFL);
        if (r < 0 || fcntl(p->listen_fd, F_SETFL, r | O_NONBLOCK) < 0)
                return log_error_errno(errno, "[pool %s] failed to make the socket non-blocking: %m", c->name);

        r = allowed_clients_parse(&c->listen.allowed_clients, &p->allowed);
        if (r < 0)
                return r;

        /* A socket we bound goes to systemd's fd store under the pool's name: after a crash or a watchdog
         * restart it comes back in LISTEN_FDS, with the connections that queued meanwhile */
        if (stored) {
                _cleanup_free_ char *state = NULL;

                if (previous && previous->listen_fd >= 0)
                        (void)sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", c->name);
                if (asprintf(&state, "FDSTORE=1\nFDNAME=%s", c->name) >= 0)
                        (void)sd_pid_notify_with_fds(0, false, state, &p->listen_fd, 1);
        }

        r = isolation_plan(c, &p->isolation);
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

static const char *pool_name(const Pool *p)
{
        return p->config->name;
}

static void pool_counts(const Pool *p, ScoreboardCounts *c)
{
        if (p->scoreboard)
                scoreboard_count(p->scoreboard, c);
        else
                *c = (ScoreboardCounts){};
}

/* Serving: its first workers are in their loop, accepting (a forked worker may still fail its chroot) */
static bool pool_serving(const Pool *p)
{
        ScoreboardCounts c;

        if (p->state != POOL_RUNNING)
                return false;
        pool_counts(p, &c);
        return c.started >= pool_initial_workers(p->config);
}

static void manager_check_ready(Manager *m)
{
        if (m->stopping)
                return;
        for (size_t i = 0; i < m->n_pools; i++)
                if (!pool_serving(m->pools[i]))
                        return;
        if (m->ready_sent && !m->reloading)
                return;

        manager_update_status(m, true);
        (void)sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(m->last_status));
        if (m->reloading)
                log_notice("Reloaded: %zu pool%s serving.", m->n_pools, m->n_pools == 1 ? "" : "s");
        else
                log_notice("fpmd %s ready: %zu pool%s serving.", FPMD_VERSION, m->n_pools, m->n_pools == 1 ? "" : "s");
        m->ready_sent = true;
        m->reloading = false;
}

/* A new generation serves: the one it replaces may finish its requests and go */
static void pool_check_served(Pool *p);

static bool manager_settled(const Manager *m)
{
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i]->state == POOL_RUNNING && !m->pools[i]->served)
                        return false;
        return m->ready_sent && !m->reloading;
}

static int on_settle(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        for (size_t i = 0; i < m->n_pools; i++)
                pool_check_served(m->pools[i]);
        manager_check_ready(m);
        if (!manager_settled(m) && !m->stopping)
                (void)sd_event_source_set_time(s, usec + 10 * USEC_PER_MSEC);
        else
                (void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* Workers report nothing when they reach their loop: look again in 10 ms, until every pool serves */
static void manager_schedule_settle(Manager *m)
{
        if (!m->settle_timer) {
                if (sd_event_add_time_relative(
                            m->event, &m->settle_timer, CLOCK_MONOTONIC, 10 * USEC_PER_MSEC, 0, on_settle, m) < 0)
                        return;
        } else
                (void)sd_event_source_set_time_relative(m->settle_timer, 10 * USEC_PER_MSEC);
        (void)sd_event_source_set_enabled(m->settle_timer, SD_EVENT_ON);
}

static void pool_check_served(Pool *p)
{
        if (p->served || !pool_serving(p))
                return;
        p->served = true;
        if (p->replaces) {
                log_info("[pool %s] new generation serving, stopping the previous one.", pool_name(p));
                pool_stop(p->replaces, true);
                p->replaces = NULL;
        }
}

static int pool_spawn_one(Pool *p)
{
        Scoreboard *sb = p->scoreboard;
        int slot = scoreboard_find_free(sb);

        if (slot < 0)
                return slot;
        /* Marked here, before the leader forks, so the next pick does not take the same slot */
        sb->slots[slot].state = WORKER_STARTING;
        sb->slots[slot].idle_since_usec = now_usec(CLOCK_MONOTONIC);
        p->slots[slot] = (SlotInfo){};
        if (pool_message_send(p->ctl_fd, POOL_MSG_SPAWN, slot, 0, 0) < 0) {
                sb->slots[slot].state = WORKER_FREE;
                return -EIO;
        }
        return 0;
}

/* An event of the pool in the journal: FPMD_POOL=, and FPMD_WORKER_PID= when a worker is named (pid > 0) */
_printf_(5, 6) static void log_pool_event(const Pool *p, int level, const char *id, pid_t pid, const char *format, ...)
{
        _cleanup_free_ char *message = NULL;
        char f_pool[96], f_pid[48];
        char *fields[] = {f_pool, pid > 0 ? f_pid : NULL, NULL};
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0) {
                log_oom();
                return;
        }
        snprintf(f_pool, sizeof(f_pool), "FPMD_POOL=%s", pool_name(p));
        snprintf(f_pid, sizeof(f_pid), "FPMD_WORKER_PID=%d", (int)pid);
        (void)log_event(level, id, fields, message);
}

/* The fields of a worker's request in the journal; the scoreboard's strings are bounded, so are these */
typedef struct RequestFields {
        char pool[96], pid[48], script[SCOREBOARD_STR_MAX + 24], method[48], uri[SCOREBOARD_STR_MAX + 24], duration[48];
        char *strv[8]; /* the above, then room for one more and the NULL */
} RequestFields;

static void request_fields(RequestFields *f, const Pool *p, const ScoreboardSlot *s, usec_t duration)
{
        snprintf(f->pool, sizeof(f->pool), "FPMD_POOL=%s", pool_name(p));
        snprintf(f->pid, sizeof(f->pid), "FPMD_WORKER_PID=%d", (int)s->pid);
        snprintf(f->script, sizeof(f->script), "SCRIPT_FILENAME=%s", s->script);
        snprintf(f->method, sizeof(f->method), "REQUEST_METHOD=%s", s->method);
        snprintf(f->uri, sizeof(f->uri), "REQUEST_URI=%s", s->uri);
        snprintf(f->duration, sizeof(f->duration), "DURATION_USEC=%llu", (unsigned long long)duration);
        f->strv[0] = f->pool;
        f->strv[1] = f->pid;
        f->strv[2] = f->script;
        f->strv[3] = f->method;
        f->strv[4] = f->uri;
        f->strv[5] = f->duration;
        f->strv[6] = f->strv[7] = NULL;
}

static void pool_reached_max_children(Pool *p)
{
        if (p->max_children_logged)
                return;
        p->max_children_logged = true;
        __atomic_fetch_add(&p->scoreboard->max_children_reached, 1, __ATOMIC_RELAXED);
        log_pool_event(p, LOG_WARNING, FPMD_MESSAGE_MAX_CHILDREN_REACHED, 0,
                "[pool %s] server reached pm.max_children setting (%u), consider raising it", pool_name(p),
                p->config->pm.max_children);
}

static void pool_ask_stop(Pool *p, unsigned slot)
{
        ScoreboardSlot *s = &p->scoreboard->slots[slot];

        if (s->pid > 0 && p->slots[slot].stop_sent == 0) {
                p->slots[slot].stop_sent = now_usec(CLOCK_MONOTONIC);
                (void)kill(s->pid, SIGTERM);
        }
}

/* The idle worker that has been idle longest, not already asked to stop; -1 if none */
static int pool_oldest_idle(const Pool *p, usec_t *ret_since)
{
        const Scoreboard *sb = p->scoreboard;
        usec_t oldest = USEC_INFINITY;
        int found = -1;

        for (unsigned i = 0; i < sb->n_slots; i++)
                if (sb->slots[i].state == WORKER_IDLE && p->slots[i].stop_sent == 0 &&
                        sb->slots[i].idle_since_usec < oldest) {
                        oldest = sb->slots[i].idle_since_usec;
                        found = (int)i;
                }
        if (ret_since)
                *ret_since = oldest;
        return found;
}

static bool listen_queue_waiting(int fd)
{
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

/* PHP-FPM's process manager, once per tick: static keeps max_children; dynamic keeps the idle count between
 * min and max_spare_servers, spawning at a rate that doubles each tick up to max_spawn_rate and reaping one idle
 * worker per tick; ondemand spawns when a connection waits and reaps after process_idle_timeout. */
/* Peaks for the status page: the most workers busy at once, the longest accept queue seen */
static void pool_sample(Pool *p)
{
        Scoreboard *sb = p->scoreboard;
        ScoreboardCounts c;
        unsigned waiting, size;

        if (!sb)
                return;
        pool_counts(p, &c);
        if (c.active > sb->max_active)
                sb->max_active = c.active;
        if (listen_queue(p->listen_fd, &waiting, &size) >= 0 && waiting > sb->max_listen_queue)
                sb->max_listen_queue = waiting;
        {
                uint64_t mem, cpu;

                if (cgroup_pool_stats(&p->manager->cgroups, pool_name(p), &mem, &cpu) >= 0) {
                        sb->cgroup_memory = mem;
                        sb->cgroup_cpu_usec = cpu;
                }
        }
}

/* reap: whether idle workers may be stopped now (once per tick) or only missing ones spawned (after an exit) */
static void pool_maintain(Pool *p, bool reap)
{
        const PmConfig *pm = &p->config->pm;
        ScoreboardCounts c;
        unsigned want = 0;

        if (p->state != POOL_RUNNING || p->manager->stopping)
                return;
        pool_counts(p, &c);
        if (c.total < pm->max_children)
                p->max_children_logged = false;

        switch (pm->mode) {
        case PM_STATIC:
                want = pm->max_children - MIN(c.total, pm->max_children);
                break;

        case PM_DYNAMIC:
                if (c.idle > pm->max_spare_servers) {
                        int slot = reap ? pool_oldest_idle(p, NULL) : -1;
                        if (slot >= 0)
                                pool_ask_stop(p, (unsigned)slot);
                        p->spawn_rate = 1;
                        return;
                }
                if (c.total < pool_initial_workers(p->config))
                        want = pool_initial_workers(p->config) - c.total;
                if (c.idle < pm->min_spare_servers) {
                        if (c.total >= pm->max_children) {
                                pool_reached_max_children(p);
                                return;
                        }
                        want = MAX(want, MIN(p->spawn_rate, pm->min_spare_servers - c.idle));
                        if (p->spawn_rate >= 8)
                                log_notice("[pool %s] seems busy (you may need to increase pm.start_servers, or "
                                           "pm.min/max_spare_servers), spawning %u children, there are %u idle, "
                                           "and %u total children",
                                        pool_name(p), want, c.idle, c.total);
                        p->spawn_rate = MIN(p->spawn_rate * 2, MAX(pm->max_spawn_rate, 1u));
                } else
                        p->spawn_rate = 1;
                break;

        case PM_ONDEMAND: {
                usec_t since, now = now_usec(CLOCK_MONOTONIC);
                int slot = pool_oldest_idle(p, &since);

                if (reap && slot >= 0 && pm->process_idle_timeout > 0 && now - since > pm->process_idle_timeout)
                        pool_ask_stop(p, (unsigned)slot);
                if (c.idle == 0 && listen_queue_waiting(p->listen_fd)) {
                        if (c.total >= pm->max_children)
                                pool_reached_max_children(p);
                        else
                                want = 1;
                }
                break;
        }
        default:
                return;
        }

        want = MIN(want, pm->max_children - MIN(c.total, pm->max_children));
        /* Workers that die right after their start: one new one per tick, not a fork loop */
        if (p->quick_failures > 3)
                want = MIN(want, 1u);
        for (unsigned i = 0; i < want; i++)
                if (pool_spawn_one(p) < 0)
                        break;
}

/* ondemand: the listening socket became readable, i.e. a connection waits */
static int on_listen_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Pool *p = userdata;
        ScoreboardCounts c;

        (void)s;
        (void)fd;
        (void)revents;
        if (p->state != POOL_RUNNING || p->manager->stopping)
                return 0;
        pool_counts(p, &c);
        if (c.idle > 0)
                return 0;
        if (c.total >= p->config->pm.max_children) {
                pool_reached_max_children(p);
                return 0;
        }
        (void)pool_spawn_one(p);
        return 0;
}

/* PHP-FPM's line about a worker's request ("... executing too slow (1.000123 sec), logging"), with the request's
 * fields for the journal; values may hold newlines, so the fields go as separate strings */
static void log_slot_request(
        const Pool *p, const ScoreboardSlot *s, usec_t d, const char *message_id, const char *what, const char *then)
{
        _cleanup_free_ char *message = NULL;
        RequestFields f;

        if (asprintf(&message, "[pool %s] child %d, script '%s' (request: \"%s %s%s%s\") %s (%.6f sec), %s",
                    pool_name(p), (int)s->pid, s->script, s->method, s->uri, s->query[0] ? "?" : "", s->query, what,
                    (double)d / 1e6, then) < 0) {
                log_oom();
                return;
        }
        request_fields(&f, p, s, d);
        (void)log_event(LOG_WARNING, message_id, f.strv, message);
}

/* request_terminate_timeout and request_slowlog_timeout, from the scoreboard */
static void pool_check_requests(Pool *p)
{
        const PoolConfig *c = p->config;
        Scoreboard *sb = p->scoreboard;
        usec_t now;

        if (!sb || (c->request_terminate_timeout == 0 && c->request_slowlog_timeout == 0))
                return;
        now = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < sb->n_slots; i++) {
                ScoreboardSlot *s = &sb->slots[i];
                usec_t start = s->request_mono_usec, d;

                if (s->state != WORKER_RUNNING || start == 0 || s->pid <= 0)
                        continue;
                d = now > start ? now - start : 0;

                if (c->request_slowlog_timeout > 0 && d > c->request_slowlog_timeout &&
                        p->slots[i].slow_logged != start) {
                        p->slots[i].slow_logged = start;
                        __atomic_fetch_add(&sb->slow_requests, 1, __ATOMIC_RELAXED);
                        log_slot_request(p, s, d, NULL, "executing too slow", "logging");
                        /* The worker writes its own backtrace into its slot; collected on the next ticks */
                        if (c->slowlog) {
                                p->slots[i].trace_seq = s->trace_seq;
                                p->slots[i].trace_pending = true;
                                p->slots[i].trace_asked = now;
                                p->slots[i].trace_duration = d;
                                (void)kill(s->pid, SCOREBOARD_TRACE_SIGNAL);
                        }
                }
                if (c->request_terminate_timeout > 0 && d > c->request_terminate_timeout &&
                        !p->slots[i].killed_by_timeout) {
                        p->slots[i].killed_by_timeout = true;
                        log_slot_request(p, s, d, FPMD_MESSAGE_REQUEST_TIMED_OUT, "execution timed out", "terminating");
                        (void)kill(s->pid, SIGKILL);
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
        for (unsigned i = 0; i < sb->n_slots; i++) {
                ScoreboardSlot *s = &sb->slots[i];
                SlotInfo *info = &p->slots[i];
                _cleanup_free_ char *message = NULL, *f_trace = NULL;
                char trace[sizeof(s->trace)];
                RequestFields f;
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

                if (asprintf(&message, "[pool %s] pid %d\nscript_filename = %s\n%s", pool_name(p), (int)s->pid,
                            s->script, trace) < 0 ||
                        asprintf(&f_trace, "PHP_BACKTRACE=%s", trace) < 0) {
                        log_oom();
                        continue;
                }
                request_fields(&f, p, s, info->trace_duration);
                f.strv[6] = f_trace;
                (void)log_event(LOG_NOTICE, FPMD_MESSAGE_SLOW_REQUEST, f.strv, message);
        }
}

/* A new generation of the pool with the same settings: fresh PHP and opcache, the same socket */
static int pool_replace(Pool *old)
{
        Manager *m = old->manager;
        Pool *p = NULL;
        int r;

        r = pool_new(m, old->owner, old->config, old, &p);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i] == old)
                        m->pools[i] = p;
        {
                Pool **o = realloc(m->old, (m->n_old + 1) * sizeof(Pool *));
                if (!o) {
                        pool_free(p);
                        return log_oom();
                }
                m->old = o;
                m->old[m->n_old++] = old;
        }
        p->replaces = old;
        return pool_start_leader(p);
}

static void pool_record_fault(Pool *p)
{
        const Config *c = p->owner;
        usec_t now = now_usec(CLOCK_MONOTONIC), oldest;

        if (c->emergency_restart_threshold == 0 || c->emergency_restart_interval == 0 || !p->faults || p->replaces ||
                p->manager->stopping)
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
                "[pool %s] %u children died by signal within %.0f s, emergency restart of the pool (fresh PHP "
                "and opcache).",
                pool_name(p), c->emergency_restart_threshold, (double)c->emergency_restart_interval / 1e6);
        p->n_faults = 0;
        (void)pool_replace(p);
}

static void pool_worker_exited(Pool *p, int slot, pid_t pid, int status)
{
        SlotInfo info = {};

        if (slot >= 0 && (unsigned)slot < p->config->pm.max_children) {
                info = p->slots[slot];
                p->slots[slot] = (SlotInfo){};
        }

        if (WIFSIGNALED(status) && !info.killed_by_timeout && info.stop_sent == 0) {
                log_pool_event(p, LOG_WARNING, FPMD_MESSAGE_WORKER_CRASHED, pid,
                        "[pool %s] child %d exited on signal %d (%s)%s", pool_name(p), (int)pid, WTERMSIG(status),
                        sigabbrev_np(WTERMSIG(status)) ?: "?", WCOREDUMP(status) ? " - core dumped" : "");
                pool_record_fault(p);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                log_warning("[pool %s] child %d exited with code %d", pool_name(p), (int)pid, WEXITSTATUS(status));
        else
                log_debug("[pool %s] child %d exited", pool_name(p), (int)pid);

        if (p->manager->stopping || p->state != POOL_RUNNING)
                return;

        /* Workers dying right away (bad chroot, a crashing extension) are respawned once per tick, not in a
         * fork loop */
        if ((WIFEXITED(status) && WEXITSTATUS(status) != 0) || (WIFSIGNALED(status) && !info.killed_by_timeout)) {
                if (++p->quick_failures > 3)
                        return;
        } else
                p->quick_failures = 0;
        pool_maintain(p, false);
}

static void pool_close_leader(Pool *p)
{
        p->ctl_source = sd_event_source_disable_unref(p->ctl_source);
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->ctl_fd = safe_close(p->ctl_fd);
}

static void manager_maybe_exit(Manager *m)
{
        if (!m->stopping)
                return;
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i]->leader > 0)
                        return;
        for (size_t i = 0; i < m->n_old; i++)
                if (m->old[i]->leader > 0)
                        return;
        sd_event_exit(m->event, 0);
}

static void manager_forget_old(Manager *m, Pool *p)
{
        for (size_t i = 0; i < m->n_old; i++)
                if (m->old[i] == p) {
                        memmove(m->old + i, m->old + i + 1, (m->n_old - i - 1) * sizeof(Pool *));
                        m->n_old--;
                        break;
                }
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i]->replaces == p)
                        m->pools[i]->replaces = NULL;
        pool_free(p);
}

static bool manager_is_old(const Manager *m, const Pool *p)
{
        for (size_t i = 0; i < m->n_old; i++)
                if (m->old[i] == p)
                        return true;
        return false;
}

static int on_leader_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
        Pool *p = userdata;

        (void)s;
        (void)usec;
        p->restart_timer = sd_event_source_unref(p->restart_timer);
        if (!p->manager->stopping)
                (void)pool_start_leader(p);
        return 0;
}

static void pool_leader_exited(Pool *p, int status)
{
        Manager *m = p->manager;
        usec_t delay;

        p->leader = 0;
        pool_close_leader(p);
        manager_retire_cgroup(m, TAKE_PTR(p->cgroup));

        if (m->stopping || p->state == POOL_STOPPING) {
                log_info("[pool %s] stopped.", pool_name(p));
                if (manager_is_old(m, p))
                        manager_forget_old(m, p);
                manager_maybe_exit(m);
                return;
        }

        /* A new generation that cannot start: the previous one keeps serving */
        if (p->replaces && !p->served) {
                Pool *old = p->replaces;

                log_error(
                        "[pool %s] the new generation failed to start; the previous one keeps serving.", pool_name(p));
                for (size_t i = 0; i < m->n_pools; i++)
                        if (m->pools[i] == p)
                                m->pools[i] = old;
                for (size_t i = 0; i < m->n_old; i++)
                        if (m->old[i] == old) {
                                memmove(m->old + i, m->old + i + 1, (m->n_old - i - 1) * sizeof(Pool *));
                                m->n_old--;
                                break;
                        }
                pool_free(p);
                manager_check_ready(m);
                return;
        }

        p->leader_failures++;
        delay = MIN(USEC_PER_SEC << MIN(p->leader_failures - 1, 5u), LEADER_RESTART_MAX_DELAY_USEC);
        log_error("[pool %s] leader exited unexpectedly (%s %d); the pool is failed, restarting it in %llu s.",
                pool_name(p), WIFSIGNALED(status) ? "signal" : "code",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                (unsigned long long)(delay / USEC_PER_SEC));
        p->state = POOL_FAILED;
        (void)sd_event_add_time_relative(m->event, &p->restart_timer, CLOCK_MONOTONIC, delay, 0, on_leader_restart, p);
        manager_update_status(m, false);
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Pool *p = userdata;
        PoolMessage msg;
        ssize_t n;

        (void)s;
        (void)revents;
        n = recv(fd, &msg, sizeof(msg), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                /* The leader is gone; SIGCHLD tells how */
                p->ctl_source = sd_event_source_disable_unref(p->ctl_source);
                return 0;
        }
        if (n != sizeof(msg))
                return 0;

        switch (msg.type) {
        case POOL_MSG_READY:
                if (p->state == POOL_STOPPING)
                        break;
                p->state = POOL_RUNNING;
                p->leader_failures = 0;
                log_pool_event(p, LOG_INFO, FPMD_MESSAGE_POOL_STARTED, 0, "[pool %s] PHP started in leader %d.",
                        pool_name(p), (int)p->leader);
                if (p->config->pm.mode == PM_ONDEMAND)
                        (void)sd_event_add_io(p->manager->event, &p->listen_source, p->listen_fd, EPOLLIN | EPOLLET,
                                on_listen_ready, p);
                pool_maintain(p, false);
                pool_check_served(p);
                manager_check_ready(p->manager);
                break;
        case POOL_MSG_FAILED:
                log_error("[pool %s] PHP failed to start; see the messages above.", pool_name(p));
                break;
        case POOL_MSG_SPAWNED:
                log_debug("[pool %s] child %d started", pool_name(p), msg.pid);
                if (!p->served || !p->manager->ready_sent || p->manager->reloading)
                        manager_schedule_settle(p->manager);
                break;
        case POOL_MSG_EXITED:
                pool_worker_exited(p, msg.slot, msg.pid, msg.status);
                break;
        case POOL_MSG_PONG:
                p->pong_received = msg.slot;
                break;
        default:
                log_warning("[pool %s] unexpected message %d from the leader, ignoring.", pool_name(p), msg.type);
        }
        return 0;
}

static void pool_close_other_fds(const Manager *m, const Pool *keep)
{
        Pool *const *lists[] = {m->pools, m->old};
        size_t sizes[] = {m->n_pools, m->n_old};

        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (size_t i = 0; i < sizes[l]; i++) {
                        const Pool *o = lists[l][i];
                        if (!o)
                                continue;
                        /* The mapping stays; the memfd is the supervisor's, for `fpmd status` */
                        safe_close(o->scoreboard_fd);
                        if (o == keep)
                                continue;
                        safe_close(o->listen_fd);
                        safe_close(o->ctl_fd);
                }
}

static int pool_start_leader(Pool *p)
{
        Manager *m = p->manager;
        int pair[2];
        pid_t pid;
        int r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return log_error_errno(errno, "[pool %s] failed to create the leader's channel: %m", pool_name(p));

        /* A fresh scoreboard: workers of a previous leader may still be finishing in the old one */
        p->scoreboard = scoreboard_free(p->scoreboard);
        p->scoreboard_fd = safe_close(p->scoreboard_fd);
        r = scoreboard_new(pool_name(p), pm_mode_to_string(p->config->pm.mode), p->config->pm.max_children,
                &p->scoreboard, &p->scoreboard_fd);
        if (r < 0) {
                safe_close(pair[0]);
                safe_close(pair[1]);
                return r;
        }
        memset(p->slots, 0, sizeof(SlotInfo) * p->config->pm.max_children);

        /* A leaf per leader: a new generation's can be killed without touching the old one's, and back */
        _cleanup_close_ int cgroup_fd = -1;
        manager_retire_cgroup(m, TAKE_PTR(p->cgroup));
        if (cgroup_enabled(&m->cgroups))
                (void)cgroup_pool_create(
                        &m->cgroups, pool_name(p), &p->config->cgroup, ++m->generation, &p->cgroup, &cgroup_fd);

        pid = cgroup_fork_into(cgroup_fd);
        if (pid < 0) {
                r = log_error_errno(errno, "[pool %s] failed to fork the leader: %m", pool_name(p));
                safe_close(pair[0]);
                safe_close(pair[1]);
                return r;
        }
        if (pid == 0) {
                PoolLeaderArgs a = {
                        .config = p->owner,
                        .pool = p->config,
                        .listen_fd = p->listen_fd,
                        .ctl_fd = pair[1],
                        .scoreboard = p->scoreboard,
                        .allowed = &p->allowed,
                        .isolation = &p->isolation,
                };

                safe_close(pair[0]);
                /* Nothing of the other pools belongs in this one */
                pool_close_other_fds(m, p);
                _exit(pool_leader_run(&a));
        }

        safe_close(pair[1]);
        p->ctl_fd = pair[0];
        p->leader = pid;
        p->state = POOL_STARTING;
        p->served = false;
        p->max_children_logged = false;
        p->spawn_rate = 1;
        r = sd_event_add_io(m->event, &p->ctl_source, p->ctl_fd, EPOLLIN, on_ctl, p);
        if (r < 0)
                return log_error_errno(r, "[pool %s] failed to watch the leader: %m", pool_name(p));
        log_debug("[pool %s] leader %d forked.", pool_name(p), (int)pid);
        return 0;
}

static void pool_stop(Pool *p, bool wait)
{
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->state = POOL_STOPPING;
        if (p->leader <= 0)
                return;
        if (!wait)
                pool_kill(p);
        else if (p->ctl_fd < 0 || pool_message_send(p->ctl_fd, POOL_MSG_STOP, -1, 0, 0) < 0)
                (void)kill(-p->leader, SIGTERM);
}

static Pool *manager_find_leader(Manager *m, pid_t pid)
{
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i]->leader == pid)
                        return m->pools[i];
        for (size_t i = 0; i < m->n_old; i++)
                if (m->old[i]->leader == pid)
                        return m->old[i];
        return NULL;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        (void)s;
        (void)si;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                Pool *p;

                if (pid <= 0)
                        break;
                /* As subreaper we also collect workers whose leader died before them */
                p = manager_find_leader(m, pid);
                if (p)
                        pool_leader_exited(p, status);
        }
        return 0;
}

static void pool_kill(Pool *p)
{
        /* cgroup.kill reaches a worker that left the process group too (posix_setsid()) */
        if (p->cgroup)
                (void)cgroup_kill_and_remove(p->cgroup);
        if (p->leader > 0)
                (void)kill(-p->leader, SIGKILL);
}

static void manager_kill_all(Manager *m)
{
        for (size_t i = 0; i < m->n_pools; i++)
                pool_kill(m->pools[i]);
        for (size_t i = 0; i < m->n_old; i++)
                pool_kill(m->old[i]);
        manager_sweep_cgroups(m, true);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        (void)s;
        (void)usec;
        log_warning("Requests still running after process_control_timeout, killing the pools.");
        manager_kill_all(m);
        return 0;
}

static void manager_stop(Manager *m, bool wait)
{
        if (m->stopping) {
                if (!wait)
                        manager_kill_all(m);
                return;
        }
        m->stopping = true;
        (void)sd_notify(false, "STOPPING=1\nSTATUS=Stopping: finishing requests in flight");
        log_notice("Stopping%s.", wait ? ": finishing requests in flight" : " now");

        for (size_t i = 0; i < m->n_pools; i++)
                pool_stop(m->pools[i], wait);
        for (size_t i = 0; i < m->n_old; i++)
                pool_stop(m->old[i], wait);
        if (wait && m->config->process_control_timeout > 0)
                (void)sd_event_add_time_relative(m->event, &m->stop_timer, CLOCK_MONOTONIC,
                        m->config->process_control_timeout, 0, on_stop_timeout, m);
        manager_maybe_exit(m);
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        manager_stop(userdata, si->ssi_signo != SIGQUIT);
        return 0;
}

/* ---- reload ---- */

static Pool *manager_find_pool_in(Pool **pools, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(pool_name(pools[i]), name))
                        return pools[i];
        return NULL;
}

static Pool *manager_find_pool(Manager *m, const char *name)
{
        return manager_find_pool_in(m->pools, m->n_pools, name);
}

static bool pool_unchanged(const Pool *p, const Config *c, const PoolConfig *pc)
{
        return pool_config_equal(p->config, pc) && p->php_fingerprint == php_fingerprint(c, pc) &&
               p->state != POOL_FAILED;
}

/* The reason stays in STATUS= (before the pools' line) until a reload succeeds: the configuration on disk is
 * not the one running */
static void manager_reload_failed(Manager *m, const char *why)
{
        free(m->reload_error);
        m->reload_error = strdup(why);
        manager_update_status(m, true);
        (void)sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(m->last_status));
}

/* The new configuration is read aside; when it is bad nothing changes. Pools that changed get a new generation
 * (new leader and workers on the same socket) before the old one is told to finish; the others run untouched. */
static void manager_reload(Manager *m)
{
        _cleanup_free_ char *error = NULL;
        _cleanup_free_ Pool **next = NULL;
        Config *c = NULL;
        size_t n_next = 0;
        int r;

        if (m->stopping)
                return;
        (void)sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading",
                (unsigned long long)now_usec(CLOCK_MONOTONIC));
        log_notice("Reloading %s.", m->config_path);

        r = config_load(m->config_path, DEFAULT_PHP_INI, &c, &error);
        if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", error ? error : strerror(-r));
                manager_reload_failed(m, error ? error : strerror(-r));
                return;
        }
        config_ref(c);

        next = calloc(c->n_pools, sizeof(Pool *));
        if (!next) {
                log_oom();
                goto fail;
        }
        for (size_t i = 0; i < c->n_pools; i++) {
                const PoolConfig *pc = &c->pools[i];
                Pool *old = manager_find_pool(m, pc->name);

                if (old && pool_unchanged(old, c, pc)) {
                        next[n_next++] = old;
                        continue;
                }
                r = pool_new(m, c, pc, old, &next[n_next]);
                if (r < 0) {
                        _cleanup_free_ char *why = NULL;

                        log_error("Reload failed for pool %s, keeping the running configuration.", pc->name);
                        if (asprintf(&why, "pool %s could not start, see the journal", pc->name) >= 0)
                                manager_reload_failed(m, why);
                        goto fail;
                }
                if (old && old->replaces && !old->served) {
                        /* The generation being replaced never served: drop it, keep the one that serves */
                        next[n_next]->replaces = old->replaces;
                        old->replaces = NULL;
                } else
                        next[n_next]->replaces = old;
                n_next++;
        }

        /* Commit: pools no longer configured, or replaced, become old and finish their requests */
        {
                Pool **o = realloc(m->old, (m->n_old + m->n_pools) * sizeof(Pool *));
                if (!o) {
                        log_oom();
                        goto fail;
                }
                m->old = o;
        }
        for (size_t i = 0; i < m->n_pools; i++) {
                Pool *p = m->pools[i];
                bool kept = false, replaced = false;

                for (size_t j = 0; j < n_next; j++) {
                        kept = kept || next[j] == p;
                        replaced = replaced || next[j]->replaces == p;
                }
                if (kept)
                        continue;
                m->old[m->n_old++] = p;
                if (!replaced) {
                        if (p->served)
                                log_info("[pool %s] removed from the configuration, stopping it.", pool_name(p));
                        if (!manager_find_pool_in(next, n_next, pool_name(p)) && !p->listen_from_systemd)
                                (void)sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", pool_name(p));
                        else
                                log_info("[pool %s] superseded before it served, stopping it.", pool_name(p));
                        pool_stop(p, true);
                }
        }
        free(m->pools);
        m->pools = TAKE_PTR(next);
        m->n_pools = n_next;
        config_unref(m->config);
        m->config = c;
        log_set_max_level(c->log_level);

        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i]->leader <= 0 && m->pools[i]->state != POOL_FAILED)
                        (void)pool_start_leader(m->pools[i]);

        m->reload_error = mfree(m->reload_error);
        m->reloading = true;
        manager_check_ready(m);
        return;

fail:
        for (size_t i = 0; next && i < n_next; i++)
                if (!manager_find_pool(m, pool_name(next[i])) || manager_find_pool(m, pool_name(next[i])) != next[i])
                        pool_free(next[i]);
        config_unref(c);
}

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        manager_reload(userdata);
        return 0;
}

/* ---- status and the tick ---- */

static void manager_update_status(Manager *m, bool force)
{
        char buf[2048];
        size_t len = 0;

        buf[0] = 0;
        if (m->reload_error)
                len = (size_t)snprintf(
                        buf, sizeof(buf), "Reload failed, running the previous configuration: %s | ", m->reload_error);
        for (size_t i = 0; i < m->n_pools && len < sizeof(buf); i++) {
                const Pool *p = m->pools[i];
                ScoreboardCounts c;

                pool_counts(p, &c);
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s: %u active, %u idle, %llu req, %llu slow%s",
                        i > 0 ? " | " : "", pool_name(p), c.active, c.idle, (unsigned long long)c.requests,
                        p->scoreboard ? (unsigned long long)p->scoreboard->slow_requests : 0ULL,
                        p->state == POOL_FAILED ? " (failed)"
                        : p->quick_failures > 3 ? " (workers failing)"
                                                : "");
        }
        if (!force && m->last_status && streq(m->last_status, buf))
                return;
        free(m->last_status);
        m->last_status = strdup(buf);
        if (m->ready_sent && !m->reloading && !m->stopping)
                (void)sd_notifyf(false, "STATUS=%s", buf);
}

static usec_t manager_tick_interval(const Manager *m)
{
        usec_t t = TICK_MAX_USEC;

        for (size_t i = 0; i < m->n_pools; i++) {
                const PoolConfig *c = m->pools[i]->config;
                if (c->request_terminate_timeout > 0)
                        t = MIN(t, c->request_terminate_timeout / 10);
                if (c->request_slowlog_timeout > 0)
                        t = MIN(t, c->request_slowlog_timeout / 10);
        }
        return MAX(t, TICK_MIN_USEC);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        for (size_t i = 0; i < m->n_pools; i++) {
                pool_check_requests(m->pools[i]);
                pool_collect_traces(m->pools[i]);
                pool_sample(m->pools[i]);
                pool_maintain(m->pools[i], true);
        }
        for (size_t i = 0; i < m->n_old; i++)
                pool_check_requests(m->old[i]);
        manager_sweep_cgroups(m, false);
        manager_update_status(m, false);
        (void)sd_event_source_set_time(s, usec + manager_tick_interval(m));
        return 0;
}

/* ---- watchdog ---- */

/* Wedged: every worker has been running one request for longer than request_terminate_timeout, which should
 * have killed them; nothing of the pool serves */
static bool pool_wedged(const Pool *p)
{
        const Scoreboard *sb = p->scoreboard;
        usec_t limit = p->config->request_terminate_timeout, now;
        unsigned wedged = 0, total = 0;

        if (!sb || limit == 0 || p->state != POOL_RUNNING)
                return false;
        now = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < sb->n_slots; i++) {
                const ScoreboardSlot *s = &sb->slots[i];

                if (s->state == WORKER_FREE)
                        continue;
                total++;
                if (s->state == WORKER_RUNNING && s->request_mono_usec > 0 &&
                        now - s->request_mono_usec > limit + 2 * TICK_MAX_USEC + p->manager->watchdog_usec)
                        wedged++;
        }
        return total > 0 && wedged == total;
}

/* systemd's watchdog is pinged only when the supervisor's loop runs (this timer fires), every running leader
 * answered the previous heartbeat, and no pool is wedged: a hung fpmd is restarted, with its sockets kept */
static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        const char *why = NULL;
        const Pool *bad = NULL;

        for (size_t i = 0; i < m->n_pools && !why; i++) {
                Pool *p = m->pools[i];

                if (p->state != POOL_RUNNING || p->ctl_fd < 0)
                        continue;
                if (p->ping_sent != 0 && p->pong_received != p->ping_sent) {
                        why = "its leader does not answer";
                        bad = p;
                } else if (pool_wedged(p)) {
                        why = "all its workers are stuck past request_terminate_timeout";
                        bad = p;
                }
        }

        if (!why) {
                (void)sd_notify(false, "WATCHDOG=1");
                m->watchdog_unhealthy_logged = false;
        } else if (!m->watchdog_unhealthy_logged) {
                m->watchdog_unhealthy_logged = true;
                log_error("[pool %s] %s: no longer pinging the watchdog.", pool_name(bad), why);
        }

        m->heartbeat++;
        for (size_t i = 0; i < m->n_pools; i++) {
                Pool *p = m->pools[i];

                if (p->state != POOL_RUNNING || p->ctl_fd < 0)
                        continue;
                if (p->ping_sent == 0 || p->pong_received == p->ping_sent) {
                        p->ping_sent = m->heartbeat;
                        (void)pool_message_send(p->ctl_fd, POOL_MSG_PING, p->ping_sent, 0, 0);
                }
        }
        (void)sd_event_source_set_time(s, usec + m->watchdog_usec / 3);
        return 0;
}

static int manager_setup_watchdog(Manager *m)
{
        uint64_t usec;
        int r;

        if (!m->config->watchdog)
                return 0;
        r = sd_watchdog_enabled(false, &usec);
        if (r <= 0)
                return 0;
        m->watchdog_usec = usec;
        (void)sd_notify(false, "WATCHDOG=1");
        r = sd_event_add_time_relative(m->event, &m->watchdog_timer, CLOCK_MONOTONIC, usec / 3, 0, on_watchdog, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the watchdog: %m");
        log_info("Watchdog every %.1f s: pinged while every pool leader answers.", (double)usec / 1e6);
        return sd_event_source_set_enabled(m->watchdog_timer, SD_EVENT_ON);
}

/* ---- lifetime ---- */

int manager_new(const char *config_path, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return log_oom();

        r = config_load(config_path, DEFAULT_PHP_INI, &m->config, &error);
        if (r < 0) {
                if (error)
                        return log_error_errno(r, "%s", error);
                return log_error_errno(r, "Failed to load %s: %m", config_path);
        }
        config_ref(m->config);
        log_set_max_level(m->config->log_level);

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_pools; i++)
                pool_free(m->pools[i]);
        for (size_t i = 0; i < m->n_old; i++)
                pool_free(m->old[i]);
        m->pools = mfree(m->pools);
        m->old = mfree(m->old);
        m->n_pools = m->n_old = 0;
        /* Whatever is left of the pools' cgroups: nothing survives fpmd, and nothing is left for systemd to kill */
        manager_sweep_cgroups(m, true);
        manager_wait_cgroups(m, 5 * USEC_PER_SEC);
        for (size_t i = 0; i < m->n_leftovers; i++)
                free(m->leftovers[i].path);
        free(m->leftovers);
        cgroup_done(&m->cgroups);
        sd_event_source_disable_unref(m->stop_timer);
        sd_event_source_disable_unref(m->tick_timer);
        sd_event_source_disable_unref(m->watchdog_timer);
        sd_event_source_disable_unref(m->settle_timer);
        sd_event_unref(m->event);
        listen_fds_done(&m->systemd_fds);
        config_unref(m->config);
        free(m->config_path);
        free(m->last_status);
        free(m->reload_error);
        return mfree(m);
}

static int manager_open_pools(Manager *m)
{
        int r;

        r = listen_fds_from_systemd(&m->systemd_fds);
        if (r < 0)
                return log_error_errno(r, "Failed to take the sockets systemd passed: %m");

        m->pools = calloc(m->config->n_pools, sizeof(Pool *));
        if (!m->pools)
                return log_oom();
        for (size_t i = 0; i < m->config->n_pools; i++) {
                r = pool_new(m, m->config, &m->config->pools[i], NULL, &m->pools[i]);
                if (r < 0)
                        return r;
                m->n_pools++;
        }

        for (size_t i = 0; i < m->systemd_fds.n; i++)
                log_error("systemd passed a socket named \"%s\" but no pool has that name, closing it.",
                        strna(m->systemd_fds.names[i]));
        listen_fds_done(&m->systemd_fds);
        return 0;
}

int manager_run(Manager *m)
{
        static const int stop_signals[] = {SIGTERM, SIGINT, SIGQUIT};
        static const int reload_signals[] = {SIGHUP, SIGUSR2};
        sigset_t mask;
        int r;

        /* Before any fork: the supervisor moves into its own leaf cgroup */
        (void)cgroup_setup(&m->cgroups);

        r = manager_open_pools(m);
        if (r < 0)
                return 1;

        /* Workers whose leader died are reparented to us, not to PID 1 */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                sigaddset(&mask, stop_signals[i]);
        for (size_t i = 0; i < ELEMENTSOF(reload_signals); i++)
                sigaddset(&mask, reload_signals[i]);
        sigaddset(&mask, SIGUSR1);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m"), 1;
        r = sd_event_add_signal(m->event, NULL, SIGCHLD, on_sigchld, m);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(stop_signals); i++)
                r = sd_event_add_signal(m->event, NULL, stop_signals[i], on_stop_signal, m);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(reload_signals); i++)
                r = sd_event_add_signal(m->event, NULL, reload_signals[i], on_reload_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGUSR1, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_time_relative(
                        m->event, &m->tick_timer, CLOCK_MONOTONIC, manager_tick_interval(m), 0, on_tick, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->tick_timer, SD_EVENT_ON);
        if (r >= 0)
                r = manager_setup_watchdog(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m"), 1;

        for (size_t i = 0; i < m->n_pools; i++) {
                r = pool_start_leader(m->pools[i]);
                if (r < 0) {
                        manager_stop(m, false);
                        break;
                }
        }

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), 1;
        log_notice("Stopped.");
        return 0;
}
