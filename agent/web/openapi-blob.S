/* api/openapi.json, NUL-terminated, as read-only data of the agent. */
        .section .rodata
        .global hostdevd_openapi_start
        .global hostdevd_openapi_end
hostdevd_openapi_start:
        .incbin OPENAPI_JSON
        .byte 0
hostdevd_openapi_end:
        .section .note.GNU-stack,"",%progbits
