// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

#include "console/html_pages.h"

namespace vigie {

/// Every word the console's pages show, in one language. A struct rather than a key lookup:
/// a missing translation does not compile.
struct PageTexts {
  std::string_view html_lang;
  std::string_view skip_link;
  std::string_view site_name;
  std::string_view nav_label;
  std::string_view nav_status;
  std::string_view nav_metrics;
  std::string_view other_language_name;  ///< the link to the other language, in that language
  std::string_view other_language_code;
  std::string_view footer_generated;
  std::string_view footer_timezone;
  std::string_view footer_user;
  std::string_view footer_operator;
  std::string_view footer_reader;
  std::string_view footer_anonymous;
  // Status words, singular and plural (the title counts them).
  std::string_view status_ok, status_warning, status_critical, status_unknown, status_pending;
  std::string_view plural_ok, plural_warning, plural_critical, plural_unknown, plural_pending;
  std::string_view title_all_ok;
  std::string_view title_no_probe;
  std::string_view status_heading;
  std::string_view counts_label;
  std::string_view filters_heading;
  std::string_view filter_status;
  std::string_view filter_name;
  std::string_view filter_problems;
  std::string_view filter_group;
  std::string_view filter_group_none;
  std::string_view filter_submit;
  std::string_view filter_reset;
  std::string_view filter_active;
  std::string_view table_caption;
  std::string_view group_caption;
  std::string_view group_without_label;
  std::string_view col_state;
  std::string_view col_probe;
  std::string_view col_since;
  std::string_view col_reason_message;
  std::string_view col_flags;
  std::string_view col_labels;
  std::string_view no_probe_matches;
  std::string_view pager_label, pager_showing, pager_to, pager_of, pager_previous, pager_next;
  std::string_view attempt;
  std::string_view flag_acknowledged;
  std::string_view flag_silenced_until;
  std::string_view flag_maintenance;
  std::string_view flag_unreachable;
  std::string_view flag_flapping;
  std::string_view by;
  // Probe page.
  std::string_view probe_title_prefix;
  std::string_view instructions_heading;
  std::string_view runbook_link;
  std::string_view summary_heading;
  std::string_view field_type;
  std::string_view field_state;
  std::string_view field_since;
  std::string_view field_last_run;
  std::string_view field_duration;
  std::string_view field_reason;
  std::string_view field_message;
  std::string_view field_labels;
  std::string_view field_schedule;
  std::string_view field_depends_on;
  std::string_view field_acknowledgement;
  std::string_view every, timeout;
  std::string_view none;
  std::string_view actions_heading;
  std::string_view actions_read_only;
  std::string_view actions_anonymous;
  std::string_view ack_legend;
  std::string_view ack_comment;
  std::string_view ack_submit;
  std::string_view ack_no_problem;
  std::string_view unack_submit;
  std::string_view silence_legend;
  std::string_view silence_duration;
  std::string_view silence_comment;
  std::string_view silence_submit;
  std::string_view unsilence_submit;
  std::string_view run_submit;
  std::string_view run_hint;
  std::string_view comment_hint;
  std::string_view results_heading;
  std::string_view results_caption;
  std::string_view col_time;
  std::string_view col_status;
  std::string_view col_duration;
  std::string_view col_reason;
  std::string_view col_message;
  std::string_view no_results;
  std::string_view phases_caption;
  std::string_view col_phase;
  std::string_view certificate_heading;
  std::string_view cert_subject, cert_issuer, cert_expiry;
  std::string_view redirects_heading;
  std::string_view excerpt_heading;
  std::string_view history_heading;
  std::string_view history_caption;
  std::string_view col_event;
  std::string_view col_detail;
  std::string_view col_author;
  std::string_view col_destination;
  std::string_view col_outcome;
  std::string_view no_history;
  std::string_view back_to_status;
  // Confirmations after an action (`done=` in the redirect's query).
  std::string_view done_acknowledged, done_unacknowledged, done_silenced, done_unsilenced, done_run;
  std::string_view decimal_separator;
};

const PageTexts& pageTexts(PageLanguage language);

}  // namespace vigie
