# SPDX-License-Identifier: MIT
# Checks that docs/env.md matches the code (ctest -L docs; registered in
# perf/CMakeLists.txt). Run by hand:
#   cmake -DSOURCE_DIR=. -P docs/check_env_doc.cmake
#
# - Every row {"SV_X", "field", "default", ...} of kParams in src/config.cc
#   has a table row in docs/env.md: | `SV_X` | `field` | `default` | ... |
# - Every other SV_* variable that src/ reads with getenv("SV_...") has a row.
# - Every table row of docs/env.md names a variable that one of the above
#   knows (no stale rows).
cmake_minimum_required(VERSION 3.25)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "pass -DSOURCE_DIR=<signvote source tree>")
endif()
file(READ ${SOURCE_DIR}/src/config.cc config)
file(READ ${SOURCE_DIR}/docs/env.md doc)
# CMake lists split on ';': take them out of the texts first.
string(REPLACE ";" "," config "${config}")
string(REPLACE ";" "," doc "${doc}")
file(GLOB_RECURSE sources ${SOURCE_DIR}/src/*.cc ${SOURCE_DIR}/src/*.h)

# Table rows of env.md: lines that start with | `SV_
string(REGEX MATCHALL "\n\\| `SV_[A-Z0-9_]+` \\|[^\n]*" rows "${doc}")

set(errors "")
set(known "")
string(REGEX MATCHALL "\\{\"SV_[A-Z0-9_]+\", \"[A-Za-z0-9_]+\", \"[^\"]*\"" params "${config}")
list(LENGTH params nparams)
if(nparams EQUAL 0)
  message(FATAL_ERROR "found no {\"SV_...\", ...} rows in src/config.cc: has kParams changed shape?")
endif()
foreach(p IN LISTS params)
  string(REGEX REPLACE "^\\{\"(SV_[A-Z0-9_]+)\", \"([A-Za-z0-9_]+)\", \"([^\"]*)\"$" "\\1;\\2;\\3" f "${p}")
  list(GET f 0 env)
  list(GET f 1 field)
  list(GET f 2 default)
  list(APPEND known ${env})
  set(row "")
  foreach(r IN LISTS rows)
    if(r MATCHES "^\n\\| `${env}` \\|")
      set(row "${r}")
    endif()
  endforeach()
  if(row STREQUAL "")
    string(APPEND errors "  ${env}: no row in docs/env.md\n")
    continue()
  endif()
  # Columns 2 and 3 must be exactly `field` and `default`.
  string(REGEX REPLACE "^\n\\| `[A-Z0-9_]+` \\| ([^|]*) \\| ([^|]*) \\|.*" "\\1" docField "${row}")
  string(REGEX REPLACE "^\n\\| `[A-Z0-9_]+` \\| ([^|]*) \\| ([^|]*) \\|.*" "\\2" docDefault "${row}")
  if(NOT docField STREQUAL "`${field}`")
    string(APPEND errors "  ${env}: field column is '${docField}', src/config.cc says `${field}`\n")
  endif()
  if(NOT docDefault STREQUAL "`${default}`")
    string(APPEND errors "  ${env}: default column is '${docDefault}', src/config.cc says `${default}`\n")
  endif()
endforeach()

# Variables read directly (logging and such).
foreach(src IN LISTS sources)
  file(READ ${src} text)
  string(REGEX MATCHALL "getenv\\(\"SV_[A-Z0-9_]+\"\\)" reads "${text}")
  foreach(g IN LISTS reads)
    string(REGEX REPLACE "getenv\\(\"(SV_[A-Z0-9_]+)\"\\)" "\\1" env "${g}")
    list(APPEND known ${env})
    set(found OFF)
    foreach(r IN LISTS rows)
      if(r MATCHES "^\n\\| `${env}` \\|")
        set(found ON)
      endif()
    endforeach()
    if(NOT found)
      string(APPEND errors "  ${env}: read in ${src} but has no row in docs/env.md\n")
    endif()
  endforeach()
endforeach()

foreach(r IN LISTS rows)
  string(REGEX REPLACE "^\n\\| `(SV_[A-Z0-9_]+)`.*" "\\1" env "${r}")
  if(NOT env IN_LIST known)
    string(APPEND errors "  ${env}: in docs/env.md but neither in kParams nor read by src/\n")
  endif()
endforeach()

if(errors)
  message(FATAL_ERROR "docs/env.md does not match the code:\n${errors}")
endif()
list(REMOVE_DUPLICATES known)
list(LENGTH known nknown)
message(STATUS "docs/env.md: ${nparams} kParams rows and ${nknown} SV_* variables in all, all documented")
