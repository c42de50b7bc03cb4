/* user.c: users and groups by name or number, as PHP-FPM takes them (user = www-data, or user = 33) */
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "user.h"

typedef enum LookupKind { LOOKUP_USER, LOOKUP_GROUP, LOOKUP_GROUPS } LookupKind;

/* One answer, whichever the question: what the child writes back, and what the caller takes its part of */
typedef struct Answer {
        int r;
        UserRecord user;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
} Answer;

/* On the pipe: the numbers, then the strings and groups they count */
typedef struct AnswerHead {
        int32_t r;
        uint32_t uid, gid, group_gid;
        uint32_t name_len, home_len, n_groups; /* name_len 0: no name */
} AnswerHead;

static bool in_child;
static int helper_fd = -1;    /* our end of the helper's socket, -1: none running */
static int helper_pidfd = -1; /* the helper, to wait for it when its work is done */

void user_lookups_in_child(void)
{
        in_child = true;
}

static bool is_number(const char *s, unsigned long *ret)
{
        char *end;

        if (isempty(s) || strspn(s, "0123456789") != strlen(s))
                return false;
        errno = 0;
        *ret = strtoul(s, &end, 10);
        return errno == 0 && *ret < (unsigned long)(uid_t)-1;
}

/* Not found is 0 or one of these, depending on the NSS module */
static int lookup_error(void)
{
        if (errno > 0 && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
                return -errno;
        return -ESRCH;
}

static int lookup_user_here(const char *name, UserRecord *ret)
{
        struct passwd *pw;
        unsigned long id;
        bool number = is_number(name, &id);

        errno = 0;
        pw = number ? getpwuid((uid_t)id) : getpwnam(name);
        if (!pw) {
                if (!number)
                        return lookup_error();
                /* PHP-FPM runs a uid without a user entry with its own group unchanged */
                *ret = (UserRecord){.uid = (uid_t)id, .gid = (gid_t)-1};
                return 0;
        }
        *ret = (UserRecord){
                .uid = pw->pw_uid, .gid = pw->pw_gid, .name = strdup(pw->pw_name), .home = strdup(pw->pw_dir)};
        if (!ret->name || !ret->home) {
                user_record_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static int lookup_group_here(const char *name, gid_t *ret)
{
        struct group *gr;
        unsigned long id;

        if (is_number(name, &id)) {
                *ret = (gid_t)id;
                return 0;
        }
        errno = 0;
        gr = getgrnam(name);
        if (!gr)
                return lookup_error();
        *ret = gr->gr_gid;
        return 0;
}

static int lookup_groups_here(const char *name, gid_t gid, gid_t **ret, size_t *ret_n)
{
        gid_t *groups = NULL;
        int n = 16;

        for (;;) {
                gid_t *g = realloc(groups, sizeof(gid_t) * (size_t)n);

                if (!g) {
                        free(groups);
                        return -ENOMEM;
                }
                groups = g;
                if (getgrouplist(name, gid, groups, &n) >= 0)
                        break;
        }
        *ret = groups;
        *ret_n = (size_t)n;
        return 0;
}

static void answer_here(LookupKind kind, const char *name, gid_t gid, Answer *a)
{
        switch (kind) {
        case LOOKUP_USER:
                a->r = lookup_user_here(name, &a->user);
                break;
        case LOOKUP_GROUP:
                a->r = lookup_group_here(name, &a->gid);
                break;
        case LOOKUP_GROUPS:
                a->r = lookup_groups_here(name, gid, &a->groups, &a->n_groups);
                break;
        }
}

static void answer_done(Answer *a)
{
        user_record_done(&a->user);
        a->groups = mfree(a->groups);
}

/* All n bytes over the helper's socket, one way (out: sent, without a SIGPIPE when the other end has gone) */
static bool transfer_all(int fd, void *p, size_t n, bool out)
{
        for (char *b = p; n > 0;) {
                ssize_t k = out ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                b += k;
                n -= (size_t)k;
        }
        return true;
}

static bool write_all(int fd, const void *p, size_t n)
{
        return transfer_all(fd, (void *)p, n, true);
}

static bool read_all(int fd, void *p, size_t n)
{
        return transfer_all(fd, p, n, false);
}

static bool write_answer(int fd, const Answer *a)
{
        AnswerHead h = {.r = a->r,
                .uid = a->user.uid,
                .gid = a->user.gid,
                .group_gid = a->gid,
                .name_len = a->user.name ? (uint32_t)strlen(a->user.name) + 1 : 0,
                .home_len = a->user.home ? (uint32_t)strlen(a->user.home) + 1 : 0,
                .n_groups = (uint32_t)a->n_groups};

        return write_all(fd, &h, sizeof(h)) && write_all(fd, a->user.name ?: "", h.name_len) &&
               write_all(fd, a->user.home ?: "", h.home_len) && write_all(fd, a->groups, sizeof(gid_t) * a->n_groups);
}

/* On the socket, a question: these, then name_len bytes of the name with its NUL */
typedef struct Question {
        int32_t kind;
        uint32_t gid;
        uint32_t name_len;
} Question;

/* The helper: answers the supervisor's questions one after the other, with the NSS modules loaded once, and
 * leaves after a second without one (a configuration's lookups come in one burst) */
_noreturn_ static void helper_main(int fd)
{
        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                _cleanup_free_ char *name = NULL;
                Answer a = {};
                Question q;
                bool ok;

                if (poll(&pfd, 1, 1000) <= 0 || !read_all(fd, &q, sizeof(q)) || q.name_len == 0 || q.name_len > 65536 ||
                        q.kind < LOOKUP_USER || q.kind > LOOKUP_GROUPS)
                        _exit(0);
                name = malloc(q.name_len);
                if (!name || !read_all(fd, name, q.name_len) || name[q.name_len - 1] != '\0')
                        _exit(0);
                answer_here((LookupKind)q.kind, name, (gid_t)q.gid, &a);
                ok = write_answer(fd, &a);
                answer_done(&a);
                if (!ok)
                        _exit(0);
        }
}

static int read_string(int fd, uint32_t len, char **ret)
{
        _cleanup_free_ char *s = NULL;

        if (len == 0)
                return 0;
        if (len > 65536)
                return -EBADMSG;
        s = malloc(len);
        if (!s)
                return -ENOMEM;
        if (!read_all(fd, s, len) || s[len - 1] != '\0')
                return -EIO;
        *ret = TAKE_PTR(s);
        return 0;
}

static int read_answer(int fd, Answer *a)
{
        AnswerHead h;
        int r;

        if (!read_all(fd, &h, sizeof(h)))
                return -EIO;
        *a = (Answer){.r = h.r, .user = {.uid = h.uid, .gid = h.gid}, .gid = h.group_gid};
        r = read_string(fd, h.name_len, &a->user.name);
        if (r >= 0)
                r = read_string(fd, h.home_len, &a->user.home);
        if (r >= 0 && h.n_groups > 65536)
                r = -EBADMSG;
        if (r >= 0 && h.n_groups > 0) {
                a->groups = calloc(h.n_groups, sizeof(gid_t));
                r = !a->groups ? -ENOMEM : read_all(fd, a->groups, sizeof(gid_t) * h.n_groups) ? 0 : -EIO;
                a->n_groups = h.n_groups;
        }
        if (r < 0)
                answer_done(a);
        return r;
}

static int helper_start(void)
{
        int fds[2];
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;

                safe_close(fds[0]);
                safe_close(fds[1]);
                return r;
        }
        if (pid == 0) {
                /* It never outlives the supervisor */
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* Nothing of the supervisor's (its sockets above all) outlives a close there because of us */
                if (dup2(fds[1], 3) < 0)
                        _exit(0);
                (void)close_range(4, ~0U, 0);
                helper_main(3);
        }
        safe_close(fds[1]);
        helper_fd = fds[0];
        /* A helper that left by itself is reaped by whoever reaps our children (the supervisor's loop ignores
         * a pid it does not know); one told to go is waited for through its pidfd, which names no other
         * process even once it has been reaped */
        safe_close(helper_pidfd);
        helper_pidfd = pidfd_open(pid, 0);
        return 0;
}

void user_lookups_done(void)
{
        siginfo_t si;

        if (helper_fd < 0)
                return;
        helper_fd = safe_close(helper_fd);
        if (helper_pidfd >= 0)
                while (waitid(P_PIDFD, (id_t)helper_pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
        helper_pidfd = safe_close(helper_pidfd);
}

static int ask_helper(LookupKind kind, const char *name, gid_t gid, Answer *a)
{
        Question q = {.kind = kind, .gid = (uint32_t)gid, .name_len = (uint32_t)strlen(name) + 1};

        if (helper_fd < 0) {
                int r = helper_start();
                if (r < 0)
                        return r;
        }
        if (write_all(helper_fd, &q, sizeof(q)) && write_all(helper_fd, name, q.name_len) &&
                read_answer(helper_fd, a) >= 0)
                return 0;
        helper_fd = safe_close(helper_fd);
        return -EPIPE;
}

/* The question answered here, or by the helper (user_lookups_in_child), started again if it has left */
static int ask(LookupKind kind, const char *name, gid_t gid, Answer *a)
{
        if (!in_child) {
                answer_here(kind, name, gid, a);
                return 0;
        }
        if (strlen(name) >= 65536)
                return -ENAMETOOLONG;
        if (ask_helper(kind, name, gid, a) >= 0)
                return 0;
        return ask_helper(kind, name, gid, a);
}

int user_lookup(const char *name, UserRecord *ret)
{
        Answer a = {};
        int r = ask(LOOKUP_USER, name, 0, &a);

        if (r < 0)
                return r;
        if (a.r < 0) {
                answer_done(&a);
                return a.r;
        }
        *ret = a.user;
        return 0;
}

void user_record_done(UserRecord *u)
{
        u->name = mfree(u->name);
        u->home = mfree(u->home);
}

int group_lookup(const char *name, gid_t *ret)
{
        Answer a = {};
        int r = ask(LOOKUP_GROUP, name, 0, &a);

        if (r < 0)
                return r;
        answer_done(&a);
        if (a.r < 0)
                return a.r;
        *ret = a.gid;
        return 0;
}

int user_groups(const char *name, gid_t gid, gid_t **ret, size_t *ret_n)
{
        Answer a = {};
        int r = ask(LOOKUP_GROUPS, name, gid, &a);

        if (r < 0)
                return r;
        if (a.r < 0) {
                answer_done(&a);
                return a.r;
        }
        user_record_done(&a.user);
        *ret = a.groups;
        *ret_n = a.n_groups;
        return 0;
}
