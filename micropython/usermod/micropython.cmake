# CMake-based ports (rp2, esp32):
#   make -C ports/rp2 USER_C_MODULES=/path/to/this/repo/micropython/usermod/micropython.cmake
set(BNRT_FW_DIR ${CMAKE_CURRENT_LIST_DIR}/../../firmware)

add_library(usermod_bnrt INTERFACE)
target_sources(usermod_bnrt INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/bnrt_usermod.c
    ${BNRT_FW_DIR}/src/status.c
    ${BNRT_FW_DIR}/src/crc32.c
    ${BNRT_FW_DIR}/src/model.c
    ${BNRT_FW_DIR}/src/kernels/kernel_args.c
    ${BNRT_FW_DIR}/src/kernels/bn_affine_f32.c
    ${BNRT_FW_DIR}/src/kernels/bn_affine_s8.c
    ${BNRT_FW_DIR}/src/kernels/bn_affine_s16.c
)
target_include_directories(usermod_bnrt INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${BNRT_FW_DIR}/include
    ${BNRT_FW_DIR}/src/kernels
)
# The arithmetic contract of the runtime (firmware/mk/core.mk, CORE_CFLAGS).
target_compile_options(usermod_bnrt INTERFACE -ffp-contract=off -fno-strict-aliasing)
target_link_libraries(usermod INTERFACE usermod_bnrt)
