/* The worker: long host changes (bootloader edits and their regeneration
 * tool, driver binding) run off the event loop, one job at a time, so that
 * the loop keeps answering. A job runs on a thread of its own; what it
 * reports (progress steps, then the end) reaches the loop through an
 * eventfd, and every callback runs on the loop. See worker.c for why a
 * thread and what a job may touch. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

typedef struct Worker Worker;
typedef struct WorkerJob WorkerJob;

typedef struct WorkerJobType {
        /* On the worker's thread: touches only data (and what it owns). */
        void (*run)(WorkerJob *job, void *data);
        /* On the loop, in the order run() reported them. */
        void (*progress)(const char *step, void *data);
        /* On the loop, once run() has returned; the job is gone afterwards. */
        void (*done)(void *data);
        void (*free)(void *data);
} WorkerJobType;

int worker_new(sd_event *event, Worker **ret);
/* Waits for a running job to end (its callbacks run), then frees. */
Worker *worker_free(Worker *w);
static inline void worker_freep(Worker **w) {
        worker_free(*w);
}

bool worker_busy(const Worker *w);
/* Starts the job; data belongs to the job from then on, on success and on
 * failure alike (type->free). -EBUSY while another job runs. */
int worker_submit(Worker *w, const WorkerJobType *type, void *data);

/* From run(): reports a step ("running update-grub"). Copies the text. */
void worker_job_progress(WorkerJob *job, const char *step);
