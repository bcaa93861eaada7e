#include "api/error.h"

#include <cstdarg>
#include <cstdio>

namespace flashattn {
namespace {
thread_local char g_last_error[512] = "";
}

Status fail(Status code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(g_last_error, sizeof(g_last_error), fmt, ap);
    va_end(ap);
    return code;
}

void clear_error() { g_last_error[0] = '\0'; }

}  // namespace flashattn

extern "C" const char* flash_attn_last_error(void) { return flashattn::g_last_error; }

extern "C" const char* flash_attn_status_string(int status) {
    switch (status) {
        case FLASH_ATTN_SUCCESS: return "success";
        case FLASH_ATTN_ERROR_INVALID_ARGUMENT: return "invalid argument";
        case FLASH_ATTN_ERROR_UNSUPPORTED: return "unsupported configuration";
        case FLASH_ATTN_ERROR_OUT_OF_MEMORY: return "out of memory";
        case FLASH_ATTN_ERROR_BACKEND_UNAVAILABLE: return "backend unavailable";
        case FLASH_ATTN_ERROR_WORKSPACE_TOO_SMALL: return "workspace too small";
        case FLASH_ATTN_ERROR_DEVICE: return "device error";
        case FLASH_ATTN_ERROR_INTERNAL: return "internal error";
        default: return "unknown status";
    }
}
