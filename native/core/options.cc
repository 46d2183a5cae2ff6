#include "options.h"

#include <cstdio>
#include <cstdlib>

#include "errors.h"

namespace hn {

std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string option_expectation(const OptionSpec& s) {
  switch (s.type) {
    case OptionType::Boolean: return "a boolean";
    case OptionType::Choice: {
      std::string out = "one of ";
      for (size_t i = 0; i < s.choices.size(); ++i) out += (i ? ", '" : "'") + std::string(s.choices[i]) + "'";
      return out;
    }
    case OptionType::Integer: {
      if (std::isfinite(s.max)) return "an integer in [" + number_text(s.min) + ", " + number_text(s.max) + "]";
      return "an integer >= " + number_text(s.min);
    }
    case OptionType::Number: {
      std::string out = "a finite number";
      const bool lo = std::isfinite(s.min), hi = std::isfinite(s.max);
      if (lo) out += std::string(s.min_open ? " > " : " >= ") + number_text(s.min);
      if (lo && hi) out += " and";
      if (hi) out += std::string(s.max_open ? " < " : " <= ") + number_text(s.max);
      return out;
    }
  }
  return "a value";
}

bool option_accepts(const OptionSpec& s, double v) {
  switch (s.type) {
    case OptionType::Boolean: return v == 0.0 || v == 1.0;
    case OptionType::Choice: return v >= 0.0 && v < static_cast<double>(s.choices.size()) && std::floor(v) == v;
    case OptionType::Integer:
    case OptionType::Number:
      if (!std::isfinite(v)) return false;
      if (s.type == OptionType::Integer && std::floor(v) != v) return false;
      if (v < s.min || (s.min_open && v == s.min)) return false;
      if (v > s.max || (s.max_open && v == s.max)) return false;
      return true;
  }
  return false;
}

std::string option_value_text(const OptionSpec& s, double v) {
  if (s.type == OptionType::Boolean && (v == 0.0 || v == 1.0)) return v != 0.0 ? "true" : "false";
  if (s.type == OptionType::Choice && option_accepts(s, v)) return std::string("'") + s.choices[static_cast<size_t>(v)] + "'";
  return number_text(v);
}

void check_option(const OptionSpec& s, double v, const std::string& prefix) {
  if (option_accepts(s, v)) return;
  fail(ErrorCode::Argument, "Expected " + option_expectation(s) + " for " + prefix + s.key + " but received " +
                                option_value_text(s, v));
}

}  // namespace hn
