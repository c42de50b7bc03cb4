/* manager.c: the supervisor: configuration, sockets, one leader per pool, worker counts, systemd */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "fpmd-config.h"
#include "listen.h"
#include "log.h"
#include "manager.h"
#include "pool.h"
#include "scoreboard.h"

/* A worker that dies sooner than this after its start counts as failing to start */
#define WORKER_QUICK_DEATH_USEC (1 * USEC_PER_SEC)
#define RESPAWN_DELAY_USEC      (1 * USEC_PER_SEC)
#define LEADER_RESTART_MAX_DELAY_USEC (30 * USEC_PER_SEC)

typedef enum PoolState {
        POOL_STARTING,
        POOL_RUNNING,
        POOL_STOPPING,
        POOL_STOPPED,
        POOL_FAILED,
        _POOL_STATE_MAX,
        _POOL_STATE_INVALID = -EINVAL,
} PoolState;

typedef struct Pool {
        Manager *manager;
        const PoolConfig *config;
        int listen_fd;
        AllowedClients allowed;
        Isolation isolation;
        Scoreboard *scoreboard;
        PoolState state;

        pid_t leader;
        int ctl_fd;
        sd_event_source *ctl_source;
        sd_event_source *respawn_timer;
        sd_event_source *restart_timer;
        unsigned quick_deaths;
        unsigned leader_failures;
        bool max_children_logged;
} Pool;

struct Manager {
        sd_event *event;
        Config *config;
        char *config_path;
        Pool *pools;
        size_t n_pools;
        ListenFds systemd_fds;
        bool stopping;
        bool ready_sent;
        char *last_status;
        sd_event_source *stop_timer;
        sd_event_source *status_timer;
};

static void pool_start_workers(Pool *p);
static int pool_start_leader(Pool *p);

static unsigned pool_initial_workers(const PoolConfig *c)
{
        switch (c->pm.mode) {
        case PM_STATIC:
                return c->pm.max_children;
        case PM_DYNAMIC:
                return MIN(c->pm.start_servers, c->pm.max_children);
        default:
                return MIN(1u, c->pm.max_children);
        }
}

static void manager_update_status(Manager *m);

static bool manager_all_ready(const Manager *m)
{
        for (size_t i = 0; i < m->n_pools; i++) {
                const Pool *p = &m->pools[i];
                ScoreboardCounts c;

                if (p->state != POOL_RUNNING)
                        return false;
                scoreboard_count(p->scoreboard, &c);
                if (c.total < pool_initial_workers(p->config))
                        return false;
        }
        return true;
}

static void manager_check_ready(Manager *m)
{
        if (m->ready_sent || m->stopping || !manager_all_ready(m))
                return;
        m->ready_sent = true;
        manager_update_status(m);
        (void)sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(m->last_status));
        log_notice("fpmd %s ready: %zu pool%s serving.", FPMD_VERSION, m->n_pools, m->n_pools == 1 ? "" : "s");
}

static void pool_spawn(Pool *p, unsigned n)
{
        for (unsigned i = 0; i < n; i++) {
                int slot = scoreboard_find_free(p->scoreboard);

                if (slot < 0) {
                        if (!p->max_children_logged) {
                                log_warning("[pool %s] server reached pm.max_children setting (%u), consider "
                                            "raising it",
                                        p->config->name, p->config->pm.max_children);
                                p->max_children_logged = true;
                                p->scoreboard->max_children_reached++;
                        }
                        return;
                }
                /* Marked here, before the leader forks, so the next pick does not take the same slot */
                p->scoreboard->slots[slot].state = WORKER_STARTING;
                p->scoreboard->slots[slot].started_usec = now_usec(CLOCK_MONOTONIC);
                if (pool_message_send(p->ctl_fd, POOL_MSG_SPAWN, slot, 0, 0) < 0) {
                        p->scoreboard->slots[slot].state = WORKER_FREE;
                        return;
                }
        }
}

/* How many workers the pool lacks now, by its pm mode */
static unsigned pool_missing_workers(Pool *p)
{
        const PmConfig *pm = &p->config->pm;
        ScoreboardCounts c;

        scoreboard_count(p->scoreboard, &c);
        switch (pm->mode) {
        case PM_STATIC:
                return c.total < pm->max_children ? pm->max_children - c.total : 0;
        case PM_DYNAMIC:
        case PM_ONDEMAND: {
                unsigned want = pm->mode == PM_DYNAMIC ? pm->min_spare_servers : 1;
                unsigned missing = 0;

                if (c.total < pool_initial_workers(p->config))
                        missing = pool_initial_workers(p->config) - c.total;
                if (c.idle < want)
                        missing = MAX(missing, want - c.idle);
                if (c.total + missing > pm->max_children)
                        missing = pm->max_children > c.total ? pm->max_children - c.total : 0;
                return MIN(missing, MAX(1u, pm->max_spawn_rate));
        }
        default:
                return 0;
        }
}

static void pool_start_workers(Pool *p)
{
        if (p->state != POOL_RUNNING || p->manager->stopping)
                return;
        pool_spawn(p, pool_missing_workers(p));
}

static int on_respawn_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Pool *p = userdata;

        (void)s;
        (void)usec;
        p->respawn_timer = sd_event_source_unref(p->respawn_timer);
        pool_start_workers(p);
        return 0;
}

static void pool_schedule_respawn(Pool *p, usec_t delay)
{
        if (p->respawn_timer)
                return;
        (void)sd_event_add_time_relative(p->manager->event, &p->respawn_timer, CLOCK_MONOTONIC, delay, 0,
                on_respawn_timer, p);
}

static void pool_worker_exited(Pool *p, int slot, pid_t pid, int status)
{
        usec_t started = 0, lived;

        if (slot >= 0 && (unsigned)slot < p->scoreboard->n_slots)
                started = p->scoreboard->slots[slot].started_usec;

        if (WIFSIGNALED(status)) {
                log_warning("[pool %s] child %d exited on signal %d (%s)%s.", p->config->name, (int)pid,
                        WTERMSIG(status), strsignal(WTERMSIG(status)), WCOREDUMP(status) ? " - core dumped" : "");
        } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                log_warning("[pool %s] child %d exited with code %d.", p->config->name, (int)pid,
                        WEXITSTATUS(status));
        else
                log_debug("[pool %s] child %d exited.", p->config->name, (int)pid);

        if (p->manager->stopping || p->state != POOL_RUNNING)
                return;

        /* Rate-limit respawning when workers die right after their start, so a broken pool does not
         * fork-bomb the machine */
        (void)started;
        lived = 0;
        if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0))
                p->quick_deaths++;
        else
                p->quick_deaths = 0;
        (void)lived;

        if (p->quick_deaths >= 3)
                pool_schedule_respawn(p, RESPAWN_DELAY_USEC * MIN(p->quick_deaths, 30u));
        else
                pool_start_workers(p);
}

static void pool_close_leader(Pool *p)
{
        p->ctl_source = sd_event_source_disable_unref(p->ctl_source);
        p->ctl_fd = safe_close(p->ctl_fd);
}

static void manager_maybe_exit(Manager *m)
{
        if (!m->stopping)
                return;
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i].leader > 0)
                        return;
        sd_event_exit(m->event, 0);
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

        if (m->stopping || p->state == POOL_STOPPING) {
                p->state = POOL_STOPPED;
                manager_maybe_exit(m);
                return;
        }

        p->leader_failures++;
        delay = MIN(USEC_PER_SEC << MIN(p->leader_failures - 1, 5u), LEADER_RESTART_MAX_DELAY_USEC);
        log_error("[pool %s] leader exited unexpectedly (%s %d), restarting it in %llu s.", p->config->name,
                WIFSIGNALED(status) ? "signal" : "code", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                (unsigned long long)(delay / USEC_PER_SEC));
        p->state = POOL_FAILED;
        (void)sd_event_add_time_relative(m->event, &p->restart_timer, CLOCK_MONOTONIC, delay, 0,
                on_leader_restart, p);
        manager_update_status(m);
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
                pool_close_leader(p);
                return 0;
        }
        if (n != sizeof(msg))
                return 0;

        switch (msg.type) {
        case POOL_MSG_READY:
                p->state = POOL_RUNNING;
                p->leader_failures = 0;
                log_info("[pool %s] PHP started in leader %d.", p->config->name, (int)p->leader);
                pool_start_workers(p);
                break;
        case POOL_MSG_FAILED:
                log_error("[pool %s] PHP failed to start; see the messages above.", p->config->name);
                break;
        case POOL_MSG_SPAWNED:
                log_debug("[pool %s] child %d started.", p->config->name, msg.pid);
                manager_check_ready(p->manager);
                break;
        case POOL_MSG_EXITED:
                pool_worker_exited(p, msg.slot, msg.pid, msg.status);
                break;
        default:
                log_warning("[pool %s] unexpected message %d from the leader, ignoring.", p->config->name,
                        msg.type);
        }
        return 0;
}

static int pool_start_leader(Pool *p)
{
        Manager *m = p->manager;
        int pair[2];
        pid_t pid;
        int r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return log_error_errno(errno, "[pool %s] failed to create the leader's channel: %m",
                        p->config->name);

        /* A fresh scoreboard: workers of a previous leader may still be finishing in the old one */
        p->scoreboard = scoreboard_free(p->scoreboard);
        r = scoreboard_new(p->config->name, p->config->pm.max_children, &p->scoreboard);
        if (r < 0) {
                safe_close(pair[0]);
                safe_close(pair[1]);
                return r;
        }

        pid = fork();
        if (pid < 0) {
                r = log_error_errno(errno, "[pool %s] failed to fork the leader: %m", p->config->name);
                safe_close(pair[0]);
                safe_close(pair[1]);
                return r;
        }
        if (pid == 0) {
                PoolLeaderArgs a = {
                        .config = m->config,
                        .pool = p->config,
                        .listen_fd = p->listen_fd,
                        .ctl_fd = pair[1],
                        .scoreboard = p->scoreboard,
                        .allowed = &p->allowed,
                        .isolation = &p->isolation,
                };

                safe_close(pair[0]);
                /* Nothing of the other pools belongs in this one */
                for (size_t i = 0; i < m->n_pools; i++) {
                        if (&m->pools[i] == p)
                                continue;
                        safe_close(m->pools[i].listen_fd);
                        safe_close(m->pools[i].ctl_fd);
                }
                _exit(pool_leader_run(&a));
        }

        safe_close(pair[1]);
        p->ctl_fd = pair[0];
        p->leader = pid;
        p->state = POOL_STARTING;
        p->max_children_logged = false;
        r = sd_event_add_io(m->event, &p->ctl_source, p->ctl_fd, EPOLLIN, on_ctl, p);
        if (r < 0)
                return log_error_errno(r, "[pool %s] failed to watch the leader: %m", p->config->name);
        log_debug("[pool %s] leader %d forked.", p->config->name, (int)pid);
        return 0;
}

static Pool *manager_find_leader(Manager *m, pid_t pid)
{
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i].leader == pid)
                        return &m->pools[i];
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

static void manager_kill_all(Manager *m)
{
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i].leader > 0)
                        (void)kill(-m->pools[i].leader, SIGKILL);
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
        log_notice("Stopping: finishing requests in flight%s.", wait ? "" : " (no waiting)");

        for (size_t i = 0; i < m->n_pools; i++) {
                Pool *p = &m->pools[i];

                p->respawn_timer = sd_event_source_disable_unref(p->respawn_timer);
                p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
                p->state = POOL_STOPPING;
                if (p->leader <= 0)
                        continue;
                if (!wait || p->ctl_fd < 0 || pool_message_send(p->ctl_fd, POOL_MSG_STOP, -1, 0, 0) < 0)
                        (void)kill(-p->leader, wait ? SIGTERM : SIGKILL);
        }
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

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        (void)userdata;
        log_warning("Reload (signal %u) is not supported yet, keeping the running configuration.", si->ssi_signo);
        return 0;
}

static void manager_update_status(Manager *m)
{
        char buf[2048];
        size_t len = 0;

        buf[0] = 0;
        for (size_t i = 0; i < m->n_pools && len < sizeof(buf); i++) {
                const Pool *p = &m->pools[i];
                ScoreboardCounts c = {};

                if (p->scoreboard)
                        scoreboard_count(p->scoreboard, &c);
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s: %u active, %u idle, %llu req, %llu slow%s",
                        i > 0 ? " | " : "", p->config->name, c.active, c.idle, (unsigned long long)c.requests,
                        p->scoreboard ? (unsigned long long)p->scoreboard->slow_requests : 0ULL,
                        p->state == POOL_FAILED ? " (failed)" : "");
        }
        if (m->last_status && streq(m->last_status, buf))
                return;
        free(m->last_status);
        m->last_status = strdup(buf);
        if (m->ready_sent)
                (void)sd_notifyf(false, "STATUS=%s", buf);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        manager_update_status(m);
        for (size_t i = 0; i < m->n_pools; i++)
                pool_start_workers(&m->pools[i]);
        (void)sd_event_source_set_time(s, usec + USEC_PER_SEC);
        return 0;
}

static int manager_open_sockets(Manager *m)
{
        int r;

        r = listen_fds_from_systemd(&m->systemd_fds);
        if (r < 0)
                return log_error_errno(r, "Failed to take the sockets systemd passed: %m");

        for (size_t i = 0; i < m->n_pools; i++) {
                Pool *p = &m->pools[i];
                int fd = listen_fds_take(&m->systemd_fds, p->config->name);

                if (fd >= 0) {
                        log_info("[pool %s] using the socket systemd passed.", p->config->name);
                        p->listen_fd = fd;
                } else if (p->config->listen.address) {
                        r = listen_open(&p->config->listen, &p->listen_fd);
                        if (r < 0)
                                return r;
                        log_info("[pool %s] listening on %s.", p->config->name, p->config->listen.address);
                } else
                        return log_error_errno(EINVAL,
                                "[pool %s] has no socket: systemd passed none named \"%s\" and listen.address is "
                                "not set.",
                                p->config->name, p->config->name);

                r = allowed_clients_parse(&p->config->listen.allowed_clients, &p->allowed);
                if (r < 0)
                        return r;
                r = isolation_plan(p->config, &p->isolation);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < m->systemd_fds.n; i++)
                log_error("systemd passed a socket named \"%s\" but no pool has that name, closing it.",
                        strna(m->systemd_fds.names[i]));
        listen_fds_done(&m->systemd_fds);
        return 0;
}

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
        log_set_max_level(m->config->log_level);

        m->pools = calloc(m->config->n_pools, sizeof(Pool));
        if (!m->pools)
                return log_oom();
        m->n_pools = m->config->n_pools;
        for (size_t i = 0; i < m->n_pools; i++)
                m->pools[i] = (Pool){
                        .manager = m,
                        .config = &m->config->pools[i],
                        .listen_fd = -1,
                        .ctl_fd = -1,
                };

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_pools; i++) {
                Pool *p = &m->pools[i];

                pool_close_leader(p);
                sd_event_source_disable_unref(p->respawn_timer);
                sd_event_source_disable_unref(p->restart_timer);
                safe_close(p->listen_fd);
                allowed_clients_done(&p->allowed);
                isolation_done(&p->isolation);
                scoreboard_free(p->scoreboard);
        }
        free(m->pools);
        sd_event_source_disable_unref(m->stop_timer);
        sd_event_source_disable_unref(m->status_timer);
        sd_event_unref(m->event);
        listen_fds_done(&m->systemd_fds);
        config_free(m->config);
        free(m->config_path);
        free(m->last_status);
        return mfree(m);
}

int manager_run(Manager *m)
{
        static const int stop_signals[] = { SIGTERM, SIGINT, SIGQUIT };
        static const int reload_signals[] = { SIGHUP, SIGUSR2 };
        sigset_t mask;
        int r;

        r = manager_open_sockets(m);
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
                r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC, USEC_PER_SEC, 0,
                        on_status_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->status_timer, SD_EVENT_ON);
        if (r >= 0 && m->config->watchdog)
                r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m"), 1;

        for (size_t i = 0; i < m->n_pools; i++) {
                r = pool_start_leader(&m->pools[i]);
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
