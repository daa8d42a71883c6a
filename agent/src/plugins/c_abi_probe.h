// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "vigie/plugin_abi.h"
#include "vigie/probe.h"

namespace vigie::plugins {

/// A dlopen()ed plugin. Shared by its factory and every probe it created, so the code stays
/// mapped as long as any of them exists.
class LoadedLibrary {
 public:
  LoadedLibrary(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  ~LoadedLibrary();
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;

  void* handle() const { return handle_; }
  const std::string& path() const { return path_; }

 private:
  void* handle_;
  std::string path_;
};

/// Makes a plugin's probe type look like any other ProbeFactory: its schema becomes a
/// ConfigSchema the loader validates, its families become FamilyHandles, its start/complete pair
/// becomes Probe::run(). Throws std::runtime_error when the type table itself is unusable (bad
/// names, bad schema, bad or repeated family names).
ProbeFactoryPtr makeCAbiFactory(std::shared_ptr<LoadedLibrary> library,
                                const vigie_probe_type* type);

/// Converts a result a plugin reported, trusting nothing in it: bad status, NULL or invalid
/// UTF-8 strings, samples of undeclared families, absurd counts all become a safe ProbeResult.
/// `families` are the ones the plugin's type declared, which its samples index.
ProbeResult convertPluginResult(const vigie_result* result, const Families& families);

/// Completions that arrived after their run had ended (second completion, after a timeout or a
/// cancellation) and were ignored, since the start of the process.
std::size_t ignoredPluginCompletions();

}  // namespace vigie::plugins
