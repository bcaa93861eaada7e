# The CUDA backend's sources and compile settings. Included only when a CUDA compiler exists.
# CMake's FindCUDAToolkit is not used: the toolkit may be the project-local one installed from
# wheels by scripts/setup.sh, whose layout it does not handle; the CUDA language support
# links the static runtime by itself.
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

file(GLOB FLASHATTN_CUDA_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/src/cuda/*.cu
  ${PROJECT_SOURCE_DIR}/src/cuda/sm90/*.cu
  ${PROJECT_SOURCE_DIR}/src/cuda/instantiations/sm80_*.cu)
# The Hopper kernels (wgmma, TMA, setmaxnreg) need the arch-specific sm_90a target; they are
# built when 90 is among the architectures and compiled for that target alone.
file(GLOB FLASHATTN_SM90_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/src/cuda/instantiations/sm90_*.cu)
set(FLASHATTN_HAVE_SM90 OFF)
if("90" IN_LIST FLASHATTN_CUDA_ARCHS OR "90a" IN_LIST FLASHATTN_CUDA_ARCHS)
  set(FLASHATTN_HAVE_SM90 ON)
endif()
message(STATUS "flashattn: sm_90a kernels ${FLASHATTN_HAVE_SM90}")

get_filename_component(_nvcc_dir "${CMAKE_CUDA_COMPILER}" DIRECTORY)
find_library(FLASHATTN_CUDART_STATIC cudart_static
  HINTS ${CMAKE_CUDA_IMPLICIT_LINK_DIRECTORIES} ${_nvcc_dir}/../lib64 ${_nvcc_dir}/../lib)

set(_flashattn_cuda_flags --expt-relaxed-constexpr -O3 -lineinfo -Xcompiler=-Wall,-Wextra
  $<$<BOOL:${FLASHATTN_WERROR}>:-Werror=all-warnings>)

function(flashattn_configure_cuda target)
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${FLASHATTN_CUDA_ARCHS}")
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${_flashattn_cuda_flags}>)
  if(FLASHATTN_HAVE_SM90)
    target_compile_definitions(${target} PRIVATE FLASHATTN_HAVE_SM90=1)
  endif()
endfunction()

# An object library of sm_90a code (the library's sm_90a instantiations, a test's probe).
# CUDA_ARCHITECTURES OFF: the arch flag is given here, with its "a" suffix.
function(flashattn_add_sm90 name)
  add_library(${name} OBJECT ${ARGN})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  set_target_properties(${name} PROPERTIES CUDA_ARCHITECTURES OFF)
  target_compile_options(${name} PRIVATE ${_flashattn_cuda_flags}
    --generate-code=arch=compute_90a,code=[sm_90a])
endfunction()
