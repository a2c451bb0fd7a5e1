# lib-env.sh — shared by the operator scripts: reading a .env file, checking
# that a variable is set (never printing its value), and choosing the
# database server a script reaches as a superuser (use_admin_server).
#
# The .env grammar is the one namaskahd reads (extension/core/nk_dotenv.c;
# in prose docs/operations.md, "The env file"), and both readers are tested
# on the same files (test/dotenv/, test/ops/dotenv.sh): [export ]KEY=VALUE
# lines, # comments (in a bare value a '#' after a space or tab), 'single'
# (literal) or "double" quotes (\" \\ \$ \` and \n), CRLF read as LF; the
# last assignment of a key counts; any other line is refused, naming it.

# Reads FILE into the associative array env_file_vars (KEY -> value; the
# last assignment of a key counts). A missing file is empty. Each line that
# is not blank, a comment or an assignment is reported as
# "SCRIPT: FILE line N is not KEY=VALUE"; then env_file_vars is left empty
# and it returns 1.
env_file_parse() { # file
    # C locale: byte-wise matching, and [A-Za-z] only ASCII, as in the C reader
    local LC_ALL=C _ef_file=$1 _ef_line _ef_key _ef_value _ef_rest _ef_c _ef_n=0 _ef_bad=0
    local re_assign='^[[:blank:]]*(export[[:blank:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:blank:]]*=(.*)$'
    local re_single="^'([^']*)'([[:blank:]]*|[[:blank:]]+#.*)\$"
    local re_double='^"((\\.|[^"\\])*)"([[:blank:]]*|[[:blank:]]+#.*)$'
    local re_escape='^([^\\]*)\\(.)(.*)$'
    declare -gA env_file_vars=()
    [ -e "$_ef_file" ] || return 0
    if [ -d "$_ef_file" ] || [ ! -r "$_ef_file" ]; then echo "${0##*/}: cannot read $_ef_file" >&2; return 1; fi
    # read drops NUL bytes without a word; the C reader refuses such a line
    while read -r _ef_n; do
        echo "${0##*/}: $_ef_file line $_ef_n is not KEY=VALUE" >&2
        _ef_bad=1
    done < <(LC_ALL=C grep -naP '\x00' "$_ef_file" 2>/dev/null | cut -d: -f1)
    _ef_n=0
    while IFS= read -r _ef_line || [ -n "$_ef_line" ]; do
        _ef_n=$((_ef_n + 1))
        _ef_line=${_ef_line%$'\r'}
        [[ $_ef_line =~ ^[[:blank:]]*(#.*)?$ ]] && continue
        _ef_key=
        if [[ $_ef_line =~ $re_assign ]]; then
            _ef_key=${BASH_REMATCH[2]} _ef_rest=${BASH_REMATCH[3]}
            _ef_value=${_ef_rest#"${_ef_rest%%[![:blank:]]*}"}
            case $_ef_value in
            \'*)
                if [[ $_ef_value =~ $re_single ]]; then _ef_value=${BASH_REMATCH[1]}; else _ef_key=; fi ;;
            \"*)
                if [[ $_ef_value =~ $re_double ]]; then
                    _ef_rest=${BASH_REMATCH[1]} _ef_value=
                    while [[ $_ef_rest =~ $re_escape ]]; do
                        _ef_value+=${BASH_REMATCH[1]} _ef_c=${BASH_REMATCH[2]} _ef_rest=${BASH_REMATCH[3]}
                        case $_ef_c in
                        n) _ef_value+=$'\n' ;;
                        \"|\\|\$|\`) _ef_value+=$_ef_c ;;
                        *) _ef_value+=\\$_ef_c ;; # kept, as shells and systemd keep it
                        esac
                    done
                    _ef_value+=$_ef_rest
                else
                    _ef_key=
                fi ;;
            *)
                # bare: a '#' after a blank starts a comment; "a#b" is a value
                _ef_value=${_ef_rest%%[[:blank:]]#*}
                _ef_value=${_ef_value#"${_ef_value%%[![:blank:]]*}"}
                _ef_value=${_ef_value%"${_ef_value##*[![:blank:]]}"} ;;
            esac
        fi
        if [ -z "$_ef_key" ]; then
            echo "${0##*/}: $_ef_file line $_ef_n is not KEY=VALUE" >&2
            _ef_bad=1
            continue
        fi
        env_file_vars[$_ef_key]=$_ef_value
    done <"$_ef_file"
    if [ $_ef_bad = 1 ]; then env_file_vars=(); return 1; fi
}

# Exports the assignments of FILE (env_file_parse) whose keys the
# environment does not set: the real environment wins, and of the file the
# last assignment. Returns 1, having named each bad line, when the file has
# one: nothing is exported then.
load_env_file() { # file
    local _ef_k
    env_file_parse "$1" || return 1
    for _ef_k in "${!env_file_vars[@]}"; do
        [ -n "${!_ef_k+x}" ] || export "$_ef_k=${env_file_vars[$_ef_k]}"
    done
}

# The value of KEY in FILE alone (not the environment; empty when absent),
# by the same grammar. Returns 1, having named each bad line, when the file
# has one.
env_file_value() { # file key
    env_file_parse "$1" || return 1
    printf '%s' "${env_file_vars[$2]-}"
}

require_var() { # name
    [ -n "${!1:-}" ] || { echo "${0##*/}: $1 is not set (environment or .env)" >&2; exit 1; }
}

# "host<TAB>port<TAB>database" of a postgresql:// URL (localhost and 5432
# when it names none; the database empty when it names none).
url_parts() { # url
    /usr/bin/python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "localhost", p.port or 5432, u.unquote(p.path.lstrip("/")), sep="\t")' "$1"
}

# Chooses the server an operator script reaches as a superuser, exports the
# libpq environment for it (PGHOST, PGPORT, PGUSER, PGPASSWORD) and says on
# standard error which server and database it is. First that applies wins:
#   1. ADMIN_DATABASE_URL (environment or .env): a superuser's URL;
#   2. PGHOST in the environment: the libpq environment as it is;
#   3. the embedded development cluster of scripts/dev (.run/pg), when it is
#      running and DATABASE_URL, if set, points at it;
#   4. the host and port of DATABASE_URL, as PGUSER (default: your login).
# Sets admin_database to the database to use when the caller has none:
# ADMIN_DATABASE_URL's, else DATABASE_URL's, else PGDATABASE. Returns 1,
# having said why, when there is no server to use.
use_admin_server() { # script-name [database]
    local me=$1 wanted=${2:-} top dev_port url_host= url_port=
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    admin_database=
    if [ -n "${DATABASE_URL:-}" ]; then
        IFS=$'\t' read -r url_host url_port admin_database < <(url_parts "$DATABASE_URL")
    fi
    if [ -n "${ADMIN_DATABASE_URL:-}" ]; then
        eval "$(/usr/bin/python3 - "$ADMIN_DATABASE_URL" <<'PY'
import shlex, sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
if p.scheme not in ("postgres", "postgresql"):
    sys.exit("ADMIN_DATABASE_URL is not a postgresql:// URL")
q = dict(u.parse_qsl(p.query))
host = q.get("host") or p.hostname or ""
for name, value in (("PGHOST", host), ("PGPORT", str(p.port or q.get("port") or "")),
                    ("PGUSER", u.unquote(p.username or "")), ("PGPASSWORD", u.unquote(p.password or "")),
                    ("admin_database", u.unquote(p.path.lstrip("/")))):
    if value:
        print(f"{name}={shlex.quote(value)}" + ("" if name == "admin_database" else f"; export {name}"))
PY
)" || { echo "$me: ADMIN_DATABASE_URL is not a postgresql:// URL" >&2; return 1; }
        echo "$me: using database ${wanted:-$admin_database} on ${PGHOST:-localhost}:${PGPORT:-5432} as ${PGUSER:-$(id -un)} (ADMIN_DATABASE_URL)" >&2
    elif [ -n "${PGHOST:-}" ]; then
        echo "$me: using database ${wanted:-${admin_database:-${PGDATABASE:-}}} on ${PGHOST}:${PGPORT:-5432} (libpq environment)" >&2
    elif dev_port=$(dev_cluster_port "$top/.run/pg") &&
        { [ -z "${DATABASE_URL:-}" ] || points_at_local_port "$url_host" "$url_port" "$dev_port"; }; then
        export PGHOST=$top/.run/pg PGPORT=$dev_port PGUSER=postgres
        echo "$me: using database ${wanted:-${admin_database:-${PGDATABASE:-}}} on the development cluster in .run/pg (port $dev_port)" >&2
    elif [ -n "${DATABASE_URL:-}" ]; then
        export PGHOST=$url_host PGPORT=$url_port
        echo "$me: using database ${wanted:-$admin_database} on $url_host:$url_port (from DATABASE_URL) as ${PGUSER:-$(id -un)}; set ADMIN_DATABASE_URL for another superuser" >&2
    else
        echo "$me: no database server configured: start the development stack (make start), or set ADMIN_DATABASE_URL (or PGHOST, PGPORT, PGUSER)" >&2
        return 1
    fi
    admin_database=${admin_database:-${PGDATABASE:-}}
}

# The port of the embedded cluster in DIR when its postmaster is running.
dev_cluster_port() { # dir
    local pidfile=$1/data/postmaster.pid pid port
    [ -r "$pidfile" ] || return 1
    pid=$(sed -n 1p "$pidfile") port=$(sed -n 4p "$pidfile")
    [[ $pid =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$port"
}

points_at_local_port() { # host port wanted-port
    case $1 in 127.0.0.1 | localhost | ::1) [ "$2" = "$3" ] ;; *) return 1 ;; esac
}

# The namaskahd that judges secrets: $NAMASKAHD_BIN, this checkout's
# frontend/namaskahd, or namaskahd on PATH.
namaskahd_binary() {
    local top
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [ -n "${NAMASKAHD_BIN:-}" ]; then echo "$NAMASKAHD_BIN"
    elif [ -x "$top/frontend/namaskahd" ]; then echo "$top/frontend/namaskahd"
    else command -v namaskahd
    fi
}

# Judges a secret by the one rule the extension applies when it is installed
# (extension/core/nk_secret.h), through namaskahd --check-secret: the value
# goes through a pipe, never a command line. Prints one line (never the
# value); returns 0 acceptable, 1 refused, 2 when it could not judge.
judge_secret() { # NAME VALUE [namaskahd]
    local name=$1 value=$2 bin=${3:-} out rc=0
    [ -n "$bin" ] || bin=$(namaskahd_binary) ||
        { echo "$name not judged: no namaskahd to ask (build it: make)"; return 2; }
    [ -x "$bin" ] || { echo "$name not judged: $bin is not executable (build it: make)"; return 2; }
    out=$(printf '%s' "$value" | "$bin" --check-secret "$name" 2>&1) || rc=$?
    echo "${out#namaskahd: }"
    return "$rc"
}
