/* libFuzzer target for the state directory's records (state/store.h):
 * maintenance.json and operations/<id>.json. What parses has the fields
 * the store relies on (an id of 32 hex digits, a known state), formats to
 * JSON that parses to the same record, and formatting is then stable.
 *
 * Input: 'm' (maintenance) or anything else (an operation), then the
 * file's text. */

#include "basic/macro.h"
#include "fuzz.h"
#include "state/store.h"

static void check_maintenance(const char *text) {
        Maintenance m = {}, n = {}, o = {};
        _cleanup_free_ char *t1 = NULL, *t2 = NULL;
        int r = maintenance_parse(text, &m);

        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG);
                return;
        }
        FUZZ_ASSERT(maintenance_format(&m, &t1) == 0 && maintenance_parse(t1, &n) == 0);
        FUZZ_ASSERT(m.enabled == n.enabled && streq_ptr(m.reason, n.reason) && streq_ptr(m.by, n.by) &&
                    m.since_usec == n.since_usec);
        FUZZ_ASSERT(maintenance_format(&n, &t2) == 0 && streq(t1, t2));
        FUZZ_ASSERT(maintenance_parse(t2, &o) == 0);
        maintenance_done(&m);
        maintenance_done(&n);
        maintenance_done(&o);
}

static void check_operation(const char *text) {
        _cleanup_(operation_freep) Operation *op = NULL, *again = NULL;
        _cleanup_free_ char *t1 = NULL, *t2 = NULL;
        int r = operation_parse(text, &op);

        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG);
                return;
        }
        FUZZ_ASSERT(strlen(op->id) == 32 && strspn(op->id, "0123456789abcdef") == 32);
        FUZZ_ASSERT(operation_state_to_string(op->state));
        FUZZ_ASSERT(op->iommu_active >= -1 && op->iommu_active <= 1);
        FUZZ_ASSERT(operation_format(op, &t1) == 0 && operation_parse(t1, &again) == 0);
        FUZZ_ASSERT(streq(op->id, again->id) && streq(op->kind, again->kind) && op->state == again->state);
        FUZZ_ASSERT(op->n_steps == again->n_steps && op->n_expected == again->n_expected);
        FUZZ_ASSERT(operation_format(again, &t2) == 0 && streq(t1, t2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        uint8_t kind;

        if (size > 256 * 1024) /* STATE_FILE_MAX */
                return 0;
        kind = fuzz_take_byte(&data, &size);
        text = fuzz_memdup(data, size); /* read_full_file()'s NUL-terminated text */
        if (kind == 'm')
                check_maintenance(text);
        else
                check_operation(text);
        return 0;
}
