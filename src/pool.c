/* pool.c: a pool's leader process: PHP started once, workers forked on the supervisor's request */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <systemd/sd-event.h>

#include "log.h"
#include "php.h"
#include "pool.h"
#include "worker.h"

typedef struct Leader {
        const PoolLeaderArgs *args;
        sd_event *event;
        bool stopping;
        unsigned n_workers;
} Leader;

int pool_message_send(int fd, PoolMessageType type, int slot, pid_t pid, int status)
{
        PoolMessage m = {.type = type, .slot = slot, .pid = pid, .status = status};

        if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

static int leader_spawn(Leader *l, int slot)
{
        const PoolLeaderArgs *a = l->args;
        pid_t pid;

        if (slot < 0 || (unsigned)slot >= a->scoreboard->n_slots)
                return log_error_errno(EINVAL, "Supervisor asked for worker slot %d out of range.", slot);

        a->scoreboard->slots[slot].state = WORKER_STARTING;
        pid = fork();
        if (pid < 0) {
                a->scoreboard->slots[slot].state = WORKER_FREE;
                log_error_errno(errno, "Failed to fork a worker: %m");
                return pool_message_send(a->ctl_fd, POOL_MSG_EXITED, slot, 0, 0);
        }
        if (pid == 0) {
                WorkerContext w = {
                        .config = a->config,
                        .pool = a->pool,
                        .listen_fd = a->listen_fd,
                        .allowed = a->allowed,
                        .isolation = a->isolation,
                        .scoreboard = a->scoreboard,
                        .slot = (unsigned)slot,
                };

                /* The worker must not keep the leader's channel: its end tells the supervisor the leader died */
                safe_close(a->ctl_fd);
                _exit(worker_run(&w));
        }

        a->scoreboard->slots[slot].pid = pid;
        l->n_workers++;
        return pool_message_send(a->ctl_fd, POOL_MSG_SPAWNED, slot, pid, 0);
}

static void leader_stop_workers(Leader *l)
{
        const Scoreboard *sb = l->args->scoreboard;

        for (unsigned i = 0; i < sb->n_slots; i++)
                if (sb->slots[i].state != WORKER_FREE && sb->slots[i].pid > 0)
                        (void)kill(sb->slots[i].pid, SIGTERM);
}

static void leader_maybe_exit(Leader *l)
{
        if (l->stopping && l->n_workers == 0)
                sd_event_exit(l->event, 0);
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Leader *l = userdata;
        PoolMessage m;
        ssize_t n;

        (void)s;
        (void)revents;
        n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                /* The supervisor is gone: finish what runs, then go too */
                log_warning("Lost the supervisor, stopping the pool.");
                l->stopping = true;
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                leader_stop_workers(l);
                leader_maybe_exit(l);
                return 0;
        }
        if (n != sizeof(m))
                return 0;

        switch (m.type) {
        case POOL_MSG_SPAWN:
                if (!l->stopping)
                        (void)leader_spawn(l, m.slot);
                break;
        case POOL_MSG_PING:
                (void)pool_message_send(l->args->ctl_fd, POOL_MSG_PONG, m.slot, getpid(), 0);
                break;
        case POOL_MSG_STOP:
                l->stopping = true;
                leader_stop_workers(l);
                leader_maybe_exit(l);
                break;
        default:
                log_warning("Unexpected message %d from the supervisor, ignoring.", m.type);
        }
        return 0;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Leader *l = userdata;
        Scoreboard *sb = l->args->scoreboard;

        (void)s;
        (void)si;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        break;
                for (unsigned i = 0; i < sb->n_slots; i++) {
                        if (sb->slots[i].pid != pid)
                                continue;
                        sb->slots[i].pid = 0;
                        sb->slots[i].state = WORKER_FREE;
                        if (l->n_workers > 0)
                                l->n_workers--;
                        (void)pool_message_send(l->args->ctl_fd, POOL_MSG_EXITED, (int)i, pid, status);
                        break;
                }
        }
        leader_maybe_exit(l);
        return 0;
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Leader *l = userdata;

        (void)s;
        (void)si;
        l->stopping = true;
        leader_stop_workers(l);
        leader_maybe_exit(l);
        return 0;
}

/* clear_env empties the environment; env = {} sets values, "$NAME" taking the supervisor's NAME */
static int leader_setup_environment(const PoolConfig *p)
{
        _cleanup_strv_free_ char **values = calloc(p->env.n + 1, sizeof(char *));

        if (!values)
                return log_oom();
        for (size_t i = 0; i < p->env.n; i++) {
                const char *v = p->env.items[i].value;
                if (v[0] == '$')
                        v = getenv(v + 1);
                values[i] = strdup(v ? v : "");
                if (!values[i])
                        return log_oom();
        }
        if (p->clear_env)
                clearenv();
        for (size_t i = 0; i < p->env.n; i++)
                setenv(p->env.items[i].key, values[i], 1);
        return 0;
}

int pool_leader_run(const PoolLeaderArgs *a)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Leader l = {.args = a};
        pid_t parent = getppid();
        sigset_t mask;
        int r;

        /* Blocked first: from here the leader reads them from its event loop, whatever their handlers */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGQUIT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        worker_install_signal_handlers();

        log_set_pool(a->pool->name);
        /* Its own process group: Ctrl-C in a terminal reaches the supervisor, which stops pools in order */
        (void)setpgid(0, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                return 0;

        r = php_startup(a->config, a->pool);
        if (r < 0) {
                (void)pool_message_send(a->ctl_fd, POOL_MSG_FAILED, -1, getpid(), r);
                return 1;
        }
        r = leader_setup_environment(a->pool);
        if (r < 0)
                return 1;

        r = sd_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the leader's event loop: %m"), 1;
        l.event = event;
        r = sd_event_add_io(event, NULL, a->ctl_fd, EPOLLIN, on_ctl, &l);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGCHLD, on_sigchld, &l);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_stop_signal, &l);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, on_stop_signal, &l);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGQUIT, on_stop_signal, &l);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the leader's event loop: %m"), 1;

        r = pool_message_send(a->ctl_fd, POOL_MSG_READY, -1, getpid(), 0);
        if (r < 0)
                return log_error_errno(r, "Failed to tell the supervisor PHP is up: %m"), 1;

        r = sd_event_loop(event);
        return r < 0 ? 1 : 0;
}
