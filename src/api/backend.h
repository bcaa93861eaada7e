// What the API layer needs from each backend: its limits (for validation and the capability
// query), where a pointer lives, and the operations. A backend that is not compiled provides
// the same functions reporting itself unavailable, so the API layer has no #ifdefs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "api/error.h"
#include "common/problem.h"

namespace flashattn {

struct BackendLimits {
    uint32_t dtypes;        // bit (1 << FlashAttnDType)
    int32_t head_dim_min, head_dim_max, head_dim_step;
    int32_t alignment;      // bytes for pointers and strides (0: the element size)
    uint32_t features;      // FLASH_ATTN_FEATURE_*
};

namespace cpu {
BackendLimits limits();
int num_threads();
void set_num_threads(int n);
size_t forward_workspace_size(const FwdProblem& p);
size_t backward_workspace_size(const BwdProblem& p);
Status forward(const FwdProblem& p);
Status backward(const BwdProblem& p);
}  // namespace cpu

namespace cuda {
bool compiled();
// Number of usable devices (sm_80 or newer); 0 without a driver or GPU. Never fails.
int device_count();
// Fills `name` with the device's name and compute capability.
void describe_device(int device, char* name, size_t len);
BackendLimits limits();
// Sets *device to the owning device of a device pointer, or -1 for host memory.
Status locate(const void* ptr, int* device);
// The decode kernel's split of the keys, and so the forward's workspace, depends on the device.
size_t forward_workspace_size(const FwdProblem& p, int device);
size_t backward_workspace_size(const BwdProblem& p);
Status forward(const FwdProblem& p, int device);
Status backward(const BwdProblem& p, int device);
}  // namespace cuda

}  // namespace flashattn
