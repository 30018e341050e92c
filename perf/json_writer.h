// SPDX-License-Identifier: MIT
// A streaming JSON writer for sv_allreduce_perf's -J output (the layout
// nccl-tests 2.19 writes): objects and lists nest, commas are placed here.
// Numbers as %.6f (times are in microseconds); inf and NaN become null.
#pragma once

#include <math.h>
#include <stdio.h>

#include <string>
#include <vector>

class JsonWriter {
 public:
  explicit JsonWriter(FILE* f) : f_(f) {}
  bool active() const { return f_ != nullptr; }

  void beginObject() { value(); fputc('{', f_); first_.push_back(true); }
  void endObject() { first_.pop_back(); fputc('}', f_); }
  void beginList() { value(); fputc('[', f_); first_.push_back(true); }
  void endList() { first_.pop_back(); fputc(']', f_); }
  void key(const char* k) {
    comma();
    str(k);
    fputc(':', f_);
    afterKey_ = true;
  }
  void null() { value(); fputs("null", f_); }
  void boolean(bool b) { value(); fputs(b ? "true" : "false", f_); }
  void integer(long long v) { value(); fprintf(f_, "%lld", v); }
  void number(double v) {
    value();
    if (isfinite(v)) fprintf(f_, "%.6f", v);
    else fputs("null", f_);  // JSON has no inf/nan
  }
  void string(const std::string& s) { value(); str(s.c_str()); }

 private:
  void comma() {
    if (!first_.empty()) {
      if (!first_.back()) fputc(',', f_);
      first_.back() = false;
    }
  }
  void value() {
    if (afterKey_) afterKey_ = false;
    else comma();
  }
  void str(const char* s) {
    fputc('"', f_);
    for (const unsigned char* c = reinterpret_cast<const unsigned char*>(s); *c; ++c) {
      if (*c == '"' || *c == '\\') fprintf(f_, "\\%c", *c);
      else if (*c < 0x20) fprintf(f_, "\\u%04x", *c);
      else fputc(*c, f_);
    }
    fputc('"', f_);
  }
  FILE* f_;
  std::vector<bool> first_;
  bool afterKey_ = false;
};
