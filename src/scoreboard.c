/* scoreboard.c: per-pool shared memory table of workers, written by workers without locks, read by the supervisor */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

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

DEFINE_STRING_TABLE_TO(worker_state, WorkerState, state_names)

size_t scoreboard_size(unsigned n_slots)
{
        return sizeof(Scoreboard) + (size_t)n_slots * sizeof(ScoreboardSlot);
}

int scoreboard_new(const char *pool, const char *pm, unsigned n_slots, Scoreboard **ret, int *ret_fd)
{
        char name[128];
        Scoreboard *s;
        int fd;

        snprintf(name, sizeof(name), SCOREBOARD_MEMFD_PREFIX "%s", pool);
        fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create the scoreboard of pool %s: %m", pool);
        if (ftruncate(fd, (off_t)scoreboard_size(n_slots)) < 0) {
                safe_close(fd);
                return log_error_errno(errno, "Failed to size the scoreboard of pool %s: %m", pool);
        }
        s = mmap(NULL, scoreboard_size(n_slots), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (s == MAP_FAILED) {
                safe_close(fd);
                return log_error_errno(errno, "Failed to map the scoreboard of pool %s: %m", pool);
        }

        /* A new memfd is zeroes: every slot is WORKER_FREE */
        s->magic = SCOREBOARD_MAGIC;
        scoreboard_set_str(s->pool, sizeof(s->pool), pool);
        scoreboard_set_str(s->pm, sizeof(s->pm), pm);
        s->n_slots = n_slots;
        s->start_usec = now_usec(CLOCK_REALTIME);
        s->cgroup_memory = s->cgroup_cpu_usec = UINT64_MAX;
        *ret = s;
        *ret_fd = fd;
        return 0;
}

int scoreboard_open(int fd, const Scoreboard **ret, size_t *ret_size, unsigned *ret_n_slots)
{
        const Scoreboard *head;
        struct stat st;
        void *p;

        if (fstat(fd, &st) < 0)
                return -errno;
        if ((size_t)st.st_size < sizeof(Scoreboard))
                return -EBADMSG;
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        head = p;
        if (head->magic != SCOREBOARD_MAGIC) {
                munmap(p, (size_t)st.st_size);
                return -EBADMSG;
        }
        *ret = head;
        *ret_size = (size_t)st.st_size;
        /* From the size the supervisor gave the memfd, never from the header a worker can write */
        *ret_n_slots = (unsigned)(((size_t)st.st_size - sizeof(Scoreboard)) / sizeof(ScoreboardSlot));
        return 0;
}

int scoreboard_map(int fd, unsigned n_slots, Scoreboard **ret)
{
        struct stat st;
        void *p;

        if (fstat(fd, &st) < 0)
                return -errno;
        if ((size_t)st.st_size < scoreboard_size(n_slots))
                return -EBADMSG;
        p = mmap(NULL, scoreboard_size(n_slots), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        *ret = p;
        return 0;
}

void scoreboard_count(const Scoreboard *s, unsigned n_slots, ScoreboardCounts *ret)
{
        ScoreboardCounts c = {};

        for (unsigned i = 0; i < n_slots; i++) {
                const ScoreboardSlot *slot = &s->slots[i];
                int32_t state = slot->state;

                if (state == WORKER_FREE)
                        continue;
                c.total++;
                if (state != WORKER_STARTING)
                        c.started++;
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

void scoreboard_note_active(Scoreboard *s, unsigned n_slots)
{
        uint64_t active = 0, max;

        for (unsigned i = 0; i < n_slots; i++) {
                int32_t state = s->slots[i].state;
                /* A finishing worker has sent its whole response: it serves no client any more */
                active += state == WORKER_READING || state == WORKER_RUNNING;
        }
        max = __atomic_load_n(&s->max_active, __ATOMIC_RELAXED);
        while (active > max &&
                !__atomic_compare_exchange_n(&s->max_active, &max, active, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                ;
}

const uint64_t scoreboard_bucket_bounds[SCOREBOARD_BUCKETS] = {
        5000,
        10000,
        25000,
        50000,
        100000,
        250000,
        500000,
        1000000,
        2500000,
        5000000,
        10000000,
        UINT64_MAX,
};

static unsigned bucket_of(uint64_t usec)
{
        unsigned i = 0;

        while (i < SCOREBOARD_BUCKETS - 1 && usec > scoreboard_bucket_bounds[i])
                i++;
        return i;
}

void scoreboard_note_request(Scoreboard *s, uint64_t duration_usec, uint64_t wait_usec, int status)
{
        __atomic_fetch_add(&s->duration_buckets[bucket_of(duration_usec)], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->duration_sum_usec, duration_usec, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->wait_buckets[bucket_of(wait_usec)], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->wait_sum_usec, wait_usec, __ATOMIC_RELAXED);
        if (status >= 100 && status < 600)
                __atomic_fetch_add(&s->status_classes[status / 100 - 1], 1, __ATOMIC_RELAXED);
}
