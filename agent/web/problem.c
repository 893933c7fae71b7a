/* Problem details: see problem.h. The "type" is a URN naming the problem
 * code, stable for clients to switch on; "title" is the same for every
 * occurrence of a code, "detail" says what happened this time. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"

static const struct {
        const char *code;
        unsigned status;
        const char *title;
} problems[_PROBLEM_MAX] = {
        [PROBLEM_NOT_FOUND] = { "not-found", MHD_HTTP_NOT_FOUND, "No such resource" },
        [PROBLEM_METHOD_NOT_ALLOWED] = { "method-not-allowed", MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed" },
        [PROBLEM_INVALID_PARAMETER] = { "invalid-parameter", MHD_HTTP_BAD_REQUEST, "Invalid parameter" },
        [PROBLEM_UNKNOWN_PARAMETER] = { "unknown-parameter", MHD_HTTP_BAD_REQUEST, "Unknown query parameter" },
        [PROBLEM_NO_SUCH_DEVICE] = { "no-such-device", MHD_HTTP_NOT_FOUND, "No such PCI device" },
        [PROBLEM_NO_SUCH_GROUP] = { "no-such-iommu-group", MHD_HTTP_NOT_FOUND, "No such IOMMU group" },
        [PROBLEM_BODY_TOO_LARGE] = { "body-too-large", MHD_HTTP_CONTENT_TOO_LARGE, "Request body too large" },
        [PROBLEM_URI_TOO_LONG] = { "uri-too-long", MHD_HTTP_URI_TOO_LONG, "Request URI too long" },
        [PROBLEM_UNSUPPORTED_MEDIA_TYPE] = { "unsupported-media-type", MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                             "Unsupported media type" },
        [PROBLEM_INVALID_BODY] = { "invalid-body", MHD_HTTP_BAD_REQUEST, "Invalid request body" },
        [PROBLEM_NOT_ACCEPTABLE] = { "not-acceptable", MHD_HTTP_NOT_ACCEPTABLE, "Only JSON is served" },
        [PROBLEM_SCAN_FAILED] = { "scan-failed", MHD_HTTP_INTERNAL_SERVER_ERROR, "The PCI scan failed" },
        [PROBLEM_INTERNAL] = { "internal-error", MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error" },
        [PROBLEM_UNAUTHORIZED] = { "unauthorized", MHD_HTTP_UNAUTHORIZED, "Authentication required" },
        [PROBLEM_FORBIDDEN] = { "forbidden", MHD_HTTP_FORBIDDEN, "Not allowed for this role" },
        [PROBLEM_NOT_IN_MAINTENANCE] = { "not-in-maintenance", MHD_HTTP_CONFLICT,
                                         "The host is not in maintenance mode" },
        [PROBLEM_DEVICES_IN_USE] = { "devices-in-use", MHD_HTTP_CONFLICT,
                                     "Running VMs hold passthrough devices" },
        [PROBLEM_NO_SUCH_OPERATION] = { "no-such-operation", MHD_HTTP_NOT_FOUND, "No such operation" },
        [PROBLEM_STATE_WRITE_FAILED] = { "state-write-failed", MHD_HTTP_INTERNAL_SERVER_ERROR,
                                         "The state could not be saved; nothing changed" },
        [PROBLEM_BINDING_REFUSED] = { "binding-refused", MHD_HTTP_CONFLICT, "The driver change is refused" },
        [PROBLEM_BINDING_FAILED] = { "binding-failed", MHD_HTTP_INTERNAL_SERVER_ERROR,
                                     "The driver change failed and was rolled back" },
        [PROBLEM_NO_BOOTLOADER] = { "no-bootloader", MHD_HTTP_CONFLICT, "No supported bootloader setup found" },
        [PROBLEM_BOOTLOADER_NOT_EDITABLE] = { "bootloader-not-editable", MHD_HTTP_CONFLICT,
                                              "hostdevd cannot edit this bootloader setup" },
        [PROBLEM_EDIT_NOT_APPLICABLE] = { "edit-not-applicable", MHD_HTTP_CONFLICT,
                                          "The edit does not apply to the kernel command line" },
        [PROBLEM_KARG_CONFLICT] = { "kernel-argument-conflict", MHD_HTTP_CONFLICT,
                                    "The kernel arguments conflict with ones already there" },
        [PROBLEM_PRESET_NOT_APPLICABLE] = { "preset-not-applicable", MHD_HTTP_CONFLICT,
                                            "The preset does not apply to this host" },
        [PROBLEM_BOOTLOADER_WRITE_FAILED] = { "bootloader-write-failed", MHD_HTTP_INTERNAL_SERVER_ERROR,
                                              "Writing the bootloader files failed and was rolled back" },
        [PROBLEM_TOO_MANY_STREAMS] = { "too-many-streams", MHD_HTTP_TOO_MANY_REQUESTS,
                                       "This client has as many event streams open as it may" },
        [PROBLEM_STREAMS_EXHAUSTED] = { "streams-exhausted", MHD_HTTP_SERVICE_UNAVAILABLE,
                                        "The agent serves as many event streams as it may" },
        [PROBLEM_BOOT_ID_UNAVAILABLE] = { "boot-id-unavailable", MHD_HTTP_SERVICE_UNAVAILABLE,
                                          "The boot id cannot be read" },
        [PROBLEM_OPERATION_IN_PROGRESS] = { "operation-in-progress", MHD_HTTP_CONFLICT,
                                            "Another change of the host is under way" },
        [PROBLEM_NOT_SRIOV] = { "not-sr-iov", MHD_HTTP_CONFLICT, "The device has no SR-IOV capability" },
        [PROBLEM_SRIOV_REFUSED] = { "sriov-refused", MHD_HTTP_CONFLICT, "The VF count change is refused" },
        [PROBLEM_SRIOV_FAILED] = { "sriov-failed", MHD_HTTP_INTERNAL_SERVER_ERROR,
                                   "The VF count change failed" },
        [PROBLEM_NOT_MDEV_PARENT] = { "not-mdev-parent", MHD_HTTP_CONFLICT,
                                      "The device offers no mediated device types" },
        [PROBLEM_NO_SUCH_MDEV] = { "no-such-mdev", MHD_HTTP_NOT_FOUND, "No such mediated device" },
        [PROBLEM_MDEV_REFUSED] = { "mdev-refused", MHD_HTTP_CONFLICT, "The mediated device change is refused" },
        [PROBLEM_MDEV_FAILED] = { "mdev-failed", MHD_HTTP_INTERNAL_SERVER_ERROR,
                                  "The mediated device change failed" },
};

unsigned problem_status(ProblemCode code) {
        return problems[code].status;
}

const char *problem_code_to_string(ProblemCode code) {
        return problems[code].code;
}

static json_object *problem_json(const char *instance, ProblemCode code, ProblemField field, const char *detail) {
        json_object *o = json_object_new_object();
        char type[128];

        if (!o)
                return NULL;
        snprintf(type, sizeof type, "urn:hostdevd:problem:%s", problems[code].code);
        /* json_object_object_add() takes ownership of each new value. */
        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "title", json_object_new_string(problems[code].title));
        json_object_object_add(o, "status", json_object_new_int((int) problems[code].status));
        json_object_object_add(o, "detail", json_object_new_string(detail));
        /* The path as received, cut short: a 414 must not echo kilobytes back. */
        json_object_object_add(o, "instance", json_object_new_string_len(instance ?: "/",
                                                                         instance ? (int) strnlen(instance, 256) : 1));
        json_object_object_add(o, "code", json_object_new_string(problems[code].code));
        if (field.parameter)
                json_object_object_add(o, "parameter", json_object_new_string(field.parameter));
        if (field.pointer)
                json_object_object_add(o, "pointer", json_object_new_string(field.pointer));
        return o;
}

/* extra's members into o; extra is consumed. */
static void add_extra(json_object *o, json_object *extra) {
        if (o && extra) {
                json_object_object_foreach(extra, key, value)
                        json_object_object_add(o, key, json_object_get(value));
        }
        json_object_put(extra);
}

json_object *problem_new(ProblemCode code, const char *instance, json_object *extra, const char *fmt, ...) {
        _cleanup_free_ char *detail = NULL;
        json_object *o;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&detail, fmt, ap) < 0)
                detail = NULL;
        va_end(ap);
        o = problem_json(instance, code, (ProblemField) {}, detail ?: problems[code].title);
        add_extra(o, extra);
        return o;
}

static enum MHD_Result problem_replyv(Request *r, ProblemCode code, ProblemField field, json_object *extra,
                                      const char *fmt, va_list ap) _printf_(5, 0);
static enum MHD_Result problem_replyv(Request *r, ProblemCode code, ProblemField field, json_object *extra,
                                      const char *fmt, va_list ap) {
        _cleanup_free_ char *detail = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct MHD_Response *resp;
        unsigned status = problems[code].status;
        _cleanup_free_ char *text = NULL;
        const char *s;
        enum MHD_Result ret;

        if (vasprintf(&detail, fmt, ap) < 0)
                detail = NULL;

        o = problem_json(r->url, code, field, detail ?: problems[code].title);
        add_extra(o, extra);
        s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE |
                                                          (r->pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                                     : JSON_C_TO_STRING_PLAIN))
              : NULL;
        if (!s || asprintf(&text, "%s\n", s) < 0) {
                text = NULL;
                status = MHD_HTTP_INTERNAL_SERVER_ERROR; /* out of memory: say so, briefly */
        }
        s = text ?: "{\"title\":\"Internal error\",\"status\":500}\n";

        resp = MHD_create_response_from_buffer(strlen(s), (void *) s, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        reply_add_common_headers(resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
        if (r->allow)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
        if (code == PROBLEM_UNAUTHORIZED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"hostdevd\"");
        log_debug("%s %s: %u %s", r->method, strempty(r->url), problems[code].status, strempty(detail));
        r->status = status;
        ret = MHD_queue_response(r->connection, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result problem_reply(Request *r, ProblemCode code, ProblemField field, const char *fmt, ...) {
        enum MHD_Result ret;
        va_list ap;

        va_start(ap, fmt);
        ret = problem_replyv(r, code, field, NULL, fmt, ap);
        va_end(ap);
        return ret;
}

enum MHD_Result problem_reply_extra(Request *r, ProblemCode code, ProblemField field, json_object *extra,
                                    const char *fmt, ...) {
        enum MHD_Result ret;
        va_list ap;

        va_start(ap, fmt);
        ret = problem_replyv(r, code, field, extra, fmt, ap);
        va_end(ap);
        return ret;
}
