/* Operations as the HTTP layer runs them: the JSON view of one, the 202
 * that answers a request it was made for, the 409 while another change is
 * under way, and the glue that runs an operation's job on the worker (its
 * steps and its end recorded in the store, on the loop). */
#pragma once

#include "request.h"
#include "state/store.h"
#include "state/worker.h"

json_object *view_operation(const Operation *op);
/* 200 or 202 (then with Location) with the operation's body. */
enum MHD_Result reply_operation(Request *r, unsigned status, const Operation *op);

/* A change is refused while one is under way: queues the 409
 * operation-in-progress naming it and returns true; false when none is. */
bool refuse_while_busy(Request *r, enum MHD_Result *ret_mhd);

/* What every job's data starts with: where its operation is. */
typedef struct OperationJob {
        AgentContext *ctx;
        char id[33];
        char *instance;   /* the request path, for problem details */
} OperationJob;

void operation_job_done(OperationJob *j);
/* The operation of the job, or NULL (the store lost it). */
Operation *operation_job_find(const OperationJob *j);
/* The progress callback of every job: the step recorded and saved. */
void operation_job_progress(const char *step, void *data);
/* Saves an operation that changed, logging a failure. */
void operation_save(AgentContext *ctx, Operation *op);

/* Records a new operation of kind (running), starts the job (type, data:
 * taken over whatever happens; data starts with an OperationJob that this
 * fills in) and queues the 202. On failure queues the 500. */
enum MHD_Result operation_start(Request *r, const char *kind, const WorkerJobType *type, void *data);
