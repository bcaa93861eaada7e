// Status codes and the thread-local last-error message. Library code reports a failure with
// `return fail(FLASH_ATTN_ERROR_..., "fmt", ...)`; nothing ever prints.
#pragma once

#include "flashattn/flashattn.h"

namespace flashattn {

using Status = int;  // a FlashAttnStatus value

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
Status fail(Status code, const char* fmt, ...);

void clear_error();

}  // namespace flashattn
