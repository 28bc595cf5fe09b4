#!/usr/bin/env bash
# Refreshes the reference data the product ships (asset registry; OFAC lists if present) from
# a folder laid out like the project's shared/data. Review `git diff data/` before committing.
set -euo pipefail
src=${1:?usage: tools/refresh-data.sh PATH/TO/shared/data}
root=$(cd "$(dirname "$0")/.." && pwd)
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$src/assets.json"
cp "$src/assets.json" "$root/data/assets/reference.json"
echo "refreshed data/assets/reference.json from $src/assets.json"
if [ -d "$src/ofac" ] && [ -x "$root/tools/refresh-ofac.sh" ]; then
  "$root/tools/refresh-ofac.sh" "$src/ofac"
fi
