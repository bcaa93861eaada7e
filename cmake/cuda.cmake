# The CUDA backend's sources and compile settings. Included only when a CUDA compiler exists.
# CMake's FindCUDAToolkit is not used: the toolkit may be the project-local one installed from
# wheels by scripts/setup.sh, whose layout it does not handle; the CUDA language support
# links the static runtime by itself.
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

file(GLOB FLASHATTN_CUDA_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/src/cuda/*.cu
  ${PROJECT_SOURCE_DIR}/src/cuda/instantiations/*.cu)

get_filename_component(_nvcc_dir "${CMAKE_CUDA_COMPILER}" DIRECTORY)
find_library(FLASHATTN_CUDART_STATIC cudart_static
  HINTS ${CMAKE_CUDA_IMPLICIT_LINK_DIRECTORIES} ${_nvcc_dir}/../lib64 ${_nvcc_dir}/../lib)

function(flashattn_configure_cuda target)
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${FLASHATTN_CUDA_ARCHS}")
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -O3 -lineinfo
      -Xcompiler=-Wall,-Wextra $<$<BOOL:${FLASHATTN_WERROR}>:-Werror=all-warnings>>)
endfunction()
