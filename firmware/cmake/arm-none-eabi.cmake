# CMake toolchain file for bare-metal Cortex-M with the GNU Arm toolchain:
#   cmake -DCMAKE_TOOLCHAIN_FILE=firmware/cmake/arm-none-eabi.cmake \
#         -DBNRT_ARM_FLAGS="-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard" ...
# BNRT_ARM_FLAGS (the CPU and float ABI) default to the Cortex-M4F above.
# Links with newlib-nano and no syscalls (nosys); the application brings its
# startup code and linker script.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(BNRT_ARM_FLAGS "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
    CACHE STRING "CPU, instruction set and float ABI for arm-none-eabi-gcc")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES BNRT_ARM_FLAGS)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar CACHE FILEPATH "")
set(CMAKE_OBJCOPY arm-none-eabi-objcopy CACHE FILEPATH "")
set(CMAKE_SIZE arm-none-eabi-size CACHE FILEPATH "")
# No OS to run test programs on: probe the compiler by building a library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_C_FLAGS_INIT "${BNRT_ARM_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${BNRT_ARM_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${BNRT_ARM_FLAGS} -specs=nano.specs -specs=nosys.specs -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
