// SPDX-License-Identifier: Apache-2.0
#include "console/html_pages.h"

namespace vigie {

// Bump the version in the path with every change of the stylesheet: it is served cacheable.
const std::string_view kConsoleCssPath = "/static/console-2.css";

// Colours are dark text on light tints (contrast above 7:1); the state is also a word and a
// shape in the HTML. Sizes in rem and wrapping cells keep the page usable at 200 % zoom.
const std::string_view kConsoleCss = R"css(
*, *::before, *::after { box-sizing: border-box; }
html { font-family: system-ui, "DejaVu Sans", Arial, sans-serif; font-size: 100%;
  color: #1a1a1a; background: #ffffff; line-height: 1.45; }
body { margin: 0; }
a { color: #0b4f9c; text-decoration: underline; }
a:visited { color: #5b2a86; }
:focus-visible, a:focus, button:focus, input:focus, select:focus, textarea:focus,
  [tabindex]:focus { outline: 3px solid #b3005a; outline-offset: 2px; }
.skip { position: absolute; left: 0.5rem; top: -10rem; background: #ffffff; color: #0b4f9c;
  padding: 0.5rem 1rem; border: 2px solid #0b4f9c; z-index: 10; }
.skip:focus { top: 0.5rem; }
header.top { background: #12263f; color: #ffffff; padding: 0.5rem 1rem; display: flex;
  flex-wrap: wrap; gap: 0.5rem 2rem; align-items: center; }
header.top a, header.top a:visited { color: #ffffff; }
header.top :focus { outline-color: #ffd34d; }
.site { margin: 0; font-weight: bold; font-size: 1.25rem; }
.agent { font-weight: normal; font-size: 1rem; }
nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; }
main { padding: 0.5rem 1rem 2rem; max-width: 100rem; }
main:focus { outline: none; }
footer { border-top: 1px solid #6b6b6b; padding: 0.5rem 1rem; color: #333333; }
h1 { font-size: 1.6rem; margin: 0.75rem 0; }
h2 { font-size: 1.25rem; margin: 1.25rem 0 0.5rem; }
.badge { display: inline-block; padding: 0.05rem 0.45rem; border: 1px solid currentColor;
  border-radius: 0.3rem; font-weight: bold; white-space: nowrap; text-decoration: none; }
a.badge, a.badge:visited { text-decoration: none; }
.s-critical.badge, a.badge.s-critical { background: #fde2e1; color: #8a0010; }
.s-warning.badge, a.badge.s-warning { background: #fff1c2; color: #5c3b00; }
.s-unknown.badge, a.badge.s-unknown { background: #efe6fa; color: #4a2a7a; }
.s-ok.badge, a.badge.s-ok { background: #e0f3e5; color: #0b5a26; }
.s-pending.badge, a.badge.s-pending { background: #eceff1; color: #37474f; }
tr.s-critical { border-left: 0.4rem solid #b00020; }
tr.s-warning { border-left: 0.4rem solid #8a5a00; }
tr.s-unknown { border-left: 0.4rem solid #5e35b1; }
.counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5rem; }
.counts a { padding: 0.3rem 0.7rem; }
.filters form { border: 1px solid #6b6b6b; padding: 0.5rem 1rem; border-radius: 0.3rem; }
fieldset { border: 1px solid #6b6b6b; margin: 0 0 0.5rem; }
.check { display: inline-block; margin-right: 1rem; white-space: nowrap; }
.fields { display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
.fields p { margin: 0.25rem 0; }
input[type=text], select, textarea { font: inherit; border: 1px solid #4d4d4d;
  padding: 0.2rem 0.4rem; max-width: 100%; }
textarea { width: 40rem; max-width: 100%; }
button { font: inherit; padding: 0.35rem 1rem; background: #0b4f9c; color: #ffffff;
  border: 2px solid #0b4f9c; border-radius: 0.3rem; cursor: pointer; }
button:hover { background: #083a73; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
caption { text-align: left; font-weight: bold; padding: 0.4rem 0; }
th, td { border: 1px solid #8c8c8c; padding: 0.35rem 0.5rem; text-align: left;
  vertical-align: top; overflow-wrap: break-word; }
thead th { background: #e8edf3; }
tbody th { font-weight: normal; }
tbody th a { font-weight: bold; }
.minor { color: #4d4d4d; font-size: 0.9rem; }
.label { display: inline-block; font-size: 0.85rem; background: #f1f3f5; color: #333333;
  border: 1px solid #8c8c8c; border-radius: 0.25rem; padding: 0 0.3rem; margin: 0.1rem 0.2rem 0 0; }
.flags { margin: 0; padding-left: 1.1rem; }
.notice { background: #e0f3e5; color: #0b5a26; border: 2px solid #0b5a26; padding: 0.5rem 1rem;
  font-weight: bold; }
.instructions { background: #fff8e1; border: 3px solid #8a5a00; padding: 0.25rem 1rem 0.5rem;
  margin: 1rem 0; font-size: 1.1rem; }
.pre-line { white-space: pre-line; }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
.summary dt { font-weight: bold; }
.summary dd { margin: 0; overflow-wrap: anywhere; }
.actions form { margin-bottom: 0.75rem; }
.hint { color: #4d4d4d; font-size: 0.9rem; }
.readonly { background: #f1f3f5; border: 1px solid #6b6b6b; padding: 0.5rem 1rem; }
.excerpt { background: #f6f8fa; border: 1px solid #8c8c8c; padding: 0.5rem; overflow-x: auto;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 30rem; }
@media (max-width: 40rem) {
  .summary { grid-template-columns: 1fr; }
  textarea { width: 100%; }
}
)css";

}  // namespace vigie
