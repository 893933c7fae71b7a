/* Errors as RFC 9457 problem details (application/problem+json), from one
 * table: problem code, HTTP status, title. Every error reply goes through
 * here, naming the parameter or body field that was wrong. */
#pragma once

#include "request.h"

typedef enum ProblemCode {
        PROBLEM_NOT_FOUND,          /* no such path */
        PROBLEM_METHOD_NOT_ALLOWED,
        PROBLEM_INVALID_PARAMETER,  /* a path or query parameter */
        PROBLEM_UNKNOWN_PARAMETER,  /* a query parameter the route does not take */
        PROBLEM_NO_SUCH_DEVICE,
        PROBLEM_NO_SUCH_GROUP,
        PROBLEM_BODY_TOO_LARGE,
        PROBLEM_URI_TOO_LONG,
        PROBLEM_UNSUPPORTED_MEDIA_TYPE,
        PROBLEM_INVALID_BODY,       /* malformed JSON or a bad field */
        PROBLEM_NOT_ACCEPTABLE,
        PROBLEM_SCAN_FAILED,
        PROBLEM_INTERNAL,
        PROBLEM_UNAUTHORIZED,       /* no credentials, or bad ones */
        PROBLEM_FORBIDDEN,          /* the caller's role does not allow it */
        PROBLEM_NOT_IN_MAINTENANCE, /* the change needs maintenance mode */
        PROBLEM_DEVICES_IN_USE,     /* running VMs hold passthrough devices */
        PROBLEM_NO_SUCH_OPERATION,
        PROBLEM_STATE_WRITE_FAILED, /* the state directory could not be written: nothing changed */
        PROBLEM_BINDING_REFUSED,    /* the group may not go to vfio-pci (or back): nothing written */
        PROBLEM_BINDING_FAILED,     /* a sysfs write or the check after it failed; rolled back */
        PROBLEM_NO_BOOTLOADER,      /* no supported bootloader setup was found */
        PROBLEM_BOOTLOADER_NOT_EDITABLE, /* ostree, or files that cannot be read safely */
        PROBLEM_EDIT_NOT_APPLICABLE, /* a kernel-argument edit does not apply (absent, present, ambiguous) */
        PROBLEM_KARG_CONFLICT,      /* an append conflicts with an argument there: nothing written */
        PROBLEM_PRESET_NOT_APPLICABLE, /* the preset does not apply to this host */
        PROBLEM_BOOTLOADER_WRITE_FAILED, /* writing or verifying failed; every file rolled back */
        PROBLEM_TOO_MANY_STREAMS,   /* the client address holds events_per_client streams */
        PROBLEM_STREAMS_EXHAUSTED,  /* the agent serves events_max_streams streams */
        PROBLEM_BOOT_ID_UNAVAILABLE, /* a reboot could not be proven: the boot id cannot be read */
        PROBLEM_OPERATION_IN_PROGRESS, /* another change operation is not done yet */
        PROBLEM_NOT_SRIOV,          /* the device has no SR-IOV capability */
        PROBLEM_SRIOV_REFUSED,      /* the VF count may not change now: nothing written */
        PROBLEM_SRIOV_FAILED,       /* a write of the VF count failed; the old count put back */
        PROBLEM_NOT_MDEV_PARENT,    /* the device offers no mediated device types */
        PROBLEM_NO_SUCH_MDEV,       /* no mediated device (active or defined) has this UUID */
        PROBLEM_MDEV_REFUSED,       /* the mediated device may not be created or removed now */
        PROBLEM_MDEV_FAILED,        /* the kernel refused the write */
        _PROBLEM_MAX,
} ProblemCode;

typedef struct ProblemField {
        const char *parameter; /* a path or query parameter, or NULL */
        const char *pointer;   /* a JSON pointer into the body, or NULL */
} ProblemField;

/* Queues the problem reply; returns the MHD result to hand back. */
enum MHD_Result problem_reply(Request *r, ProblemCode code, ProblemField field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* The same with more members: extra's keys are added to the problem
 * object (extra is consumed; NULL for none). */
enum MHD_Result problem_reply_extra(Request *r, ProblemCode code, ProblemField field, json_object *extra,
                                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The problem object alone, for an operation that failed after its 202:
 * instance is the request path that started it; extra as above. NULL when
 * out of memory. */
json_object *problem_new(ProblemCode code, const char *instance, json_object *extra, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

unsigned problem_status(ProblemCode code);
const char *problem_code_to_string(ProblemCode code);
