#!/usr/bin/env bash
# A plugin author's path: install the SDK (the "devel" component the -devel RPM ships), build the
# example plugin out of tree with find_package(vigie), load it with the real agent.
# Usage: external_build_test.sh BUILD_DIR SOURCE_DIR AGENT
set -euo pipefail
build_dir=$1 source_dir=$2 agent=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --component devel --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/vigie/plugin_abi.h"
test -f "$work/prefix/include/vigie/plugin_sdk.hpp"

# No yaml-cpp behind the public headers: each one compiles on its own with a yaml-cpp that fails
# when reached (first on the include path), the installed SDK and the agent's C++ API alike.
mkdir -p "$work/poison/yaml-cpp"
echo '#error "yaml-cpp reached from a public vigie header"' > "$work/poison/yaml-cpp/yaml.h"
for header in "$work"/prefix/include/vigie/* "$source_dir"/agent/include/vigie/*.h; do
  include_dir=$(dirname "$(dirname "$header")")
  echo "#include <vigie/$(basename "$header")>" |
    "${CXX:-c++}" -std=c++20 -fsyntax-only -I"$work/poison" -I"$include_dir" -x c++ - || {
    echo "$header does not compile without yaml-cpp" >&2
    exit 1
  }
done
cmake -S "$source_dir/examples/plugins/file_age" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
plugin="$work/build/file_age.so"

# Only the entry point is exported.
exported=$(nm -D --defined-only "$plugin" | awk '$2 == "T" || $2 == "D" { print $3 }')
if [ "$exported" != "vigie_plugin_entry" ]; then
  echo "unexpected exported symbols: $exported" >&2
  exit 1
fi

mkdir "$work/plugins"
cp "$plugin" "$work/plugins/"
touch "$work/watched"
cat > "$work/vigie.yaml" <<YAML
agent: { plugin_dirs: [plugins] }
probes:
  - name: watched
    type: file_age
    file_age: { path: "$work/watched", max_age: 1h }
YAML
output=$("$agent" --probe watched --config "$work/vigie.yaml" 2>/dev/null) || {
  echo "vigie-agent --probe exited $?: $output" >&2
  exit 1
}
case "$output" in
  "OK - watched: $work/watched is "*"s old | duration="*) echo "$output" ;;
  *) echo "unexpected output: $output" >&2; exit 1 ;;
esac
