/* The worker: see worker.h.
 *
 * Why a thread and not a child process. A job needs the model as it is on
 * the loop (the inventory snapshot, the bootloader plan made while the
 * request was checked): a thread gets them by pointer, a child would need
 * them serialized out and its report serialized back (a BindReport, a
 * BootPlan with its files and a ledger), a second format to keep in step.
 * fork() of the agent copies its page tables and every descriptor it holds
 * (listening sockets, client connections) into a process that must not
 * touch any of them. A job blocked in the kernel (a sysfs unbind waiting on
 * a driver) cannot be killed in either form: a process in D state ignores
 * SIGKILL as a thread does, so a child buys no way out. What a thread
 * costs is discipline, kept here:
 *   - the job gets copies of what it needs, or objects nobody else uses
 *     while it runs (the plan, the ledger), and a reference to the live
 *     inventory snapshot taken on the loop; snapshots are immutable and
 *     references are dropped on the loop only (after done());
 *   - the job never touches the store, the HTTP layer, the libpci names
 *     cache or the live model, and logs nothing: it reports steps and its
 *     end through worker_job_progress() and its return, and the callbacks
 *     that act on them run on the loop;
 *   - the thread starts with every signal blocked, so signals keep going
 *     to the loop's signalfd.
 * One job at a time: the operations that use it refuse a second change
 * while one is under way anyway. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "worker.h"

struct WorkerJob {
        Worker *worker;
        const WorkerJobType *type;
        void *data;
        pthread_t thread;
        char **steps;   /* reported, not yet dispatched: under the lock */
        bool finished;  /* run() returned: under the lock */
        bool dropped;   /* a step could not be queued (out of memory) */
};

struct Worker {
        sd_event_source *source;
        int efd;
        pthread_mutex_t lock;
        WorkerJob *job;
};

static void wake(Worker *w) {
        uint64_t one = 1;

        /* Only fails when the counter would overflow: it is read on every wake-up. */
        (void) !write(w->efd, &one, sizeof one);
}

void worker_job_progress(WorkerJob *job, const char *step) {
        Worker *w = job->worker;

        pthread_mutex_lock(&w->lock);
        if (strv_extend(&job->steps, step) < 0)
                job->dropped = true;
        pthread_mutex_unlock(&w->lock);
        wake(w);
}

static void *job_thread(void *userdata) {
        WorkerJob *job = userdata;
        Worker *w = job->worker;

        job->type->run(job, job->data);
        pthread_mutex_lock(&w->lock);
        job->finished = true;
        pthread_mutex_unlock(&w->lock);
        wake(w);
        return NULL;
}

/* On the loop: the steps reported since the last call, then the end. */
static void dispatch(Worker *w) {
        WorkerJob *job = w->job;
        char **steps;
        bool finished;

        if (!job)
                return;
        pthread_mutex_lock(&w->lock);
        steps = TAKE_PTR(job->steps);
        finished = job->finished;
        pthread_mutex_unlock(&w->lock);
        STRV_FOREACH(s, steps)
                if (job->type->progress)
                        job->type->progress(*s, job->data);
        strv_free(steps);
        if (!finished)
                return;
        (void) pthread_join(job->thread, NULL);
        w->job = NULL;
        job->type->done(job->data);
        job->type->free(job->data);
        free(job);
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        uint64_t n;

        (void) !read(fd, &n, sizeof n);
        dispatch(w);
        return 0;
}

int worker_new(sd_event *event, Worker **ret) {
        _cleanup_free_ Worker *w = calloc(1, sizeof(Worker));
        int r;

        if (!w)
                return -ENOMEM;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0)
                return -errno;
        r = sd_event_add_io(event, &w->source, w->efd, EPOLLIN, on_wake, w);
        if (r < 0) {
                close(w->efd);
                return r;
        }
        pthread_mutex_init(&w->lock, NULL);
        *ret = TAKE_PTR(w);
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        if (w->job) {
                (void) pthread_join(w->job->thread, NULL); /* a job is not abandoned half-way */
                w->job->finished = true;
                dispatch(w);
        }
        sd_event_source_disable_unref(w->source);
        close(w->efd);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

bool worker_busy(const Worker *w) {
        return w && w->job;
}

int worker_submit(Worker *w, const WorkerJobType *type, void *data) {
        WorkerJob *job;
        sigset_t all, old;
        int r;

        if (w->job) {
                type->free(data);
                return -EBUSY;
        }
        job = calloc(1, sizeof(WorkerJob));
        if (!job) {
                type->free(data);
                return -ENOMEM;
        }
        *job = (WorkerJob) { .worker = w, .type = type, .data = data };
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&job->thread, NULL, job_thread, job);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                type->free(data);
                free(job);
                return r;
        }
        w->job = job;
        return 0;
}
