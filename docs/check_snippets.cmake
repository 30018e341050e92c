# SPDX-License-Identifier: MIT
# Checks that README.md quotes docs/snippets/minimal.c (the lines between its
# [readme-begin] and [readme-end] markers) verbatim, so the README's code is
# code that compiles and runs (examples/CMakeLists.txt builds and runs it).
#   cmake -DSOURCE_DIR=. -P docs/check_snippets.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "pass -DSOURCE_DIR=<signvote source tree>")
endif()
file(READ ${SOURCE_DIR}/docs/snippets/minimal.c snippet)
file(READ ${SOURCE_DIR}/README.md readme)
string(FIND "${snippet}" "/* [readme-begin] */\n" b)
string(FIND "${snippet}" "/* [readme-end] */" e)
if(b EQUAL -1 OR e EQUAL -1)
  message(FATAL_ERROR "docs/snippets/minimal.c lacks its [readme-begin] / [readme-end] markers")
endif()
string(LENGTH "/* [readme-begin] */\n" skip)
math(EXPR b "${b} + ${skip}")
math(EXPR len "${e} - ${b}")
string(SUBSTRING "${snippet}" ${b} ${len} body)
string(FIND "${readme}" "```c\n${body}```" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not quote docs/snippets/minimal.c verbatim in a ```c block; "
                      "copy the lines between the markers into README.md")
endif()
message(STATUS "README.md quotes docs/snippets/minimal.c verbatim")
