/* manager.c: the supervisor: configuration, sockets, the generations of every pool, systemd */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "zygote.h"
#include "control.h"
#include "fpmd-config.h"
#include "listen.h"
#include "log.h"
#include "manager.h"
#include "pool.h"
#include "user.h"

#define TICK_MAX_USEC (1 * USEC_PER_SEC)
#define TICK_MIN_USEC (100 * USEC_PER_MSEC)

struct Manager {
        sd_event *event;
        Config *config;
        char *config_path;
        char *leader_path;
        PoolOwner owner; /* what every pool gets of the supervisor */
        Pool **pools;    /* the current generation */
        size_t n_pools;
        Pool **old; /* previous generations, finishing their requests */
        size_t n_old;
        ListenFds systemd_fds;
        Cgroups cgroups;
        Zygote zygote;     /* forks leaders with PHP's libraries loaded */
        char *zygote_spec; /* what it preloads for the running configuration, NULL: to be made */
        size_t zygote_spec_size;
        Control *control;
        ControlHandler control_handler;
        bool stopping;
        int exit_code;
        bool ready_sent;
        bool reloading;
        char *reload_error; /* why the last reload failed: in STATUS= until one succeeds */
        /* The reload in progress: who waits for its outcome, the generations it started, what went wrong */
        ControlRequest **waiting;
        size_t n_waiting;
        Pool **started;
        size_t n_started;
        char *started_error;
        char *last_status;
        sd_event_source *stop_timer;
        sd_event_source *tick_timer;
        sd_event_source *watchdog_timer;
        sd_event_source *settle_timer; /* re-checks soon while a pool waits for its first workers */
        int32_t heartbeat;
        bool watchdog_unhealthy_logged;
};

static void manager_update_status(Manager *m, bool force);

/* ---- generations ---- */

static Pool *find_pool_in(Pool **pools, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(pool_name(pools[i]), name))
                        return pools[i];
        return NULL;
}

static Pool *manager_find_pool(Manager *m, const char *name)
{
        return find_pool_in(m->pools, m->n_pools, name);
}

static bool manager_pool_name_in_use(const char *name, void *userdata)
{
        Manager *m = userdata;

        return find_pool_in(m->pools, m->n_pools, name) || find_pool_in(m->old, m->n_old, name);
}

static bool remove_from(Pool **pools, size_t *n, const Pool *p)
{
        for (size_t i = 0; i < *n; i++)
                if (pools[i] == p) {
                        memmove(pools + i, pools + i + 1, (*n - i - 1) * sizeof(Pool *));
                        (*n)--;
                        return true;
                }
        return false;
}

static int manager_add_old(Manager *m, Pool *p)
{
        Pool **o = realloc(m->old, (m->n_old + 1) * sizeof(Pool *));

        if (!o)
                return log_oom();
        m->old = o;
        m->old[m->n_old++] = p;
        return 0;
}

/* Previous generations told to stop that have no leader to wait for (at rest, or failed and waiting for a
 * restart) go at once */
static void manager_reap_old(Manager *m)
{
        for (size_t i = 0; i < m->n_old;) {
                Pool *p = m->old[i];

                if (p->leader > 0 || p->state != POOL_STOPPING) {
                        i++;
                        continue;
                }
                for (size_t j = 0; j < m->n_pools; j++)
                        if (m->pools[j]->replaces == p)
                                m->pools[j]->replaces = NULL;
                (void)remove_from(m->old, &m->n_old, p);
                pool_free(p);
        }
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
        /* Told to go (its channel closed), it exits by itself; systemd must find nothing of ours left to kill */
        if (m->zygote.pid > 0)
                return;
        sd_event_exit(m->event, 0);
}

/* ---- readiness ---- */

/* Whoever waits for the reload hears how it went */
static void manager_answer(Manager *m, bool ok, const char *text)
{
        for (size_t i = 0; i < m->n_waiting; i++)
                control_reply(m->waiting[i], ok, text);
        m->waiting = mfree(m->waiting);
        m->n_waiting = 0;
        m->started = mfree(m->started);
        m->n_started = 0;
        m->started_error = mfree(m->started_error);
}

static bool manager_started(const Manager *m, const Pool *p)
{
        for (size_t i = 0; i < m->n_started; i++)
                if (m->started[i] == p)
                        return true;
        return false;
}

/* A generation the reload started failed: the reload will say so */
static void manager_reload_failure(Manager *m, const Pool *p, const char *what)
{
        if (m->started_error || !manager_started(m, p))
                return;
        (void)asprintf(&m->started_error, "pool %s: %s, see the journal", pool_name(p), what);
}

/* Ready: every pool serves (one whose new generation failed serves with the previous one). After a reload also
 * every replaced generation has taken its last new connection, so what `fpmd reload` returns to is served by the
 * new ones only. */
static void manager_check_ready(Manager *m)
{
        if (m->stopping)
                return;
        for (size_t i = 0; i < m->n_pools; i++) {
                Pool *p = m->pools[i];

                if (m->reloading && p->state == POOL_FAILED && manager_started(m, p)) {
                        manager_reload_failure(m, p, "its new generation failed to start");
                        continue;
                }
                if (!pool_serving(p))
                        return;
        }
        if (m->ready_sent && !m->reloading)
                return;
        for (size_t i = 0; m->reloading && i < m->n_old; i++)
                if (m->old[i]->leader > 0 && !m->old[i]->stop_acked)
                        return;

        /* A new generation that failed to start: STATUS= says so until a reload succeeds, as for a reload refused
         * up front */
        if (m->reloading && m->started_error) {
                free(m->reload_error);
                m->reload_error = strdup(m->started_error);
        }
        manager_update_status(m, true);
        (void)sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(m->last_status));
        if (m->reloading) {
                _cleanup_free_ char *text = NULL;

                if (m->started_error)
                        log_error("Reload failed: %s.", m->started_error);
                else
                        log_notice("Reloaded: %zu pool%s serving.", m->n_pools, m->n_pools == 1 ? "" : "s");
                if (asprintf(&text, "%zu pool%s serving, %zu new generation%s", m->n_pools, m->n_pools == 1 ? "" : "s",
                            m->n_started, m->n_started == 1 ? "" : "s") < 0)
                        text = NULL;
                manager_answer(m, !m->started_error, m->started_error ? m->started_error : text);
        } else
                log_notice("fpmd %s ready: %zu pool%s serving.", FPMD_VERSION, m->n_pools, m->n_pools == 1 ? "" : "s");
        m->ready_sent = true;
        m->reloading = false;
}

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

/* ---- the leaders' zygote ---- */

/* Started when a leader is first needed, and again after a reload that changes what the pools' PHP loads */
static int manager_zygote_ensure(Manager *m)
{
        char *spec;
        int r;

        if (!m->config->zygote || m->zygote.failures >= 3)
                return -ENOTCONN;
        /* Once per configuration: hundreds of pools make it long, and a leader is started often */
        if (!m->zygote_spec) {
                r = zygote_preload_spec(m->config, DEFAULT_PHP_INI, &m->zygote_spec, &m->zygote_spec_size);
                if (r < 0)
                        return r;
        }
        if (m->zygote.fd >= 0 && m->zygote.spec_size == m->zygote_spec_size &&
                memcmp(m->zygote.spec, m->zygote_spec, m->zygote_spec_size) == 0)
                return 0;
        spec = memdup(m->zygote_spec, m->zygote_spec_size);
        if (!spec)
                return -ENOMEM;
        zygote_stop(&m->zygote);
        r = zygote_start(&m->zygote, m->leader_path, spec, m->zygote_spec_size);
        if (r < 0)
                return log_warning_errno(r, "Cannot start the leaders' zygote (%m); leaders are started without it.");
        return 0;
}

static pid_t on_pool_spawn_leader(Pool *p, const int fds[LEADER_N_FDS], int cgroup_fd, void *userdata)
{
        Manager *m = userdata;

        if (manager_zygote_ensure(m) < 0)
                return -ENOTCONN;
        return zygote_spawn(&m->zygote, pool_name(p), fds, cgroup_fd);
}

/* ---- what pools tell the supervisor ---- */

static bool on_pool_stopping(void *userdata)
{
        return ((Manager *)userdata)->stopping;
}

/* Workers report nothing when they reach their loop: look again in 10 ms, until every pool serves */
static void on_pool_settle(void *userdata)
{
        Manager *m = userdata;

        if (m->settle_timer)
                (void)sd_event_source_set_time_relative(m->settle_timer, 10 * USEC_PER_MSEC);
        /* Accuracy 1 µs: sd-event's default (0) lets a timer slip by up to 250 ms, and READY=1 with it */
        else if (sd_event_add_time_relative(
                         m->event, &m->settle_timer, CLOCK_MONOTONIC, 10 * USEC_PER_MSEC, 1, on_settle, m) < 0)
                return;
        (void)sd_event_source_set_enabled(m->settle_timer, SD_EVENT_ON);
}

static void on_pool_serving(Pool *p, void *userdata)
{
        if (p->replaces) {
                /* Not served yet: it makes room for its first worker (pool_make_room() said so) */
                if (p->served)
                        log_info("[pool %s] new generation serving, stopping the previous one.", pool_name(p));
                pool_stop(p->replaces, true);
                p->replaces = NULL;
                manager_reap_old(userdata);
        }
        manager_check_ready(userdata);
}

static void on_pool_gone(Pool *p, void *userdata)
{
        Manager *m = userdata;

        if (remove_from(m->old, &m->n_old, p)) {
                for (size_t i = 0; i < m->n_pools; i++)
                        if (m->pools[i]->replaces == p)
                                m->pools[i]->replaces = NULL;
                pool_free(p);
                /* A reload may have waited for this one alone: its leader can exit before its STOPPING is read */
                if (m->reloading)
                        manager_check_ready(m);
        } else if (!m->stopping && p->state != POOL_STOPPING && p->replaces && !p->served) {
                /* A new generation that failed to start: the one it was to replace takes its place again */
                Pool *old = p->replaces;

                manager_reload_failure(m, p, "its new generation failed to start; the previous one keeps serving");
                for (size_t i = 0; i < m->n_started; i++)
                        if (m->started[i] == p)
                                m->started[i] = old;

                for (size_t i = 0; i < m->n_pools; i++)
                        if (m->pools[i] == p)
                                m->pools[i] = old;
                (void)remove_from(m->old, &m->n_old, old);
                pool_free(p);
                manager_check_ready(m);
        }
        manager_maybe_exit(m);
}

/* Emergency restart: a new generation with the same settings, fresh PHP and opcache, on the same socket */
static void on_pool_restart(Pool *old, void *userdata)
{
        Manager *m = userdata;
        Pool *p = NULL;
        int r;

        r = pool_new(&m->owner, old->config_owner, old->config, old, &p);
        user_lookups_done();
        if (r < 0)
                return;
        if (manager_add_old(m, old) < 0) {
                pool_free(p);
                return;
        }
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i] == old)
                        m->pools[i] = p;
        p->replaces = old;
        (void)pool_start(p);
}

static void on_pool_changed(void *userdata)
{
        Manager *m = userdata;

        manager_update_status(m, false);
        if (m->reloading)
                manager_check_ready(m);
}

/* ---- stop ---- */

static void manager_kill_all(Manager *m)
{
        for (size_t i = 0; i < m->n_pools; i++)
                pool_kill(m->pools[i]);
        for (size_t i = 0; i < m->n_old; i++)
                pool_kill(m->old[i]);
        if (m->stopping && m->zygote.pid > 0)
                (void)kill(m->zygote.pid, SIGKILL);
        cgroup_sweep(&m->cgroups, 0, true, manager_pool_name_in_use, m);
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
        zygote_stop(&m->zygote);
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

/* SIGTERM (systemd's stop), SIGINT (Ctrl-C) and SIGQUIT (PHP-FPM's graceful stop): requests in flight finish,
 * up to process_control_timeout; a second stop signal while stopping ends the pools at once */
static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        (void)s;
        (void)si;
        manager_stop(m, !m->stopping);
        return 0;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        (void)s;
        (void)si;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                Pool *p = NULL;

                if (pid <= 0)
                        break;
                /* As subreaper we also collect workers whose leader died before them */
                for (size_t i = 0; !p && i < m->n_pools; i++)
                        if (m->pools[i]->leader == pid)
                                p = m->pools[i];
                for (size_t i = 0; !p && i < m->n_old; i++)
                        if (m->old[i]->leader == pid)
                                p = m->old[i];
                if (p)
                        pool_leader_exited(p, status);
                else if (pid == m->zygote.pid) {
                        zygote_exited(&m->zygote, status);
                        manager_maybe_exit(m);
                }
        }
        return 0;
}

/* ---- reload ---- */

/* The reason stays in STATUS= (before the pools' line) until a reload succeeds: the configuration on disk is
 * not the one running */
static void manager_reload_failed(Manager *m, const char *why)
{
        free(m->reload_error);
        m->reload_error = strdup(why);
        manager_update_status(m, true);
        (void)sd_notifyf(false, "READY=1\nSTATUS=%s", strempty(m->last_status));
        manager_answer(m, false, why);
}

static bool name_in(char *const *names, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(names[i], name))
                        return true;
        return false;
}

/* The next generation of every pool of c, prepared aside: nothing of the running ones changes (their sockets,
 * what systemd stores), so a failure leaves them exactly as they are. refresh: the pools that get a new
 * generation (fresh PHP, opcache and realpath cache: a symlink deploy serves its new release) even if their
 * settings did not change; NULL for all. On failure, ret_why says which pool. */
static int manager_prepare(
        Manager *m, Config *c, char *const *refresh, size_t n_refresh, Pool ***ret, size_t *ret_n, char **ret_why)
{
        _cleanup_free_ Pool **next = calloc(MAX(c->n_pools, 1u), sizeof(Pool *));
        size_t n = 0;
        int r = 0;

        if (!next)
                return log_oom();
        for (size_t i = 0; i < c->n_pools; i++) {
                const PoolConfig *pc = &c->pools[i];
                Pool *old = manager_find_pool(m, pc->name);

                if (old && pool_unchanged(old, c, pc) && refresh && !name_in(refresh, n_refresh, pc->name)) {
                        next[n++] = old;
                        continue;
                }
                r = pool_new(&m->owner, c, pc, old, &next[n]);
                if (r < 0) {
                        log_error("Reload failed for pool %s, keeping the running configuration.", pc->name);
                        if (asprintf(ret_why, "pool %s could not be set up, see the journal", pc->name) < 0)
                                *ret_why = NULL;
                        break;
                }
                n++;
        }
        user_lookups_done();
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        if (!manager_find_pool(m, pool_name(next[i])) ||
                                manager_find_pool(m, pool_name(next[i])) != next[i])
                                pool_free(next[i]);
                return r;
        }
        *ret = TAKE_PTR(next);
        *ret_n = n;
        return 0;
}

/* The new configuration is read aside; when it is bad nothing changes. Every pool (or the ones named) gets a new
 * generation, and so does every pool whose settings changed; the old generations finish their requests. req
 * (NULL for a signal) is answered once the new generations serve, or when the reload failed. */
static void manager_reload(Manager *m, char *const *names, size_t n_names, ControlRequest *req)
{
        _cleanup_free_ char *error = NULL;
        _cleanup_free_ Pool **next = NULL;
        Config *c = NULL;
        size_t n_next = 0;
        Pool **o;
        int r;

        if (m->stopping) {
                control_reply(req, false, "fpmd is stopping");
                return;
        }
        /* Whoever waits for a reload still in progress gets this one's outcome */
        if (req) {
                ControlRequest **w = realloc(m->waiting, (m->n_waiting + 1) * sizeof(ControlRequest *));
                if (!w) {
                        control_reply(req, false, "out of memory");
                        return;
                }
                m->waiting = w;
                m->waiting[m->n_waiting++] = req;
        }
        m->started = mfree(m->started);
        m->n_started = 0;
        m->started_error = mfree(m->started_error);

        (void)sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading",
                (unsigned long long)now_usec(CLOCK_MONOTONIC));
        log_notice("Reloading %s%s.", m->config_path, n_names > 0 ? " for the pools named" : "");

        r = config_load(m->config_path, DEFAULT_PHP_INI, &c, &error);
        if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", error ? error : strerror(-r));
                manager_reload_failed(m, error ? error : strerror(-r));
                return;
        }
        config_ref(c);
        for (size_t i = 0; i < n_names; i++)
                if (!config_find_pool(c, names[i])) {
                        _cleanup_free_ char *why = NULL;

                        if (asprintf(&why, "no pool named '%s' in the configuration", names[i]) < 0)
                                why = NULL;
                        log_error("Reload failed: %s.", strna(why));
                        manager_reload_failed(m, strna(why));
                        config_unref(c);
                        return;
                }
        o = realloc(m->old, (m->n_old + m->n_pools) * sizeof(Pool *) + 1);
        if (o)
                m->old = o;
        if (!o || manager_prepare(m, c, n_names > 0 ? names : NULL, n_names, &next, &n_next, &error) < 0) {
                manager_reload_failed(m, error ?: "out of memory");
                config_unref(c);
                return;
        }
        m->started = calloc(n_next + 1, sizeof(Pool *));

        /* Commit: new generations replace the running ones, which finish their requests; pools no longer
         * configured stop */
        for (size_t i = 0; i < n_next; i++) {
                Pool *p = next[i], *prev = manager_find_pool(m, pool_name(p));

                if (p == prev)
                        continue;
                if (m->started)
                        m->started[m->n_started++] = p;
                pool_store_socket(p, prev && prev->listen_fd >= 0);
                if (prev && prev->replaces && !prev->served) {
                        /* The generation being replaced never served: drop it, keep the one that serves */
                        p->replaces = prev->replaces;
                        prev->replaces = NULL;
                        log_info("[pool %s] superseded before it served, stopping it.", pool_name(prev));
                        pool_stop(prev, true);
                } else
                        p->replaces = prev;
        }
        for (size_t i = 0; i < m->n_pools; i++) {
                Pool *p = m->pools[i], *successor = find_pool_in(next, n_next, pool_name(p));

                if (successor == p)
                        continue;
                m->old[m->n_old++] = p;
                if (!successor) {
                        if (p->served)
                                log_info("[pool %s] removed from the configuration, stopping it.", pool_name(p));
                        pool_unstore_socket(p);
                        pool_stop(p, true);
                }
        }
        free(m->pools);
        m->pools = TAKE_PTR(next);
        m->n_pools = n_next;
        config_unref(m->config);
        m->config = c;
        m->zygote_spec = mfree(m->zygote_spec);
        log_set_max_level(c->log_level);

        /* A lazy pool's new generation starts its leader at once only if the one it replaces had one running */
        for (size_t i = 0; i < m->n_pools; i++)
                if (m->pools[i]->state == POOL_NEW)
                        (void)pool_activate(m->pools[i], m->pools[i]->replaces && m->pools[i]->replaces->leader > 0);
        manager_reap_old(m);

        m->reload_error = mfree(m->reload_error);
        m->reloading = true;
        manager_check_ready(m);
}

static void on_control_reload(ControlRequest *req, char **pools, size_t n, void *userdata)
{
        manager_reload(userdata, pools, n, req);
}

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        manager_reload(userdata, NULL, 0, NULL);
        return 0;
}

/* PHP-FPM's SIGUSR1 reopens its log files (logrotate's postrotate sends it): fpmd has none, the journal keeps
 * the logs, and the service goes on */
static int on_reopen_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        (void)userdata;
        log_notice("SIGUSR1: no log files to reopen, fpmd logs to the journal.");
        return 0;
}

/* A signal fpmd has no use for, which would end it: it stops gracefully and exits non-zero, so that systemd's
 * Restart= brings it back and the stop is visible */
static int on_foreign_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        (void)s;
        if (m->stopping)
                return 0;
        log_warning("Received SIG%s, which fpmd does not use: stopping, with exit status %d.",
                sigabbrev_np((int)si->ssi_signo) ?: "?", 128 + (int)si->ssi_signo);
        m->exit_code = 128 + (int)si->ssi_signo;
        manager_stop(m, true);
        return 0;
}

/* ---- status and the tick ---- */

/* More pools than this: STATUS= sums them up and names the busiest, on one line systemctl status can show */
#define STATUS_POOLS_LISTED 4
#define STATUS_BUSIEST      3

static size_t manager_status_summary(const Manager *m, char *buf, size_t size)
{
        const Pool *busiest[STATUS_BUSIEST] = {};
        unsigned active[STATUS_BUSIEST] = {}, total_active = 0, total_idle = 0, resting = 0, failed = 0;
        uint64_t requests = 0, slow = 0;
        size_t len;

        for (size_t i = 0; i < m->n_pools; i++) {
                const Pool *p = m->pools[i];
                ScoreboardCounts c;

                if (p->scoreboard) {
                        requests += p->scoreboard->accepted_conn;
                        slow += p->scoreboard->slow_requests;
                }
                if (p->state == POOL_FAILED)
                        failed++;
                if (p->state == POOL_RESTING || p->state == POOL_DOZING || p->leader <= 0) {
                        resting += p->state == POOL_RESTING || p->state == POOL_DOZING;
                        continue;
                }
                pool_counts(p, &c);
                total_active += c.active;
                total_idle += c.idle;
                /* Kept sorted, the busiest first */
                for (unsigned k = 0; k < STATUS_BUSIEST; k++)
                        if (c.active > 0 && c.active > active[k]) {
                                memmove(busiest + k + 1, busiest + k, (STATUS_BUSIEST - k - 1) * sizeof(busiest[0]));
                                memmove(active + k + 1, active + k, (STATUS_BUSIEST - k - 1) * sizeof(active[0]));
                                busiest[k] = p;
                                active[k] = c.active;
                                break;
                        }
        }
        len = (size_t)snprintf(buf, size, "%zu pools: %u active, %u idle, %llu req, %llu slow; %u at rest", m->n_pools,
                total_active, total_idle, (unsigned long long)requests, (unsigned long long)slow, resting);
        if (failed > 0 && len < size)
                len += (size_t)snprintf(buf + len, size - len, "; %u failed", failed);
        for (unsigned k = 0; k < STATUS_BUSIEST && busiest[k] && len < size; k++)
                len += (size_t)snprintf(buf + len, size - len, "%s%s %u active", k == 0 ? "; busiest: " : ", ",
                        pool_name(busiest[k]), active[k]);
        return len;
}

static void manager_update_status(Manager *m, bool force)
{
        char buf[2048];
        size_t len = 0;

        buf[0] = 0;
        if (m->reload_error)
                len = (size_t)snprintf(
                        buf, sizeof(buf), "Reload failed, running the previous configuration: %s | ", m->reload_error);
        if (m->n_pools > STATUS_POOLS_LISTED)
                len += manager_status_summary(m, buf + len, len < sizeof(buf) ? sizeof(buf) - len : 0);
        else
                for (size_t i = 0; i < m->n_pools && len < sizeof(buf); i++) {
                        if (i > 0)
                                len += (size_t)snprintf(buf + len, sizeof(buf) - len, " | ");
                        if (len < sizeof(buf))
                                len += (size_t)pool_status_line(m->pools[i], buf + len, sizeof(buf) - len);
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

        for (size_t i = 0; i < m->n_pools; i++)
                pool_tick(m->pools[i]);
        for (size_t i = 0; i < m->n_old; i++)
                pool_check_requests(m->old[i]);
        cgroup_sweep(
                &m->cgroups, MAX(m->config->process_control_timeout, USEC_PER_SEC), false, manager_pool_name_in_use, m);
        manager_update_status(m, false);
        (void)sd_event_source_set_time(s, usec + manager_tick_interval(m));
        return 0;
}

/* ---- watchdog ---- */

/* systemd's watchdog is pinged only when the supervisor's loop runs (this timer fires), every running leader
 * answered the previous heartbeat, and no pool is wedged: a hung fpmd is restarted, with its sockets kept */
static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;
        const char *why = NULL;
        const Pool *bad = NULL;

        for (size_t i = 0; i < m->n_pools && !why; i++) {
                why = pool_unhealthy(m->pools[i]);
                bad = m->pools[i];
        }
        if (!why) {
                (void)sd_notify(false, "WATCHDOG=1");
                m->watchdog_unhealthy_logged = false;
        } else if (!m->watchdog_unhealthy_logged) {
                m->watchdog_unhealthy_logged = true;
                log_error("[pool %s] %s: no longer pinging the watchdog.", pool_name(bad), why);
        }

        m->heartbeat++;
        for (size_t i = 0; i < m->n_pools; i++)
                pool_heartbeat(m->pools[i], m->heartbeat);
        (void)sd_event_source_set_time(s, usec + m->owner.watchdog_usec / 3);
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
        m->owner.watchdog_usec = usec;
        (void)sd_notify(false, "WATCHDOG=1");
        r = sd_event_add_time_relative(m->event, &m->watchdog_timer, CLOCK_MONOTONIC, usec / 3, 0, on_watchdog, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the watchdog: %m");
        log_info("Watchdog every %.1f s: pinged while every pool leader answers.", (double)usec / 1e6);
        return sd_event_source_set_enabled(m->watchdog_timer, SD_EVENT_ON);
}

/* ---- lifetime ---- */

/* fpmd-leader beside this binary (a build tree, or an installation that keeps them together), else where
 * meson installed it */
static int find_leader(char **ret)
{
        char self[PATH_MAX], *slash, *path = NULL;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n > 0) {
                self[n] = 0;
                slash = strrchr(self, '/');
                if (slash && asprintf(&path, "%.*s/fpmd-leader", (int)(slash - self), self) >= 0 &&
                        access(path, X_OK) == 0) {
                        *ret = path;
                        return 0;
                }
                free(path);
        }
        path = strdup(FPMD_LEADER_PATH);
        if (!path)
                return -ENOMEM;
        if (access(path, X_OK) < 0) {
                int r = -errno;
                free(path);
                return log_error_errno(r, "Cannot run the pool leader %s: %m", FPMD_LEADER_PATH);
        }
        *ret = path;
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
        m->zygote = ZYGOTE_NULL;
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

        r = find_leader(&m->leader_path);
        if (r < 0)
                return r;

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
        cgroup_sweep(&m->cgroups, 0, true, NULL, NULL);
        cgroup_wait(&m->cgroups, 5 * USEC_PER_SEC);
        cgroup_done(&m->cgroups);
        zygote_stop(&m->zygote);
        free(m->zygote.spec);
        free(m->zygote_spec);
        sd_event_source_disable_unref(m->stop_timer);
        sd_event_source_disable_unref(m->tick_timer);
        sd_event_source_disable_unref(m->watchdog_timer);
        sd_event_source_disable_unref(m->settle_timer);
        manager_answer(m, false, "fpmd stopped");
        control_free(m->control);
        sd_event_unref(m->event);
        listen_fds_done(&m->systemd_fds);
        config_unref(m->config);
        free(m->config_path);
        free(m->leader_path);
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
                r = pool_new(&m->owner, m->config, &m->config->pools[i], NULL, &m->pools[i]);
                if (r < 0)
                        return r;
                pool_store_socket(m->pools[i], false);
                m->n_pools++;
        }

        for (size_t i = 0; i < m->systemd_fds.n; i++)
                log_error("systemd passed a socket named \"%s\" but no pool has that name, closing it.",
                        strna(m->systemd_fds.names[i]));
        listen_fds_done(&m->systemd_fds);
        return 0;
}

static int manager_setup_loop(Manager *m)
{
        static const int stop_signals[] = {SIGTERM, SIGINT, SIGQUIT};
        static const int reload_signals[] = {SIGHUP, SIGUSR2};
        /* Whose default action ends a process, and which fpmd does not use */
        static const int foreign_signals[] = {
                SIGALRM, SIGVTALRM, SIGPROF, SIGPOLL, SIGPWR, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGTRAP, SIGSYS};
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                sigaddset(&mask, stop_signals[i]);
        for (size_t i = 0; i < ELEMENTSOF(reload_signals); i++)
                sigaddset(&mask, reload_signals[i]);
        for (size_t i = 0; i < ELEMENTSOF(foreign_signals); i++)
                sigaddset(&mask, foreign_signals[i]);
        sigaddset(&mask, SIGUSR1);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGCHLD, on_sigchld, m);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(stop_signals); i++)
                r = sd_event_add_signal(m->event, NULL, stop_signals[i], on_stop_signal, m);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(reload_signals); i++)
                r = sd_event_add_signal(m->event, NULL, reload_signals[i], on_reload_signal, m);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(foreign_signals); i++)
                r = sd_event_add_signal(m->event, NULL, foreign_signals[i], on_foreign_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGUSR1, on_reopen_signal, m);
        if (r >= 0)
                r = sd_event_add_time_relative(
                        m->event, &m->tick_timer, CLOCK_MONOTONIC, manager_tick_interval(m), 0, on_tick, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->tick_timer, SD_EVENT_ON);
        if (r >= 0)
                r = manager_setup_watchdog(m);
        if (r >= 0) {
                m->control_handler = (ControlHandler){.reload = on_control_reload, .userdata = m};
                r = control_new(m->event, &m->control_handler, &m->control);
        }
        return r;
}

/* A pool holds 4 or 5 fds in the supervisor (socket, handover pair, scoreboard, leader channel): hundreds of
 * pools need more than the usual soft limit of 1024. The supervisor uses no select(); its leaders get the
 * soft limit back (a PHP extension may use select()), unless a pool sets rlimit_files. */
static void manager_raise_fd_limit(Manager *m)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        m->owner.nofile_soft = rl.rlim_cur;
        if (rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug_errno(
                        errno, "Failed to raise the open file limit to %llu: %m", (unsigned long long)rl.rlim_max);
}

int manager_run(Manager *m)
{
        int r;

        /* Before any fork: the supervisor moves into its own leaf cgroup */
        (void)cgroup_setup(&m->cgroups);
        manager_raise_fd_limit(m);

        r = manager_setup_loop(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m"), 1;
        m->owner = (PoolOwner){
                .event = m->event,
                .cgroups = &m->cgroups,
                .systemd_fds = &m->systemd_fds,
                .leader_path = m->leader_path,
                .watchdog_usec = m->owner.watchdog_usec,
                .nofile_soft = m->owner.nofile_soft,
                .stopping = on_pool_stopping,
                .serving = on_pool_serving,
                .settle = on_pool_settle,
                .gone = on_pool_gone,
                .restart = on_pool_restart,
                .spawn_leader = on_pool_spawn_leader,
                .changed = on_pool_changed,
                .userdata = m,
        };

        r = manager_open_pools(m);
        user_lookups_done();
        if (r < 0)
                return 1;

        /* Workers whose leader died are reparented to us, not to PID 1 */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);

        for (size_t i = 0; i < m->n_pools; i++) {
                r = pool_activate(m->pools[i], false);
                if (r < 0) {
                        manager_stop(m, false);
                        break;
                }
        }

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), 1;
        log_notice("Stopped.");
        return m->exit_code;
}
