/* hostdevd's durable state: the state directory (--state-dir, by default
 * var/lib/hostdevd under the root) holding the host's maintenance state and
 * the long-running operations (reboots, kernel command-line changes, driver
 * binding). Every file is written atomically
 * (temporary file, fsync, rename, fsync of the directory): after a crash at
 * any moment a file holds its old or its new contents, never a mix. The
 * in-memory copy changes only after the file did. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

typedef struct Maintenance {
        bool enabled;
        char *reason;         /* NULL when none was given */
        char *by;             /* who asked */
        uint64_t since_usec;  /* CLOCK_REALTIME; 0 when never changed */
} Maintenance;

typedef enum OperationState {
        OPERATION_ACCEPTED,   /* recorded, the work not started yet */
        OPERATION_RUNNING,    /* under way (a reboot: logind accepted it, waiting for the host) */
        OPERATION_SUCCEEDED,
        OPERATION_FAILED,
        _OPERATION_STATE_MAX,
} OperationState;

/* One kernel argument that was pending when the reboot was asked for. */
typedef struct ExpectedArgument {
        char *argument;       /* "intel_iommu=on", as the bootloader has it */
        bool running;         /* after the reboot: in /proc/cmdline */
} ExpectedArgument;

/* One step of an operation's work, as it was reported. */
typedef struct OperationStep {
        char *step;           /* "running update-grub" */
        uint64_t time_usec;   /* CLOCK_REALTIME */
} OperationStep;

typedef struct Operation {
        char id[33];          /* 128 random bits, hex */
        char *kind;           /* "reboot", "kernel-cmdline", "bind", "release" */
        OperationState state;
        char *requested_by;
        uint64_t created_usec, updated_usec;
        char *error;          /* why it failed */
        json_object *problem; /* when it failed: the problem details a synchronous reply would have had, or NULL */
        json_object *result;  /* when it succeeded (not reboot): what the work found, or NULL */
        OperationStep *steps;
        size_t n_steps;

        /* reboot */
        char *method;         /* "logind", "direct" */
        char *boot_id_before, *boot_id_after;
        ExpectedArgument *expected;
        size_t n_expected;
        bool iommu_expected;  /* the pending arguments enable the IOMMU */
        int iommu_active;     /* after the reboot: groups exist; -1 before */
} Operation;

typedef void (*OperationHook)(const Operation *op, void *userdata);

typedef struct Store {
        char *dir;
        Maintenance maintenance;
        Operation **operations; /* oldest first */
        size_t n_operations;
        OperationHook operation_hook;
        void *operation_hook_userdata;
} Store;

/* Creates the directory (0700) if needed, removes temporary files a crash
 * left, loads the state. A state file that does not parse is moved aside
 * (".corrupt") and reported, never half-used. */
int store_open(const char *dir, Store **ret);
Store *store_free(Store *s);
static inline void store_freep(Store **s) {
        store_free(*s);
}

/* Replaces the maintenance state: the file first, then memory. */
int store_set_maintenance(Store *s, bool enabled, const char *reason, const char *by, uint64_t now_usec);

const char *operation_state_to_string(OperationState s);
bool operation_is_done(const Operation *op);

/* A new operation (state ACCEPTED), not yet stored. */
int operation_new(const char *kind, const char *requested_by, uint64_t now_usec, Operation **ret);
Operation *operation_free(Operation *op);
static inline void operation_freep(Operation **op) {
        operation_free(*op);
}
int operation_add_expected(Operation *op, const char *argument);
/* Appends a progress step (in memory: store_save_operation() next). */
int operation_add_step(Operation *op, const char *step, uint64_t now_usec);
/* Marks op failed (in memory) with a reason and, optionally, problem
 * details (consumed). */
int operation_fail(Operation *op, const char *error, json_object *problem, uint64_t now_usec);

/* Stores a new operation; the store takes it over on success. */
int store_add_operation(Store *s, Operation *op);
/* Writes an operation that changed in memory. On failure the file keeps its
 * previous contents (and the caller should not trust the in-memory one). */
int store_save_operation(Store *s, Operation *op);

/* cb is called after every operation the store wrote: added, saved, or
 * settled at reconcile (NULL: none). */
void store_set_operation_hook(Store *s, OperationHook cb, void *userdata);

Operation *store_find_operation(const Store *s, const char *id);
/* The newest operation of this kind (NULL: any kind) that is not done, or NULL. */
Operation *store_active_operation(const Store *s, const char *kind);

/* At start: every operation of this kind that a previous run left
 * accepted or running is marked failed with reason, and saved. */
int store_fail_interrupted(Store *s, const char *kind, const char *reason, uint64_t now_usec);

/* What the state files hold, as text: maintenance.json and
 * operations/<id>.json parsed (-EBADMSG when the text is not such a
 * record) and formatted as they are written. */
int maintenance_parse(const char *text, Maintenance *ret);
int maintenance_format(const Maintenance *m, char **ret);
void maintenance_done(Maintenance *m);
int operation_parse(const char *text, Operation **ret);
int operation_format(const Operation *op, char **ret);

/* Keeps at most this many finished operations (the oldest are removed). */
#define STORE_MAX_DONE_OPERATIONS 64
