// The CUDA backend when the library is built without it: every pointer is host memory and the
// backend reports itself absent.
#include <cstdio>

#include "api/backend.h"

namespace flashattn::cuda {

bool compiled() { return false; }
int device_count() { return 0; }
void describe_device(int, char* name, size_t len) { std::snprintf(name, len, "not compiled"); }
BackendLimits limits() { return BackendLimits{}; }
Status locate(const void*, int* device) {
    *device = -1;
    return FLASH_ATTN_SUCCESS;
}
size_t forward_workspace_size(const FwdProblem&, int) { return 0; }
size_t backward_workspace_size(const BwdProblem&) { return 0; }
Status forward(const FwdProblem&, int) {
    return fail(FLASH_ATTN_ERROR_BACKEND_UNAVAILABLE, "flashattn was built without CUDA");
}
Status backward(const BwdProblem&, int) {
    return fail(FLASH_ATTN_ERROR_BACKEND_UNAVAILABLE, "flashattn was built without CUDA");
}

}  // namespace flashattn::cuda
