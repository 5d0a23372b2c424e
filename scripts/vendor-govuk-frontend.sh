#!/usr/bin/env bash
# Vendor GOV.UK Frontend's compiled CSS and JS into node/portal/static/govuk-frontend/ at the version that
# govuk-frontend-jinja (pinned in pyproject.toml) targets, so `pip install` needs no npm.
# Left out on purpose: the GDS Transport font (only GOV.UK may use it; its @font-face rules and the font name
# are stripped from the CSS, so text falls back to Arial) and every image (the crown, the crest and the
# GOV.UK icons are GOV.UK's marks, and a council is not GOV.UK).
set -euo pipefail
VERSION=6.3.0
cd "$(dirname "$0")/.."
out=node/portal/static/govuk-frontend
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "govuk-frontend@$VERSION" --silent >/dev/null && tar xzf "govuk-frontend-$VERSION.tgz")
dist="$work/package/dist/govuk"
mkdir -p "$out"
cp "$dist/govuk-frontend.min.js" "$out/govuk-frontend.min.js"
sed -e 's/@font-face{font-family:GDS Transport;[^}]*}//g' -e 's/font-family:GDS Transport,/font-family:/g' \
    -e 's/font-family:GDS Transport\([;}]\)/font-family:arial,sans-serif\1/g' \
    "$dist/govuk-frontend.min.css" >"$out/govuk-frontend.min.css"
if grep -q 'GDS Transport\|/assets/fonts/' "$out/govuk-frontend.min.css"; then
  echo "vendor: the GDS Transport font is still referenced" >&2
  exit 1
fi
echo "$VERSION" >"$out/VERSION"
# The npm package states its licence in package.json and README.md; this is the repository's LICENSE.txt.
cat >"$out/LICENCE.txt" <<'LICENCE'
GOV.UK Frontend (npm package govuk-frontend), vendored here: govuk-frontend.min.css, govuk-frontend.min.js.

The MIT License (MIT)

Copyright (c) 2018 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
the Software, and to permit persons to whom the Software is furnished to do so,
subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
LICENCE
echo "vendored govuk-frontend $VERSION into $out"
