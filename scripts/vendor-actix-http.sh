#!/usr/bin/env bash
# The carried patch on actix-http (vendor/README.md): vendor/actix-http is the crate exactly as
# published on crates.io plus vendor/actix-http.patch, and nothing else.
#
# Usage:
#   scripts/vendor-actix-http.sh VERSION          make vendor/actix-http the published VERSION plus
#                                                 the patch (renewing the patch's line numbers)
#   scripts/vendor-actix-http.sh --check [VERSION]
#                                                 fail unless vendor/actix-http is exactly that
#                                                 (VERSION: the one vendor/actix-http says it is),
#                                                 the patch applies as it stands, and the build
#                                                 graph takes actix-http from vendor/ (`just lint`)
#   scripts/vendor-actix-http.sh --update-patch   rewrite the patch from vendor/actix-http after
#                                                 changing the code there by hand
#
# Quiet when there is nothing to do or to report; a clear message and exit 1 otherwise. Needs
# cargo, tar, diff and patch. The published .crate comes from Cargo's registry cache; when it is
# not there, `cargo fetch` on a throw-away manifest downloads it (the workspace's own `cargo fetch`
# never would: the [patch] replaces the registry's actix-http).
set -euo pipefail

crate=actix-http
root=$(cd "$(dirname "$0")/.." && pwd)
vendored=$root/vendor/$crate
patch_file=$root/vendor/$crate.patch
cargo_home=${CARGO_HOME:-$HOME/.cargo}
script=scripts/vendor-actix-http.sh

say() {
  printf '%s: %s\n' "$script" "$*" >&2
}

fail() {
  say "$@"
  exit 1
}

for tool in cargo tar diff patch; do
  command -v "$tool" >/dev/null || fail "needs $tool on PATH (Debian: apt-get install $tool)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vendor-$crate.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The version vendor/actix-http says it is: `version` in the [package] table of its Cargo.toml.
vendored_version() {
  [ -f "$vendored/Cargo.toml" ] || fail "no $vendored/Cargo.toml; run $script VERSION"
  awk '
    /^\[/ { in_package = ($0 == "[package]") }
    in_package && /^version *= *"/ { split($0, parts, "\""); print parts[2]; exit }
  ' "$vendored/Cargo.toml"
}

# Prints the path of the published .crate of version $1, downloading it into Cargo's cache first
# if it is not there.
published_crate() {
  local version=$1 found
  found=$(find_cached "$version")
  if [ -z "$found" ]; then
    # A manifest of its own, outside any workspace: inside this one, the [patch] would stand in
    # for the registry's actix-http and nothing would be downloaded.
    local fetcher=$work/fetch
    mkdir -p "$fetcher/src"
    : >"$fetcher/src/lib.rs"
    cat >"$fetcher/Cargo.toml" <<EOF
[package]
name = "fetch-$crate"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$crate = { version = "=$version", default-features = false }

[workspace]
EOF
    if ! (cd "$fetcher" && cargo fetch --quiet) >"$work/fetch.log" 2>&1; then
      cat "$work/fetch.log" >&2
      fail "could not download $crate $version from crates.io (is that version published?)"
    fi
    found=$(find_cached "$version")
    [ -n "$found" ] || fail "cargo fetch ran, but $crate-$version.crate is not in $cargo_home/registry/cache"
  fi
  printf '%s\n' "$found"
}

find_cached() {
  local candidate
  for candidate in "$cargo_home"/registry/cache/*/"$crate-$1.crate"; do
    if [ -f "$candidate" ]; then
      printf '%s\n' "$candidate"
      return
    fi
  done
}

# Unpacks the published version $1 into $work/a, as released, and clears $work/b for the caller
# to fill; sets `package` to the .crate it came from. One step for build and --update-patch, so
# both diff against the same tree and both refuse a .crate that does not hold $crate-$1/.
unpack() {
  local version=$1
  package=$(published_crate "$version")
  rm -rf "$work/unpacked" "$work/a" "$work/b"
  mkdir -p "$work/unpacked"
  tar --no-same-owner -xzf "$package" -C "$work/unpacked"
  [ -d "$work/unpacked/$crate-$version" ] || fail "$package does not hold $crate-$version/"
  mv "$work/unpacked/$crate-$version" "$work/a"
}

# Unpacks the published version $1 into $work/a (as released) and $work/b (released + patch), and
# writes the patch as it would read when made afresh from them into $work/canonical.patch. Sets
# `applied` to no, after saying why, when the patch does not apply.
build() {
  local version=$1
  unpack "$version"
  cp -R "$work/a" "$work/b"
  [ -f "$patch_file" ] || fail "no $patch_file"
  applied=yes
  # --fuzz=0: a hunk whose context changed upstream must be looked at, not applied near enough.
  patch -d "$work/b" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch \
    -i "$patch_file" >"$work/patch.log" 2>&1 || applied=no
  if [ "$applied" = no ]; then
    cat "$work/patch.log" >&2
    say "vendor/$crate.patch does not apply to $crate $version as published.
  To remake it by hand: unpack the release into vendor/$crate,
    rm -rf vendor/$crate && mkdir vendor/$crate
    tar -xzf $package --strip-components=1 -C vendor/$crate
  make the same change there, then run $script --update-patch and $script --check."
    return
  fi
  canonical "$work/canonical.patch"
}

# Writes the patch file's header (its lines before the first diff) and the diff from $work/a to
# $work/b, without timestamps so that the same trees always give the same file, to $1.
canonical() {
  local out=$1 status=0
  awk '/^(diff |--- )/ { exit } { print }' "$patch_file" >"$out" 2>/dev/null || true
  (cd "$work" && diff -ruN a b) >"$work/diff" || status=$?
  [ "$status" -le 1 ] || fail "diff failed on the unpacked trees"
  # The two lines after each `diff -ruN a/x b/x` name the files; drop their timestamps.
  awk '
    headers > 0 { sub(/\t.*$/, ""); headers-- }
    /^diff -ruN / { headers = 2 }
    { print }
  ' "$work/diff" >>"$out"
}

# Sets `graph_ok` to no, after saying why, unless the workspace's build graph takes actix-http
# $1 from vendor/: Cargo warns that a patch "was not used in the crate graph" when no dependency
# accepts its version, and then builds the registry's actix-http instead.
check_graph() {
  local version=$1 tree
  graph_ok=yes
  if ! (cd "$root" && cargo tree --invert "$crate" --depth 0 --prefix none) \
    >"$work/tree.out" 2>"$work/tree.err"; then
    cat "$work/tree.err" >&2
    say "cargo tree -i $crate failed (above): the build graph has no single $crate"
    graph_ok=no
    return
  fi
  if grep -q 'was not used in the crate graph' "$work/tree.err"; then
    grep -A3 'was not used in the crate graph' "$work/tree.err" >&2
    say "the [patch.crates-io] $crate in Cargo.toml is not used: the build takes the registry's $crate, without the patch"
    graph_ok=no
    return
  fi
  tree=$(head -n 1 "$work/tree.out")
  case "$tree" in
    "$crate v$version ("*"/vendor/$crate)") ;;
    *)
      say "the build graph's $crate is \"$tree\", not $crate v$version from vendor/$crate"
      graph_ok=no
      ;;
  esac
}

case "${1:-}" in
  --check)
    [ $# -le 2 ] || fail "usage: $script --check [VERSION]"
    version=${2:-$(vendored_version)}
    [ -n "$version" ] || fail "no version in vendor/$crate/Cargo.toml"
    # Every check runs, so that one run reports every problem.
    ok=yes
    build "$version"
    if [ "$applied" = yes ]; then
      # Named for what it is, in the differences shown.
      ln -s b "$work/$crate-$version+patch"
      if ! (cd "$work" && diff -r "$crate-$version+patch" "$vendored") >"$work/tree.diff" 2>&1; then
        head -n 60 "$work/tree.diff" >&2
        say "vendor/$crate is not $crate $version as published plus vendor/$crate.patch (differences above).
  To keep a change, run $script --update-patch; to undo it, run $script $version."
        ok=no
      fi
      if ! cmp -s "$work/canonical.patch" "$patch_file"; then
        diff -u "$patch_file" "$work/canonical.patch" >&2 || true
        say "vendor/$crate.patch applies, but is not what it would be made afresh (its line numbers or context drifted, or it was edited by hand); run $script $version to renew it"
        ok=no
      fi
    else
      ok=no
    fi
    check_graph "$version"
    [ "$ok" = yes ] && [ "$graph_ok" = yes ] || exit 1
    ;;
  --update-patch)
    [ $# -eq 1 ] || fail "usage: $script --update-patch"
    version=$(vendored_version)
    [ -n "$version" ] || fail "no version in vendor/$crate/Cargo.toml"
    unpack "$version"
    cp -R "$vendored" "$work/b"
    canonical "$work/canonical.patch"
    if ! cmp -s "$work/canonical.patch" "$patch_file"; then
      cp "$work/canonical.patch" "$patch_file"
      echo "vendor/$crate.patch: rewritten from vendor/$crate" >&2
    fi
    ;;
  -* | "")
    fail "usage: $script VERSION | --check [VERSION] | --update-patch"
    ;;
  *)
    [ $# -eq 1 ] || fail "usage: $script VERSION"
    version=$1
    build "$version"
    [ "$applied" = yes ] || exit 1
    changed=
    if ! diff -r "$work/b" "$vendored" >/dev/null 2>&1; then
      rm -rf "$vendored"
      cp -R "$work/b" "$vendored"
      changed=1
    fi
    if ! cmp -s "$work/canonical.patch" "$patch_file"; then
      cp "$work/canonical.patch" "$patch_file"
      changed=1
    fi
    if [ -n "$changed" ]; then
      echo "vendor/$crate: now $crate $version as published plus vendor/$crate.patch" >&2
    fi
    check_graph "$version"
    [ "$graph_ok" = yes ] || exit 1
    ;;
esac
