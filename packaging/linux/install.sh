#!/bin/sh
# Adds the packaged app to the desktop's menu for this user: the desktop entry
# and the icon set, under $XDG_DATA_HOME (~/.local/share).  Nothing else is
# touched; remove the same files to undo.
#   sh packaging/linux/install.sh dist/tessera
set -eu
given=${1:?usage: install.sh PATH/TO/dist/tessera}
[ -x "$given/tessera" ] || { echo "install.sh: $given/tessera: no packaged app there (make package builds it)" >&2; exit 2; }
app=$(cd "$given" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
share=${XDG_DATA_HOME:-$HOME/.local/share}
icons=$(ls -d "$app"/_internal/studio/resources 2>/dev/null || echo "$here/../../studio/resources")
for png in "$icons"/icons/tessera-*.png; do
  size=$(basename "$png" .png | cut -d- -f2)
  mkdir -p "$share/icons/hicolor/${size}x${size}/apps"
  cp "$png" "$share/icons/hicolor/${size}x${size}/apps/tessera.png"
done
mkdir -p "$share/icons/hicolor/scalable/apps" "$share/applications"
cp "$icons/tessera.svg" "$share/icons/hicolor/scalable/apps/tessera.svg"
sed "s|^Exec=tessera |Exec=$app/tessera |" "$here/tessera.desktop" > "$share/applications/tessera.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share/applications" || true
echo "Tessera Studio added to the menu: $share/applications/tessera.desktop"
