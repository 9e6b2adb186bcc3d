#!/usr/bin/env bash
# Regenerates internal/redact/gazetteer.txt.gz from pinned npm packages (MIT):
#   humannames 1.0.5 (Alex Corvi): ~197,000 first and last names
#   gender-detection-from-name 1.11.5 (Davide Violante): given names for en, es, fr, it, de, tr
# Names that are also lower-case words of the hunspell dictionaries of en, es, fr, de, it
# and pt are tagged as such (they are taken only next to another name part); the
# dictionaries are read here only and are not shipped. Needs npm, tar, go and the Debian
# packages hunspell-en-us hunspell-es hunspell-fr hunspell-de-de hunspell-it hunspell-pt-pt.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
for pkg in humannames@1.0.5 gender-detection-from-name@1.11.5; do
	npm pack --silent "$pkg" >/dev/null
done
mkdir hn gd
tar -xzf humannames-1.0.5.tgz -C hn
tar -xzf gender-detection-from-name-1.11.5.tgz -C gd

dicts=""
for d in en_US es_ES fr_FR de_DE it_IT pt_PT; do
	f=/usr/share/hunspell/$d.dic
	[ -r "$f" ] || { echo "missing $f (apt-get install hunspell-…)" >&2; exit 1; }
	dicts="$dicts${dicts:+,}$f"
done

cd "$repo"
go run ./internal/redact/internal/gen \
	-names "$work/hn/package/list.txt" \
	-given "$work/gd/package/names" \
	-extra internal/redact/given_names.txt \
	-dicts "$dicts" \
	-out internal/redact/gazetteer.txt.gz
