// Option tables: the public name, type, default and range of every field of a configuration struct
// (hypernetwork, optimiser, trainer, ReNO), written once beside the code that uses the struct. The core
// validates with them; the addon reads JavaScript option objects through them and hands the resolved
// values back to TypeScript (resolveOptions), so no default or range is written anywhere else.
#pragma once

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

namespace hn {

enum class OptionType { Number, Integer, Boolean, Choice };

struct OptionSpec {
  const char* key = "";  // the public (camelCase) name
  OptionType type = OptionType::Number;
  double min = -HUGE_VAL, max = HUGE_VAL;  // Number, Integer: the accepted range
  bool min_open = false, max_open = false;
  std::vector<const char*> choices;        // Choice: the accepted names; a name's index is its enum value
  bool required = false;                   // no default: the option must be given
};

// The shortest decimal that reads back as v, as JavaScript prints numbers ("0.001", "1e-08", "NaN").
std::string number_text(double v);
// "a finite number >= 0 and < 1", "an integer in [1, 65536]", "one of 'adam', 'adamw', 'sgd'", "a boolean".
std::string option_expectation(const OptionSpec& s);
// Whether v (a Choice's index, a Boolean's 0/1) is an accepted value.
bool option_accepts(const OptionSpec& s, double v);
// The value as the public API spells it: a number, true/false, or the choice's name.
std::string option_value_text(const OptionSpec& s, double v);
// Throws Error(Argument) "Expected <expectation> for <prefix><key> but received <value>" unless accepted.
void check_option(const OptionSpec& s, double v, const std::string& prefix);

// Specs by type, for the tables. Ranges are closed unless min_open / max_open.
inline OptionSpec number_spec(const char* key, double min = -HUGE_VAL, double max = HUGE_VAL, bool min_open = false,
                              bool max_open = false) {
  OptionSpec s;
  s.key = key;
  s.min = min;
  s.max = max;
  s.min_open = min_open;
  s.max_open = max_open;
  return s;
}
inline OptionSpec integer_spec(const char* key, double min, double max, bool required = false) {
  OptionSpec s = number_spec(key, min, max);
  s.type = OptionType::Integer;
  s.required = required;
  return s;
}
inline OptionSpec boolean_spec(const char* key) {
  OptionSpec s;
  s.key = key;
  s.type = OptionType::Boolean;
  return s;
}
inline OptionSpec choice_spec(const char* key, std::vector<const char*> choices) {
  OptionSpec s;
  s.key = key;
  s.type = OptionType::Choice;
  s.choices = std::move(choices);
  return s;
}

template <class Config>
struct OptionField {
  OptionSpec spec;
  double (*get)(const Config&);
  void (*set)(Config&, double);  // Choice: the index; Boolean: 0 or 1
};

// A field's value as the tables hold it: numbers as they are, booleans as 0/1, enums as their index.
template <class T>
double to_option_value(T v) {
  if constexpr (std::is_enum_v<T>) {
    return static_cast<double>(static_cast<int>(v));
  } else {
    return static_cast<double>(v);
  }
}
template <class T>
void from_option_value(T& field, double v) {
  if constexpr (std::is_enum_v<T>) {
    field = static_cast<T>(static_cast<int>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    field = v != 0.0;
  } else {
    field = static_cast<T>(v);
  }
}

// One table row: the spec and the struct member (a path such as rule.beta1) it reads and writes.
#define HN_OPTION(Config, spec, member)                                                   \
  ::hn::OptionField<Config> {                                                             \
    spec, [](const Config& c) { return ::hn::to_option_value(c.member); },                \
        [](Config& c, double v) { ::hn::from_option_value(c.member, v); }                 \
  }

template <class Config>
struct OptionTable {
  const char* name;  // "optimizer", "trainer", ...
  std::vector<OptionField<Config>> fields;
  // The defaults, given the fields read so far (in table order): AdamW's weight decay depends on the type.
  Config (*defaults)(const Config& so_far) = [](const Config&) { return Config{}; };

  const OptionField<Config>* find(const std::string& key) const {
    for (const OptionField<Config>& f : fields) {
      if (key == f.spec.key) return &f;
    }
    return nullptr;
  }
  // Every field in range, or Error(Argument) naming the first that is not.
  void validate(const Config& c, const std::string& prefix = "") const {
    for (const OptionField<Config>& f : fields) check_option(f.spec, f.get(c), prefix);
  }
};

}  // namespace hn
