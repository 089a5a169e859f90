#!/usr/bin/env bash
# ABI check of libsqlpool.so.0 with libabigail (abidiff): the library built
# from this tree against abi/libsqlpool.so.0.abi, the committed ABI of the
# last release (0.1.0, commit d749c02). Fails on any incompatible change to
# the exported functions, their parameter and return types, or the existing
# fields of the public structs; allows what abi/libsqlpool.so.0.suppr lists
# (new functions, fields appended to sqlpool_stats / sqlpool_shared_stats).
#
#   scripts/abi_check.sh                      build this tree, compare
#   scripts/abi_check.sh --library PATH       compare a library built elsewhere
#                                             (with full debug info)
#   scripts/abi_check.sh --baseline-from REV  rewrite the baseline from the
#                                             library built at git revision REV
#                                             (at a release only)
#
# The ABI is read from the DWARF of the Rust crate, so the library is built
# with the `abi` profile: release with full debug info for sqlpool
# (profile.release has line tables only), in the cargo target dir under abi/.
# A change of the Rust compiler can change how types are described: then
# regenerate the baseline from the release tag with the new compiler.
# Installs abigail-tools (Debian, as root) when abidw/abidiff do not work.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
baseline="$root/abi/libsqlpool.so.0.abi"
suppressions="$root/abi/libsqlpool.so.0.suppr"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
die() { echo "abi_check: $*" >&2; exit 1; }

if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
  PATH="$HOME/.cargo/bin:$PATH"
fi

# build_with_abi_info SOURCE_DIR TARGET_DIR: the library of SOURCE_DIR, with
# full debug info for the crate; prints its path. Another checkout needs its
# own TARGET_DIR: cargo decides freshness by mtimes relative to the package,
# so an older checkout's files look up to date against a newer build.
build_with_abi_info() {
  (cd "$1" && cargo build --lib --profile abi --target-dir "$2" \
    --config 'profile.abi.inherits="release"' --config 'profile.abi.package.sqlpool.debug=2') >&2
  echo "$2/abi/libsqlpool.so"
}

need cc abigail

case "${1:-}" in
  --baseline-from)
    rev="${2:?--baseline-from needs a git revision}"
    checkout="$(mktemp -d "${TMPDIR:-/tmp}/sqlpool-abi-baseline.XXXXXX")"
    git -C "$root" worktree add --detach "$checkout" "$rev" >&2
    trap 'git -C "$root" worktree remove --force "$checkout"' EXIT
    lib="$(build_with_abi_info "$checkout" "$checkout/target")"
    abidw --no-show-locs --no-comp-dir-path --type-id-style hash --out-file "$baseline" "$lib"
    echo "abi_check: wrote $baseline from $rev ($(git -C "$root" rev-parse --short "$rev"))," \
      "$(grep -c '<elf-symbol ' "$baseline") exported symbols"
    exit 0
    ;;
  --library)
    lib="${2:?--library needs a path}"
    [ -f "$lib" ] || die "no library at $lib"
    ;;
  "") lib="$(build_with_abi_info "$root" "$target_dir")" ;;
  *) die "unknown argument: $1 (see the top of $0)" ;;
esac
[ -f "$baseline" ] || die "no baseline at $baseline"

# A library without type information would compare as if nothing changed.
current_abi="$(mktemp "${TMPDIR:-/tmp}/sqlpool-abi.XXXXXX")"
trap 'rm -f "$current_abi"' EXIT
abidw --out-file "$current_abi" "$lib"
grep -q "<parameter type-id=.*name='out_size'" "$current_abi" \
  || die "$lib has no DWARF type information for its functions (build it with the abi profile, see above)"

echo "abi_check: abidiff $baseline $lib"
set +e
abidiff --suppressions "$suppressions" --no-show-locs "$baseline" "$lib"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  # abidiff's status is a bit set: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
  why=()
  ((status & 1)) && why+=("abidiff failed")
  ((status & 2)) && why+=("abidiff usage error")
  ((status & 4)) && why+=("an ABI change not allowed by $suppressions")
  ((status & 8)) && why+=("an incompatible ABI change (a function or variable removed)")
  reasons="$(printf '%s; ' "${why[@]}")"
  die "exit $status: ${reasons%; }. Programs built against sqlpool 0.1 would break; see API.md, \"ABI\"."
fi
echo "abi_check: compatible with the 0.1 ABI (functions and struct fields only added)"
