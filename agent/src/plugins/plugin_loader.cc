// SPDX-License-Identifier: Apache-2.0
#include "plugins/plugin_loader.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "plugins/c_abi_probe.h"
#include "util/identifiers.h"
#include "util/log.h"

namespace vigie::plugins {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxFields = 256;
constexpr std::size_t kMaxFamilies = 256;

std::string abiText(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// What a plugin's type table must satisfy before anything else in it is used.
std::string checkType(const vigie_probe_type* type) {
  if (type == nullptr) {
    return "its entry point returned no probe type for plugin ABI " +
           std::to_string(VIGIE_PLUGIN_ABI_MAJOR);
  }
  // The first three fields are the same in every ABI version: read them before trusting more.
  if (type->struct_size < offsetof(vigie_probe_type, field_struct_size)) {
    return "its probe type is too small (struct_size " + std::to_string(type->struct_size) + ")";
  }
  if (type->abi_major != VIGIE_PLUGIN_ABI_MAJOR) {
    return "it was built for plugin ABI " + abiText(type->abi_major, type->abi_minor) +
           ", this agent speaks " + abiText(VIGIE_PLUGIN_ABI_MAJOR, VIGIE_PLUGIN_ABI_MINOR) +
           " (rebuild it against this agent's SDK; docs/PLUGINS.md says what changed)";
  }
  if (type->struct_size < sizeof(vigie_probe_type)) {
    return "its probe type is smaller than ABI " + std::to_string(VIGIE_PLUGIN_ABI_MAJOR) +
           " requires (struct_size " + std::to_string(type->struct_size) + ", expected at least " +
           std::to_string(sizeof(vigie_probe_type)) + ")";
  }
  if (type->type_name == nullptr || !isWord(type->type_name)) {
    return "its type name is missing or not [a-z0-9_]+";
  }
  if (type->create == nullptr || type->destroy == nullptr || type->start == nullptr) {
    return "type '" + std::string(type->type_name) + "' lacks create, destroy or start";
  }
  if (type->field_count > kMaxFields ||
      (type->field_count > 0 &&
       (type->fields == nullptr || type->field_struct_size < sizeof(vigie_field)))) {
    return "type '" + std::string(type->type_name) + "' has an invalid schema table";
  }
  if (type->family_count > kMaxFamilies ||
      (type->family_count > 0 &&
       (type->families == nullptr || type->family_struct_size < sizeof(vigie_family)))) {
    return "type '" + std::string(type->type_name) + "' has an invalid metric family table";
  }
  return {};
}

// The type a plugin serves this agent; when it serves none, asks for each older major so that
// a plugin built with an older SDK is named as such rather than as broken.
const vigie_probe_type* askType(vigie_plugin_entry_fn entry) {
  const vigie_probe_type* type = entry(VIGIE_PLUGIN_ABI_MAJOR);
  for (std::uint32_t major = VIGIE_PLUGIN_ABI_MAJOR - 1; type == nullptr && major >= 1; --major) {
    type = entry(major);
  }
  return type;
}

// Closes the descriptor however the check ends.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

template <typename T>
bool readAt(int fd, std::uint64_t offset, T& out) {
  return ::pread(fd, &out, sizeof out, static_cast<off_t>(offset)) ==
         static_cast<ssize_t>(sizeof out);
}

// Whether `path` is a 64-bit ELF file whose dynamic symbol table defines `symbol`: read from
// the file, not dlopen'ed, so that a library of another program left in a plugin folder (a
// system folder named by mistake) is skipped without its constructors ever running.
bool exportsSymbol(const std::string& path, std::string_view symbol) {
  const Descriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  struct stat info {};
  if (file.fd < 0 || ::fstat(file.fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return false;
  }
  Elf64_Ehdr header{};
  if (!readAt(file.fd, 0, header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_shentsize != sizeof(Elf64_Shdr) ||
      header.e_shnum > 4096) {
    return false;
  }
  const auto section = [&](std::size_t index, Elf64_Shdr& out) {
    return index < header.e_shnum &&
           readAt(file.fd, header.e_shoff + index * sizeof(Elf64_Shdr), out);
  };
  constexpr std::uint64_t kMaxTableBytes = 64 * 1024 * 1024;
  for (std::size_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr symbols{};
    Elf64_Shdr names{};
    if (!section(i, symbols) || symbols.sh_type != SHT_DYNSYM ||
        symbols.sh_entsize != sizeof(Elf64_Sym) || symbols.sh_size > kMaxTableBytes ||
        !section(symbols.sh_link, names) || names.sh_size > kMaxTableBytes) {
      continue;
    }
    std::string strings(names.sh_size, '\0');
    if (::pread(file.fd, strings.data(), strings.size(), static_cast<off_t>(names.sh_offset)) !=
        static_cast<ssize_t>(strings.size())) {
      return false;
    }
    for (std::uint64_t at = 0; at + sizeof(Elf64_Sym) <= symbols.sh_size; at += sizeof(Elf64_Sym)) {
      Elf64_Sym entry{};
      if (!readAt(file.fd, symbols.sh_offset + at, entry)) {
        return false;
      }
      if (entry.st_shndx != SHN_UNDEF && entry.st_name < strings.size() &&
          std::string_view(strings.c_str() + entry.st_name) == symbol) {
        return true;
      }
    }
  }
  return false;
}

// Why the agent refuses to load code from `folder`, empty when it may: anyone who can write
// there could make the agent run their code.
std::string unsafeFolder(const fs::path& folder) {
  struct stat info {};
  if (::stat(folder.c_str(), &info) != 0) {
    return {};  // listing it reports the error
  }
  if ((info.st_mode & S_IWOTH) != 0) {
    return "plugin directory " + folder.string() +
           " is writable by every user: refused (chmod o-w it)";
  }
  if (info.st_uid != 0 && info.st_uid != ::geteuid()) {
    return "plugin directory " + folder.string() + " is owned by uid " +
           std::to_string(info.st_uid) +
           ", neither root nor the agent's user: refused (chown it to root)";
  }
  return {};
}

}  // namespace

std::string loadPlugin(const std::string& path, ProbeRegistry& registry) {
  const std::string refused = "plugin " + path + " refused: ";
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return refused + "cannot load it: " + (error != nullptr ? error : "unknown dlopen error");
  }
  auto library = std::make_shared<LoadedLibrary>(handle, path);
  dlerror();
  auto entry = reinterpret_cast<vigie_plugin_entry_fn>(dlsym(handle, VIGIE_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    return refused + "it does not export " + VIGIE_PLUGIN_ENTRY_SYMBOL +
           " (not a Vigie plugin, or built without VIGIE_PLUGIN_EXPORT)";
  }
  const vigie_probe_type* type = askType(entry);
  if (std::string problem = checkType(type); !problem.empty()) {
    return refused + problem;
  }
  const std::string name = type->type_name;
  try {
    if (registry.find(name) != nullptr) {
      return refused + "probe type '" + name +
             "' is already registered (built in, or by another plugin)";
    }
    registry.add(makeCAbiFactory(std::move(library), type));
  } catch (const std::exception& e) {
    return refused + e.what();
  }
  logInfo("loaded plugin " + path + ": probe type '" + name + "' (ABI " +
          abiText(type->abi_major, type->abi_minor) + ")");
  return {};
}

std::shared_ptr<ProbeRegistry> buildRegistry(const PluginDirs& plugin_dirs) {
  auto registry = std::make_shared<ProbeRegistry>();
  registerBuiltinProbes(*registry);
  const std::vector<std::string>& dirs = plugin_dirs.dirs;
  const ConfigLocation& where = plugin_dirs.where;
  std::vector<ConfigIssue> issues;
  for (const std::string& dir : dirs) {
    fs::path folder(dir);
    if (folder.is_relative()) {
      folder = fs::path(plugin_dirs.base_dir) / folder;
    }
    std::error_code ec;
    std::vector<std::string> libraries;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (entry.path().extension() == ".so") {
        libraries.push_back(entry.path().string());
      }
    }
    if (ec) {
      issues.push_back({where, "agent.plugin_dirs",
                        "cannot list plugin directory " + folder.string() + ": " + ec.message()});
      continue;
    }
    if (std::string unsafe = unsafeFolder(folder); !unsafe.empty()) {
      issues.push_back({where, "agent.plugin_dirs", unsafe});
      continue;
    }
    std::sort(libraries.begin(), libraries.end());  // a stable order for duplicate reports
    for (const std::string& library : libraries) {
      if (!exportsSymbol(library, VIGIE_PLUGIN_ENTRY_SYMBOL)) {
        logWarning("plugin directory " + folder.string() + ": skipped " + library +
                   ", which does not export " + VIGIE_PLUGIN_ENTRY_SYMBOL +
                   " (not a Vigie plugin)");
        continue;
      }
      if (std::string error = loadPlugin(library, *registry); !error.empty()) {
        issues.push_back({where, "agent.plugin_dirs", error});
      }
    }
  }
  if (!issues.empty()) {
    throw ConfigError(std::move(issues));
  }
  return registry;
}

}  // namespace vigie::plugins
