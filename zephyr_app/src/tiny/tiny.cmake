# Ocre tiny profile: included by zephyr_app/CMakeLists.txt when OCRE_PROFILE is "tiny".
#
#   ocre_tiny_pre()   before find_package(Zephyr): prj config and the board overlay with the bundle
#                     partition
#   ocre_tiny_app()   after project(): WAMR (classic interpreter, no WASI, no AOT) + our sources, and
#                     the QEMU loader flag placing the bundle at the partition address
#
# Cache variables:
#   WAMR_ROOT_DIR        WAMR checkout (default: a wasm-micro-runtime module, else the WAMR
#                        submodule of the ocre-runtime module from this repository's west.yml)
#   OCRE_TINY_BUNDLE     bundle to load in QEMU (default: build it from examples/hello with the
#                        toolkit: python -m ocre_py.cli.tiny_tools build + bundle pack)
#   OCRE_TINY_POOL_SIZE  WAMR pool bytes (default 52224 = what qemu_cortex_m3 leaves; see the budget)

set(OCRE_TINY_DIR ${CMAKE_CURRENT_LIST_DIR})

# Bundle partition address per board, the same as the overlay's ocre_bundle_partition (QEMU's
# flags are fixed while find_package(Zephyr) runs, before the devicetree can be asked).
set(OCRE_TINY_BUNDLE_ADDR_qemu_cortex_m3 0x30000)

macro(ocre_tiny_pre)
  set(CONF_FILE ${OCRE_TINY_DIR}/tiny.conf)
  # WAMR only: every workspace module except the Ocre core (its CMake builds the core and vmlib
  # unconditionally, and vmlib needs littlefs). An explicit -DZEPHYR_MODULES is left as given.
  if(NOT DEFINED ZEPHYR_MODULES AND NOT DEFINED ENV{ZEPHYR_MODULES} AND DEFINED ENV{ZEPHYR_BASE})
    if(WEST_PYTHON)
      set(_ocre_py ${WEST_PYTHON})
    else()
      find_program(_ocre_py NAMES python3 python REQUIRED)
    endif()
    execute_process(
      COMMAND ${_ocre_py} ${OCRE_TINY_DIR}/modules.py $ENV{ZEPHYR_BASE}
      OUTPUT_VARIABLE _ocre_modules RESULT_VARIABLE _ocre_rc ERROR_VARIABLE _ocre_err
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT _ocre_rc EQUAL 0)
      message(FATAL_ERROR "Ocre tiny: listing the Zephyr modules failed: ${_ocre_err}")
    endif()
    string(FIND "${_ocre_modules}" "\n" _ocre_nl)
    string(SUBSTRING "${_ocre_modules}" 0 ${_ocre_nl} _ocre_keep)
    math(EXPR _ocre_nl "${_ocre_nl} + 1")
    string(SUBSTRING "${_ocre_modules}" ${_ocre_nl} -1 OCRE_TINY_OCRE_MODULE_DIR)
    set(ZEPHYR_MODULES ${_ocre_keep})
  endif()
  string(REPLACE "/" "_" _ocre_board "${BOARD}")
  if(EXISTS ${OCRE_TINY_DIR}/boards/${_ocre_board}.overlay)
    list(APPEND EXTRA_DTC_OVERLAY_FILE ${OCRE_TINY_DIR}/boards/${_ocre_board}.overlay)
  endif()
  if(NOT OCRE_TINY_BUNDLE)
    set(OCRE_TINY_BUNDLE ${CMAKE_BINARY_DIR}/ocre_tiny/bundle.bin)
    set(OCRE_TINY_BUILD_BUNDLE 1)
  endif()
  # cmake/emu/qemu.cmake appends QEMU_EXTRA_FLAGS to the `run` target (west build -t run, Twister).
  # OCRE_TINY_BUNDLE_ADDR comes from 'west ocre build' (the generated or checked-in overlay's address).
  if(NOT DEFINED OCRE_TINY_BUNDLE_ADDR AND DEFINED OCRE_TINY_BUNDLE_ADDR_${_ocre_board})
    set(OCRE_TINY_BUNDLE_ADDR ${OCRE_TINY_BUNDLE_ADDR_${_ocre_board}})
  endif()
  if(DEFINED OCRE_TINY_BUNDLE_ADDR)
    list(APPEND QEMU_EXTRA_FLAGS -device loader,file=${OCRE_TINY_BUNDLE},addr=${OCRE_TINY_BUNDLE_ADDR})
  endif()
endmacro()

macro(ocre_tiny_app)
  if(NOT WAMR_ROOT_DIR)
    if(DEFINED ZEPHYR_WASM_MICRO_RUNTIME_MODULE_DIR)
      set(WAMR_ROOT_DIR ${ZEPHYR_WASM_MICRO_RUNTIME_MODULE_DIR})
    elseif(OCRE_TINY_OCRE_MODULE_DIR AND EXISTS ${OCRE_TINY_OCRE_MODULE_DIR}/wasm-micro-runtime)
      # this repository's west.yml: ocre-runtime carries WAMR as a submodule (only WAMR is used;
      # ocre_tiny_pre() left the module itself out of the build)
      set(WAMR_ROOT_DIR ${OCRE_TINY_OCRE_MODULE_DIR}/wasm-micro-runtime)
    elseif(DEFINED ZEPHYR_OCRE_MODULE_DIR AND EXISTS ${ZEPHYR_OCRE_MODULE_DIR}/wasm-micro-runtime)
      set(WAMR_ROOT_DIR ${ZEPHYR_OCRE_MODULE_DIR}/wasm-micro-runtime)
    else()
      message(FATAL_ERROR "Ocre tiny: set -DWAMR_ROOT_DIR=<wasm-micro-runtime checkout> (WAMR 2.4.x)")
    endif()
  endif()

  enable_language(ASM)               # WAMR's invokeNative_thumb.s (as in its Zephyr sample)
  set(WAMR_BUILD_PLATFORM "zephyr")
  if(CONFIG_ISA_THUMB2)
    set(WAMR_BUILD_TARGET "THUMBV7")
  endif()
  set(WAMR_BUILD_INTERP 1)
  set(WAMR_BUILD_FAST_INTERP 0)      # classic: ≈2.6K less text than fast, and no pre-compiled copy
  set(WAMR_BUILD_AOT 0)
  set(WAMR_BUILD_JIT 0)
  set(WAMR_BUILD_LIBC_BUILTIN 0)
  set(WAMR_BUILD_LIBC_WASI 0)        # our wasi.c serves the subset; WAMR's needs FS + sockets
  set(WAMR_BUILD_MULTI_MODULE 0)
  set(WAMR_BUILD_THREAD_MGR 0)
  set(WAMR_BUILD_SHARED_MEMORY 0)
  set(WAMR_BUILD_SIMD 0)
  set(WAMR_BUILD_REF_TYPES 0)
  # clang/wasm-ld pad call_indirect's table index to 5 bytes unless linked with
  # --compress-relocations; without this WAMR's loader refuses such modules ("zero byte expected").
  set(WAMR_BUILD_CALL_INDIRECT_OVERLONG 1)
  set(WAMR_BUILD_SHRUNK_MEMORY 1)    # shrink 1-page modules to __heap_base (wasm_loader.c)
  set(WAMR_BUILD_GLOBAL_HEAP_POOL 0) # we pass our own pool to wasm_runtime_full_init
  include(${WAMR_ROOT_DIR}/build-scripts/runtime_lib.cmake)
  # What this firmware's loader accepts, for 'west ocre deploy -d BUILD' (ocre_py/image/wamr.py):
  # it refuses, before flashing, modules this WAMR would refuse on the board.
  set(_ocre_wamr_options)
  foreach(_opt REF_TYPES BULK_MEMORY SIMD SHARED_MEMORY TAIL_CALL EXCE_HANDLING GC CALL_INDIRECT_OVERLONG)
    if(WAMR_BUILD_${_opt})
      list(APPEND _ocre_wamr_options "WAMR_BUILD_${_opt}=${WAMR_BUILD_${_opt}}")
    else()
      list(APPEND _ocre_wamr_options "WAMR_BUILD_${_opt}=0")
    endif()
  endforeach()
  set(OCRE_WAMR_OPTIONS "${_ocre_wamr_options}" CACHE INTERNAL "WAMR options of the tiny firmware")

  if(NOT OCRE_TINY_POOL_SIZE)
    set(OCRE_TINY_POOL_SIZE 52224)
  endif()
  target_sources(app PRIVATE
    ${WAMR_RUNTIME_LIB_SOURCE}
    ${OCRE_TINY_DIR}/../bundle.c
    ${OCRE_TINY_DIR}/sha256.c
    ${OCRE_TINY_DIR}/timers.c
    ${OCRE_TINY_DIR}/natives.c
    ${OCRE_TINY_DIR}/wasi.c
    ${OCRE_TINY_DIR}/main.c)
  target_include_directories(app PRIVATE ${OCRE_TINY_DIR} ${OCRE_TINY_DIR}/..)
  target_compile_definitions(app PRIVATE OCRE_TINY_POOL_SIZE=${OCRE_TINY_POOL_SIZE})
  if(DEFINED OCRE_TINY_BUNDLE_ADDR AND DEFINED OCRE_TINY_BUNDLE_SIZE)
    # absolute, computed by the toolkit: no guessing whether DT_REG_ADDR is translated
    target_compile_definitions(app PRIVATE OCRE_TINY_BUNDLE_ADDR=${OCRE_TINY_BUNDLE_ADDR}
                                           OCRE_TINY_BUNDLE_SIZE=${OCRE_TINY_BUNDLE_SIZE})
  endif()
  target_compile_options(app PRIVATE -Wno-type-limits)
  # WAMR is third-party code: its warnings (e.g. wasm_loader.c's unused 'frame_ref_before_pop'
  # when FAST_INTERP=0) are shown but must not fail a -Werror build such as Twister's. Source
  # properties come after the target's options on the command line, so -Wno-error wins.
  set_source_files_properties(${WAMR_RUNTIME_LIB_SOURCE} PROPERTIES COMPILE_OPTIONS "-Wno-error")

  # The default bundle (hello, argv "tiny") for `west build -t run` and Twister, packed by the
  # toolkit in the Python that runs west (pip install -e <ocre toolkit>).
  if(OCRE_TINY_BUILD_BUNDLE)
    set(_py ${WEST_PYTHON})
    if(NOT _py)
      find_package(Python3 REQUIRED COMPONENTS Interpreter)
      set(_py ${Python3_EXECUTABLE})
    endif()
    set(_hello ${CMAKE_BINARY_DIR}/ocre_tiny/hello.wasm)
    add_custom_command(
      OUTPUT ${OCRE_TINY_BUNDLE}
      COMMAND ${_py} -m ocre_py.cli.tiny_tools build ${OCRE_TINY_DIR}/../../../examples/hello/hello.c -o ${_hello}
      COMMAND ${_py} -m ocre_py.cli.tiny_tools bundle pack --arg tiny -o ${OCRE_TINY_BUNDLE} ${_hello}
      DEPENDS ${OCRE_TINY_DIR}/../../../examples/hello/hello.c
      COMMENT "Ocre tiny: packing the hello container bundle")
    add_custom_target(ocre_tiny_bundle ALL DEPENDS ${OCRE_TINY_BUNDLE})
  endif()
endmacro()
