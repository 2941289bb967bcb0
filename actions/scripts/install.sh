#!/usr/bin/env bash
# Install dtf for this runner, then put it on PATH for the steps that follow.
#
# The release archive for the runner's OS and architecture is downloaded and checked
# against the sha256 kept in this action (../checksums.txt), so the bytes that run are
# the bytes the release workflow built, whatever happens to the release page later.
# Without a checksum for this version and platform there is no verified asset: dtf is
# built from source with `cargo install` instead, never installed unverified. A
# checksum that does not match stops the job: that is tampering or corruption, not
# something to work around quietly.
#
# Inputs (environment): INPUT_VERSION (a release such as 0.1.0, or `local` to build
# the checkout that holds this action), RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP,
# GITHUB_PATH, GITHUB_OUTPUT.
# Outputs: bin (the dtf executable), version (what `dtf --version` printed), source
# (release or cargo).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
action_dir=$(dirname -- "$here")
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

: "${GITHUB_PATH:?GITHUB_PATH is not set: run this inside a GitHub Actions job}"
: "${RUNNER_OS:?RUNNER_OS is not set: run this inside a GitHub Actions job}"

version=${INPUT_VERSION:-}
version=${version#v}
if [[ $version != local && ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
  dtf_die "input version must be a release such as 0.1.0 or v0.1.0, or local; got: ${INPUT_VERSION:-<empty>}"
fi

# The release workflow builds these targets; the archive names are its contract.
# Linux builds are static (musl), so they run on any distribution and in containers.
target='' ext=tar.gz exe=''
case "${RUNNER_OS}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ext=zip exe=.exe ;;
  Windows/ARM64) target=aarch64-pc-windows-msvc ext=zip exe=.exe ;;
  Windows/*) exe=.exe ;;
esac

root="$(dtf_scratch)/install/${version}"
rm -rf -- "$root"
mkdir -p -- "$root/bin"

# Chosen before any download, so a missing tool is an error of its own rather than a
# confusing mismatch.
if command -v sha256sum >/dev/null 2>&1; then
  sha256_of() { sha256sum -- "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256_of() { shasum -a 256 -- "$1" | awk '{print $1}'; }
else
  sha256_of() { return 1; }
fi

# The checksum kept in this action for a version's file; empty when there is none or
# the entry is still a placeholder (anything but 64 hex digits).
expected_sha256() {
  local file=$1 sum
  sum=$(awk -v v="$version" -v f="$file" \
    '$1 !~ /^#/ && $1 == v && $3 == f { print $2; exit }' "$action_dir/checksums.txt" 2>/dev/null || true)
  sum=$(printf '%s' "$sum" | tr '[:upper:]' '[:lower:]')
  if [[ $sum =~ ^[0-9a-f]{64}$ ]]; then
    printf '%s' "$sum"
  fi
}

extract() {
  local archive=$1 into=$2
  case "$archive" in
    *.tar.gz) tar -xzf "$archive" -C "$into" ;;
    *.zip)
      if command -v unzip >/dev/null 2>&1; then
        unzip -q -o "$archive" -d "$into"
      else
        # shellcheck disable=SC2016 # PowerShell expands $env:..., not bash
        DTF_ARCHIVE="$archive" DTF_INTO="$into" powershell -NoProfile -NonInteractive -Command \
          'Expand-Archive -LiteralPath $env:DTF_ARCHIVE -DestinationPath $env:DTF_INTO -Force'
      fi
      ;;
  esac
}

# 0: installed from the release; 1: no verified asset (build from source instead).
# A checksum mismatch does not return: it stops the job. Called as a condition, where
# `set -e` does not apply, so every command that matters says what happens if it fails.
install_release() {
  [[ -n $target ]] || {
    dtf_notice "no dtf release is built for ${RUNNER_OS}/${RUNNER_ARCH:-unknown}; building it from source"
    return 1
  }
  local file="dtf-${target}.${ext}" want
  want=$(expected_sha256 "$file")
  if [[ -z $want ]]; then
    dtf_notice "this action holds no sha256 for dtf ${version} ${file}; building it from source rather than installing unverified bytes"
    return 1
  fi
  local url="https://github.com/dtf/dtf/releases/download/v${version}/${file}"
  local archive="$root/$file"
  echo "downloading ${url}"
  if ! curl --proto '=https' --tlsv1.2 --fail --location --silent --show-error \
    --retry 3 --connect-timeout 20 --max-time 600 --output "$archive" "$url"; then
    rm -f -- "$archive"
    dtf_warning "could not download ${url}; building dtf ${version} from source instead"
    return 1
  fi
  local got
  got=$(sha256_of "$archive") ||
    dtf_die "neither sha256sum nor shasum works here: cannot verify ${file}"
  if [[ $got != "$want" ]]; then
    rm -f -- "$archive"
    dtf_die "sha256 mismatch for ${file} (dtf ${version}): expected ${want}, got ${got}. The download is not the file that was released; refusing to install it."
  fi
  echo "sha256 verified: ${got}  ${file}"
  local stage="$root/unpacked"
  mkdir -p -- "$stage" || dtf_die "cannot create ${stage}"
  extract "$archive" "$stage" || dtf_die "could not unpack ${file}"
  [[ -f "$stage/dtf${exe}" ]] || dtf_die "${file} does not hold dtf${exe} at its top level"
  mv -f -- "$stage/dtf${exe}" "$root/bin/dtf${exe}" || dtf_die "cannot move dtf into ${root}/bin"
  chmod +x -- "$root/bin/dtf${exe}" || dtf_die "cannot make ${root}/bin/dtf${exe} executable"
  rm -rf -- "$stage" "$archive"
  return 0
}

install_cargo() {
  command -v cargo >/dev/null 2>&1 ||
    dtf_die "dtf ${version} has to be built from source here, and cargo is not installed: set up Rust first (for example with dtolnay/rust-toolchain), or use a version this action holds checksums for"
  # The action used from a checkout of the dtf repository itself (`uses: ./actions`,
  # or `dtf/dtf/actions@ref`) builds that checkout: it is the code the ref names.
  local checkout
  checkout=$(cd -- "$action_dir/.." && pwd)
  local -a from
  if [[ -f "$checkout/crates/dtf/Cargo.toml" ]]; then
    from=(--path "$checkout/crates/dtf")
  elif [[ $version == local ]]; then
    dtf_die "version local builds the dtf checkout that holds this action, and there is none at ${checkout}"
  else
    from=(--git https://github.com/dtf/dtf --tag "v${version}" dtf)
  fi
  echo "cargo install --locked --root ${root} ${from[*]}"
  cargo install --locked --root "$root" "${from[@]}" || dtf_die "cargo install of dtf ${version} failed"
  [[ -f "$root/bin/dtf${exe}" ]] || dtf_die "cargo install finished but ${root}/bin/dtf${exe} is missing"
}

source=release
if [[ $version == local ]] || ! install_release; then
  source=cargo
  install_cargo
fi

bin_dir="$root/bin"
# Windows runners want Windows paths in GITHUB_PATH and in outputs other actions read.
if [[ -n $exe ]] && command -v cygpath >/dev/null 2>&1; then
  bin_dir=$(cygpath -w "$bin_dir")
fi
installed=$("$root/bin/dtf${exe}" --version) || dtf_die "the installed dtf does not run: ${root}/bin/dtf${exe}"
echo "installed ${installed} (${source}) in ${bin_dir}"
printf '%s\n' "$bin_dir" >>"$GITHUB_PATH"
if [[ -n $exe ]]; then
  dtf_set_output bin "${bin_dir}\\dtf${exe}"
else
  dtf_set_output bin "${bin_dir}/dtf"
fi
dtf_set_output version "$installed"
dtf_set_output source "$source"
