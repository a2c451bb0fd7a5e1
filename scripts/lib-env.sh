# lib-env.sh — shared by the operator scripts: reading a .env file (KEY=VALUE
# lines, # comments, optional quotes; the real environment wins) and checking
# that a variable is set, never printing its value.

load_env_file() { # file
    local file=$1 line key value
    [ -f "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
            { echo "${0##*/}: $file: ignoring a line that is not KEY=VALUE" >&2; continue; }
        key=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        [ -n "${!key+x}" ] || export "$key=$value"
    done <"$file"
}

require_var() { # name
    [ -n "${!1:-}" ] || { echo "${0##*/}: $1 is not set (environment or .env)" >&2; exit 1; }
}
