// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::probes {

/// One performance data item: 'label'=value[UOM];[warn];[crit];[min];[max].
struct PerfDatum {
  std::string label;
  std::optional<double> value;  ///< empty for "U" (the plugin could not measure it)
  std::string uom;
  /// Only plain numbers; ranges such as "10:20" or "@5" have no single value to export.
  std::optional<double> warning;
  std::optional<double> critical;
  std::optional<double> min;
  std::optional<double> max;
};

/// A plugin's stdout split as the Monitoring Plugins guidelines describe it:
///   TEXT | PERFDATA
///   LONG TEXT...
///   LONG TEXT | MORE PERFDATA
///   MORE PERFDATA...
struct PluginOutput {
  std::string text;
  std::vector<std::string> long_text;
  std::vector<PerfDatum> perfdata;
  /// Perfdata items that could not be read, one line each, for `--probe` details.
  std::vector<std::string> problems;
};

/// Pure: no I/O, never throws on any input (binary garbage included); texts are UTF-8-safe.
PluginOutput parsePluginOutput(std::string_view output);

/// The perfdata part only (space-separated items).
std::vector<PerfDatum> parsePerfdata(std::string_view text, std::vector<std::string>& problems);

}  // namespace vigie::probes
