#!/usr/bin/env bash
# Installs what the VS Code end-to-end suite needs, offline from GitHub (npm and Debian only):
# code-server 4.100.3 (VS Code 1.100.3, the newest line that runs on Node 20) built from npm
# without its postinstall (which would fetch ripgrep from GitHub), and Debian's Chromium for
# puppeteer-core. The result is cached: a second run only checks a stamp and prints the path.
#
#   vscode-client/e2e/install-code-server.sh        # prints the code-server folder on stdout
#
# COMPANION_E2E_CACHE (default ~/.cache/companion-e2e) holds the install.
set -euo pipefail
VERSION=4.100.3
CACHE="${COMPANION_E2E_CACHE:-$HOME/.cache/companion-e2e}"
PREFIX="$CACHE/code-server-$VERSION"
CS="$PREFIX/node_modules/code-server"
STAMP="$PREFIX/.installed"
say() { echo "install-code-server: $*" >&2; }

need_debs=()
for deb in chromium ripgrep libkrb5-dev libsecret-1-dev libxkbfile-dev libx11-dev pkg-config make g++ python3; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || need_debs+=("$deb")
done
if [ "${#need_debs[@]}" -gt 0 ]; then
  say "Debian packages: ${need_debs[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt-get may hold the lock (CI installs packages in parallel steps): wait for it.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need_debs[@]}" >&2
fi

# The native modules are built for one Node: the stamp names it, and another Node rebuilds.
NODE_VERSION="$(node --version)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$NODE_VERSION" ] && [ -f "$CS/out/node/entry.js" ]; then
  echo "$CS"
  exit 0
fi

say "building code-server $VERSION in $PREFIX (native modules compile from source; several minutes)"
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
cd "$PREFIX"
echo '{"name":"companion-e2e-code-server","private":true}' > package.json
nice -n 10 npm install --no-audit --no-fund --ignore-scripts "code-server@$VERSION" >&2
(
  cd "$CS/lib/vscode"
  nice -n 10 npm install --no-audit --no-fund --omit=dev --ignore-scripts >&2
  # An existing bin/ makes @vscode/ripgrep's download step stand aside.
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm_config_yes=true nice -n 10 npm rebuild >&2
  # code-server's postinstall, by hand.
  ln -sfn node_modules node_modules.asar
  ln -sf code-linux.sh bin/remote-cli/code-server
  ln -sf browser-linux.sh bin/helpers/browser.sh
  cd extensions
  nice -n 10 npm install --no-audit --no-fund --omit=dev >&2
)
(cd "$PREFIX" && nice -n 10 npm rebuild argon2 >&2)  # hoisted to the top node_modules
echo "$NODE_VERSION" > "$STAMP"
say "done"
echo "$CS"
