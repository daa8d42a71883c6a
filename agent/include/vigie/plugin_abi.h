/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Vigie probe plugin ABI: the only contract between the agent and a probe type built as a shared
 * library. Plain C, so a plugin built with another compiler or standard library still loads; no
 * Asio and no C++ types cross it. See docs/PLUGINS.md.
 *
 * Versioning: VIGIE_PLUGIN_ABI_MAJOR changes on any incompatible change and the agent refuses a
 * plugin built for another major. Minor versions only add fields at the end of the structs below;
 * every extensible struct starts with its size, so each side reads only what the other wrote.
 *
 * Threads: create, destroy, start and cancel are called on the agent's event loop thread and
 * must not block. The completion callback may be called from any thread.
 */
#ifndef VIGIE_PLUGIN_ABI_H
#define VIGIE_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: metric families are declared with the probe type (vigie_family); a sample names its
 * family by index instead of carrying a name and help text. See docs/PLUGINS.md, "v1 to v2". */
#define VIGIE_PLUGIN_ABI_MAJOR 2
#define VIGIE_PLUGIN_ABI_MINOR 0

/* The one symbol a plugin exports. */
#define VIGIE_PLUGIN_ENTRY_SYMBOL "vigie_plugin_entry"

#if defined(__GNUC__)
#define VIGIE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define VIGIE_PLUGIN_EXPORT
#endif

/* Statuses, in Nagios order. */
enum {
  VIGIE_STATUS_OK = 0,
  VIGIE_STATUS_WARNING = 1,
  VIGIE_STATUS_CRITICAL = 2,
  VIGIE_STATUS_UNKNOWN = 3
};

/* Types of config keys. The agent validates the probe's block and passes every value to
 * create() as text: STRING and SECRET as written (after ${ENV} expansion or <key>_file), INT as
 * decimal, FLOAT as "%.17g", BOOL as "true"/"false", DURATION as whole milliseconds. */
enum {
  VIGIE_FIELD_STRING = 0,
  VIGIE_FIELD_SECRET = 1, /* never logged; also settable as <key>_file */
  VIGIE_FIELD_INT = 2,
  VIGIE_FIELD_FLOAT = 3,
  VIGIE_FIELD_BOOL = 4,
  VIGIE_FIELD_DURATION = 5 /* written "500ms", "30s", "1m30s" in the config */
};

/* One key of the probe type's config block. */
typedef struct vigie_field {
  const char* key;
  int32_t type;              /* VIGIE_FIELD_* */
  int32_t required;          /* non-zero: the block must set it */
  const char* default_value; /* as written in YAML ("30s", "true"); NULL: not set */
  const char* doc;
  const char* const* choices; /* STRING only: accepted values; NULL for any */
  size_t choice_count;
} vigie_field;

/* A key and its value, both valid until the call that receives them returns. */
typedef struct vigie_kv {
  const char* key;
  const char* value;
} vigie_kv;

typedef struct vigie_label {
  const char* name;
  const char* value;
} vigie_label;

/* Kinds of metric families, as in the Prometheus text format. */
enum { VIGIE_METRIC_GAUGE = 0, VIGIE_METRIC_COUNTER = 1 };

/* One metric family the probe type reports, declared once with the type: the agent exports its
 * HELP and TYPE lines from here. A name another probe type already declared must come with the
 * same help and type; probe_success, probe_duration_seconds and vigie_probe_* are the agent's. */
typedef struct vigie_family {
  const char* name; /* [a-zA-Z_:][a-zA-Z0-9_:]* */
  const char* help;
  int32_t type; /* VIGIE_METRIC_* */
} vigie_family;

/* One value of a declared family. The agent adds the probe, type and configured labels. */
typedef struct vigie_sample {
  uint32_t family; /* index into vigie_probe_type.families */
  double value;
  const vigie_label* labels;
  size_t label_count;
} vigie_sample;

/* The outcome of one execution. Everything it points to is borrowed: it must stay valid until
 * complete() returns, and the agent copies what it keeps. */
typedef struct vigie_result {
  uint32_t struct_size;        /* sizeof(vigie_result) */
  uint32_t sample_struct_size; /* sizeof(vigie_sample), the stride of `samples` */
  int32_t status;              /* VIGIE_STATUS_* */
  const char* reason;          /* short fixed word when not OK ("connect", "timeout"...) */
  const char* message;         /* one line for humans */
  const vigie_sample* samples;
  size_t sample_count;        /* at most 1000 are kept */
  const char* const* details; /* extra lines shown by `vigie-agent --probe` */
  size_t detail_count;
} vigie_result;

/* Reports the end of one execution: exactly once per successful start(), from any thread.
 * Calls after the first, or after the run was cancelled or timed out, are ignored. */
typedef void (*vigie_complete_fn)(void* op, const vigie_result* result);

enum { VIGIE_LOG_DEBUG = 0, VIGIE_LOG_INFO = 1, VIGIE_LOG_WARNING = 2, VIGIE_LOG_ERROR = 3 };

/* What the agent lends to a plugin; valid until destroy() of every instance returns. */
typedef struct vigie_host_api {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  void* host;
  /* Writes one log line attributed to the probe; any thread. */
  void (*log)(void* host, int32_t level, const char* message);
} vigie_host_api;

/* A probe type. The struct and everything it points to live as long as the library is loaded. */
typedef struct vigie_probe_type {
  uint32_t struct_size; /* sizeof(vigie_probe_type) */
  uint32_t abi_major;   /* VIGIE_PLUGIN_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;
  uint32_t field_struct_size;  /* sizeof(vigie_field), the stride of `fields` */
  uint32_t family_struct_size; /* sizeof(vigie_family), the stride of `families` */
  const char* type_name;       /* [a-z0-9_]+, unique in the agent */
  const char* description;
  const vigie_field* fields;
  size_t field_count;
  const vigie_family* families; /* every family the type's samples refer to */
  size_t family_count;
  /* Builds one configured probe from its validated block. Returns 0 and sets *instance, or
   * non-zero with a message in `error` (a config error pointing at the probe's block). */
  int32_t (*create)(const vigie_host_api* host, const char* probe_name, const vigie_kv* config,
                    size_t config_count, void** instance, char* error, size_t error_size);
  /* Frees an instance. No execution of it is running; late work it still has must be stopped
   * before this returns (the library may be unloaded afterwards). */
  void (*destroy)(void* instance);
  /* Starts one execution. Returns 0 when `complete(op, ...)` will be called, non-zero when the
   * execution could not start (complete must then not be called). Never concurrent with itself
   * on one instance. The agent enforces the timeout: `timeout_ms` is for the plugin's own I/O. */
  int32_t (*start)(void* instance, int64_t timeout_ms, vigie_complete_fn complete, void* op);
  /* Asks to stop the execution `op` early (timeout, reload, shutdown). Best effort: the agent
   * does not wait for it and ignores a completion that comes later. May be NULL. */
  void (*cancel)(void* instance, void* op);
} vigie_probe_type;

/* The entry point: returns the plugin's probe type, or NULL when it cannot serve an agent that
 * speaks `host_abi_major`. The agent may call it again with an older major to tell which ABI a
 * plugin it cannot load was built for; only the first three fields of that answer are read. */
typedef const vigie_probe_type* (*vigie_plugin_entry_fn)(uint32_t host_abi_major);

#ifdef __cplusplus
}
#endif

#endif /* VIGIE_PLUGIN_ABI_H */
