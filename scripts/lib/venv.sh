# Shared by scripts/run and scripts/test: create .venv if missing and install
# wawindow (with the given extras) pinned by requirements/constraints.txt.
# Reinstalls only when pyproject.toml or the constraints changed.
ensure_venv() {
  local extras="$1" python="${PYTHON:-python3}" stamp
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  stamp=".venv/.wawindow-installed${extras:+-$extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
      -c requirements/constraints.txt -e ".${extras:+[$extras]}"
    touch "$stamp"
  fi
}
