#!/usr/bin/env bash
# Re-copies the OFAC reference data the product ships into data/ofac/ from a folder laid out like
# the project's shared/data/ofac (per-asset address lists + sdn/<date>/*.csv snapshots).
# The product only ever reads data/ofac/ at run time; this script is the operators' refresh step.
# Review `git diff --stat data/ofac` (and update data/ofac/README.md's counts/dates) before
# committing: a new list changes every decision's recorded list version.
set -euo pipefail
src=${1:?usage: tools/refresh-ofac.sh PATH/TO/ofac   (folder with sanctioned_addresses_*.txt and sdn/)}
src=$(cd "$src" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/data/ofac"

shopt -s nullglob
lists=("$src"/sanctioned_addresses_*.txt)
if [ ${#lists[@]} -eq 0 ]; then
  echo "no sanctioned_addresses_*.txt in $src" >&2; exit 1
fi

# Newest dated snapshot whose file is non-empty: upstream scrapes sometimes commit an empty
# sdn.csv after a failed download, and shipping that would silently disable name screening.
newest_with() {
  local file=$1 dir
  for dir in $(ls -d "$src"/sdn/*/ 2>/dev/null | sort -r); do
    if [ -s "$dir/$file" ]; then basename "$dir"; return 0; fi
  done
  return 1
}
primary=$(newest_with sdn.csv) || { echo "no non-empty sdn/<date>/sdn.csv in $src" >&2; exit 1; }
# Aliases (alt.csv) come with the sdn.csv of the same download, so ent_num re-use between
# snapshots can be detected when joining them onto the newer primary list.
alias_date=$(newest_with alt.csv) || alias_date=""
if [ -n "$alias_date" ] && [ ! -s "$src/sdn/$alias_date/sdn.csv" ]; then
  echo "sdn/$alias_date has alt.csv but no sdn.csv to check ent_num re-use against" >&2; exit 1
fi

for f in "${lists[@]}"; do
  # A list is addresses only: one per line, no blank lines, no spaces; refuse anything else.
  if [ ! -s "$f" ] || tr -d '\r' <"$f" | grep -qE '^$|[[:space:]]'; then
    echo "empty list, blank line or whitespace in $f" >&2; exit 1
  fi
done

stage=$(mktemp -d "$root/data/.ofac-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp "${lists[@]}" "$stage/"
mkdir -p "$stage/sdn/$primary"
cp "$src/sdn/$primary/sdn.csv" "$stage/sdn/$primary/sdn.csv"
if [ -n "$alias_date" ]; then
  mkdir -p "$stage/sdn/$alias_date"
  cp "$src/sdn/$alias_date/alt.csv" "$src/sdn/$alias_date/sdn.csv" "$stage/sdn/$alias_date/"
fi
for readme in README.md sdn/README.md; do
  if [ -f "$src/$readme" ]; then cp "$src/$readme" "$stage/${readme%README.md}UPSTREAM_README.md"; fi
done
commit=$(grep -m1 -oE 'Commit: `[0-9a-f]{40}`' "$src/README.md" 2>/dev/null | grep -oE '[0-9a-f]{40}' || echo unknown)
{
  echo "# Written by tools/refresh-ofac.sh; read by the gateway to find the files (see README.md)."
  echo "addresses_commit=$commit"
  echo "sdn=sdn/$primary/sdn.csv"
  if [ -n "$alias_date" ]; then
    echo "aliases=sdn/$alias_date/alt.csv"
    echo "aliases_sdn=sdn/$alias_date/sdn.csv"
  fi
} >"$stage/SOURCE"
# Keep the hand-written provenance README; everything else is replaced as a whole.
if [ -f "$dest/README.md" ]; then cp "$dest/README.md" "$stage/README.md"; fi
rm -rf "$dest.old"
if [ -d "$dest" ]; then mv "$dest" "$dest.old"; fi
mv "$stage" "$dest"
trap - EXIT
rm -rf "$dest.old"
chmod -R u+w,a+rX "$dest"
echo "refreshed $dest from $src: ${#lists[@]} address lists, sdn/$primary${alias_date:+, aliases from sdn/$alias_date}"
