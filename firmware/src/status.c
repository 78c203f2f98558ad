/* Status names from the generated X-macro list, so they can never drift from
 * spec.py (designated initializers pin each name to its value). */
#include "bnrt.h"

static const char *const status_names[BNRT_STATUS_COUNT] = {
#define BNRT_STATUS_NAME(name, value, msg) [value] = #name,
    BNRT_STATUS_LIST(BNRT_STATUS_NAME)
#undef BNRT_STATUS_NAME
};

const char *bnrt_status_name(bnrt_status_t status)
{
    if ((unsigned)status < (unsigned)BNRT_STATUS_COUNT && status_names[status] != NULL) {
        return status_names[status];
    }
    return "UNKNOWN";
}
