/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin in plain C that breaks the contract on purpose, one way per `mode`, to show that the
 * agent survives it. Built several times (CMakeLists.txt): MISBEHAVE_WRONG_ABI reports ABI 99,
 * MISBEHAVE_NO_ENTRY exports no entry point, MISBEHAVE_ABI_V1 answers only an agent of ABI 1 as
 * a plugin built with the v1 SDK does, MISBEHAVE_FAMILY_CLASH declares probe_ip_protocol (a
 * built-in family) with another help text. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigie/plugin_abi.h"

typedef struct instance {
  char mode[32];
  pthread_t thread;
  int thread_started;
  vigie_complete_fn complete;
  void* op;
} instance;

static const char* const kModes[] = {"never",       "twice",       "late", "garbage",
                                     "null_result", "start_fails", "ok"};

static const vigie_field kFields[] = {
    {"mode", VIGIE_FIELD_STRING, 1, NULL, "How to misbehave", kModes, 7},
    {"delay", VIGIE_FIELD_DURATION, 0, "500ms", "Delay of a late completion"},
};

#ifdef MISBEHAVE_FAMILY_CLASH
static const vigie_family kFamilies[] = {
    {"probe_ip_protocol", "Not the help the built-in types declared", VIGIE_METRIC_GAUGE},
};
#else
static const vigie_family kFamilies[] = {
    {"nan_value", "A value that is not a number", VIGIE_METRIC_GAUGE},
    {"reserved_label", "Reported with a label the agent reserves", VIGIE_METRIC_GAUGE},
};
#endif

static int32_t create(const vigie_host_api* host, const char* name, const vigie_kv* config,
                      size_t count, void** out, char* error, size_t error_size) {
  (void)host;
  (void)name;
  instance* self = calloc(1, sizeof *self);
  if (self == NULL) {
    strncpy(error, "out of memory", error_size - 1);
    return 1;
  }
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(config[i].key, "mode") == 0) {
      strncpy(self->mode, config[i].value, sizeof self->mode - 1);
    }
  }
  *out = self;
  return 0;
}

static void destroy(void* opaque) {
  instance* self = opaque;
  if (self->thread_started) {
    pthread_join(self->thread, NULL); /* no work may outlive the instance */
  }
  free(self);
}

static void complete_ok(vigie_complete_fn complete, void* op, const char* message) {
  vigie_result result;
  memset(&result, 0, sizeof result);
  result.struct_size = sizeof result;
  result.sample_struct_size = sizeof(vigie_sample);
  result.status = VIGIE_STATUS_OK;
  result.message = message;
  complete(op, &result);
}

static void* complete_twice(void* opaque) {
  instance* self = opaque;
  struct timespec pause = {0, 20 * 1000 * 1000};
  nanosleep(&pause, NULL);
  complete_ok(self->complete, self->op, "first completion");
  complete_ok(self->complete, self->op, "second completion");
  return NULL;
}

static void* complete_late(void* opaque) {
  instance* self = opaque;
  struct timespec pause = {0, 500 * 1000 * 1000};
  nanosleep(&pause, NULL);
  complete_ok(self->complete, self->op, "too late");
  return NULL;
}

static void complete_garbage(vigie_complete_fn complete, void* op) {
  static const vigie_label kLabels[] = {{"probe", "reserved"}};
  static const vigie_label kGood[] = {{"disk", "sda"}};
  vigie_sample samples[3];
  memset(samples, 0, sizeof samples);
  samples[0].family = 0;
  samples[0].value = NAN;
  samples[0].labels = kGood;
  samples[0].label_count = 1;
  samples[1].family = 7; /* not declared */
  samples[1].value = 1;
  samples[2].family = 1;
  samples[2].labels = kLabels;
  samples[2].label_count = 1;
  vigie_result result;
  memset(&result, 0, sizeof result);
  result.struct_size = sizeof result;
  result.sample_struct_size = sizeof(vigie_sample);
  result.status = 7;
  result.reason = "Not A Word";
  result.message = "bad \xff\xfe bytes";
  result.samples = samples;
  result.sample_count = 3;
  result.details = NULL;
  result.detail_count = 1000000; /* with a NULL array: must not be read */
  complete(op, &result);
}

static int32_t start(void* opaque, int64_t timeout_ms, vigie_complete_fn complete, void* op) {
  (void)timeout_ms;
  instance* self = opaque;
  self->complete = complete;
  self->op = op;
  if (self->thread_started) {
    pthread_join(self->thread, NULL);
    self->thread_started = 0;
  }
  if (strcmp(self->mode, "never") == 0) {
    return 0;
  }
  if (strcmp(self->mode, "twice") == 0 || strcmp(self->mode, "late") == 0) {
    self->thread_started = 1;
    return pthread_create(&self->thread, NULL,
                          strcmp(self->mode, "twice") == 0 ? complete_twice : complete_late, self);
  }
  if (strcmp(self->mode, "garbage") == 0) {
    complete_garbage(complete, op);
    return 0;
  }
  if (strcmp(self->mode, "null_result") == 0) {
    complete(op, NULL);
    return 0;
  }
  if (strcmp(self->mode, "start_fails") == 0) {
    return 5;
  }
  complete_ok(complete, op, "all good");
  return 0;
}

static vigie_probe_type kType = {sizeof(vigie_probe_type),
                                 VIGIE_PLUGIN_ABI_MAJOR,
                                 VIGIE_PLUGIN_ABI_MINOR,
                                 sizeof(vigie_field),
                                 sizeof(vigie_family),
                                 "misbehaving",
                                 "Breaks the plugin contract on purpose",
                                 kFields,
                                 2,
                                 kFamilies,
                                 sizeof kFamilies / sizeof kFamilies[0],
                                 create,
                                 destroy,
                                 start,
                                 NULL};

#ifdef MISBEHAVE_NO_ENTRY
VIGIE_PLUGIN_EXPORT const vigie_probe_type* not_the_entry_point(uint32_t host_abi_major) {
  (void)host_abi_major;
  return &kType;
}
#else
VIGIE_PLUGIN_EXPORT const vigie_probe_type* vigie_plugin_entry(uint32_t host_abi_major) {
  (void)host_abi_major;
#ifdef MISBEHAVE_ABI_V1
  if (host_abi_major != 1) {
    return NULL;
  }
  kType.abi_major = 1;
#endif
#ifdef MISBEHAVE_WRONG_ABI
  kType.abi_major = 99;
#endif
  return &kType;
}
#endif
