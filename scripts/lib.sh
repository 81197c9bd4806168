# Shared by the project's scripts (sourced, not run).

# ensure_packages WHO PKG…: install with apt-get (update first) the Debian packages that are not installed yet.
ensure_packages() {
  local who=$1 missing=() p
  shift
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "$who: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}
