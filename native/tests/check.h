// The check counters and EXPECT macro the C++ test programs share: a failed check prints where and why
// (up to a limit) and the program exits non-zero at the end (report()).
#pragma once

#include <cstdio>

inline int g_failures = 0;
inline int g_checks = 0;
constexpr int kMaxPrintedFailures = 60;

#define EXPECT(cond, ...)                                \
  do {                                                   \
    ++g_checks;                                          \
    if (!(cond)) {                                       \
      if (g_failures < kMaxPrintedFailures) {            \
        std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
        std::printf(__VA_ARGS__);                        \
        std::printf("\n");                               \
      }                                                  \
      ++g_failures;                                      \
    }                                                    \
  } while (0)
