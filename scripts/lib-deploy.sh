# lib-deploy.sh — shared by scripts/deploy_production and
# scripts/rollback_deployment: where the service listens, and starting,
# stopping and waiting for namaskahd under systemd or with a PID file.
#
# Layout under PREFIX: releases/ID/namaskahd (+ release.info), current and
# previous (symbolic links to releases), run/namaskahd.pid, log/namaskahd.log.
# In PID-file mode namaskahd starts with a clean environment and
# ENV_FILE=<the env file>, as systemd would start it.

# A value from the env file (the environment wins, as for namaskahd).
# Returns 1, the bad lines named, when the file has a line that is not
# KEY=VALUE.
deploy_env_value() { # env-file KEY
    local v
    v=$(bash -c '. "$1"; load_env_file "$2" || exit 1; printf "%s" "${!3:-}"' "${0##*/}" \
        "$(dirname "${BASH_SOURCE[0]}")/lib-env.sh" "$1" "$2") || return 1
    printf '%s' "$v"
}

deploy_database() { # env-file
    local url
    url=$(deploy_env_value "$1" DATABASE_URL) || return 1
    /usr/bin/python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).path.lstrip("/"))' "$url"
}

deploy_url() { # env-file
    local listen
    listen=$(deploy_env_value "$1" LISTEN) || return 1
    listen=${listen:-127.0.0.1:8080}
    [[ $listen =~ ^[0-9]+$ ]] && listen=127.0.0.1:$listen
    listen=${listen/#0.0.0.0:/127.0.0.1:}
    listen=${listen/#\[::\]:/[::1]:}
    echo "http://$listen"
}

deploy_mode() { # auto|systemd|pidfile
    case $1 in
    systemd|pidfile) echo "$1" ;;
    *) if [ -d /run/systemd/system ] && systemctl cat namaskah.service >/dev/null 2>&1; then
           echo systemd
       else
           echo pidfile
       fi ;;
    esac
}

deploy_pid() { # prefix: the running namaskahd's PID, or nothing
    local f=$1/run/namaskahd.pid pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

deploy_stop() { # prefix mode: stops namaskahd; says whether it was running
    local pid
    if [ "$(deploy_mode "$2")" = systemd ]; then
        if systemctl is-active --quiet namaskah.service; then
            systemctl stop namaskah.service
            echo "namaskah.service stopped"
        else
            echo "namaskah.service was not running"
        fi
        return
    fi
    pid=$(deploy_pid "$1")
    if [ -n "$pid" ]; then
        kill -TERM "$pid"
        for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "namaskahd (PID $pid) stopped"
    else
        echo "namaskahd was not running"
    fi
    rm -f "$1/run/namaskahd.pid"
}

deploy_restart() { # prefix env-file mode
    local prefix=$1 env_file=$2 bin=$1/current/namaskahd pid
    [ -x "$bin" ] || { echo "deploy: no binary $bin" >&2; return 1; }
    if [ "$(deploy_mode "$3")" = systemd ]; then
        install -m 0755 "$bin" /usr/local/bin/namaskahd.new &&
            mv -f /usr/local/bin/namaskahd.new /usr/local/bin/namaskahd &&
            systemctl restart namaskah.service   # Type=notify: returns once READY=1
        return
    fi
    deploy_stop "$prefix" pidfile >/dev/null
    mkdir -p "$prefix/run" "$prefix/log"
    (umask 077 && cd / && exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/ ENV_FILE="$env_file" \
        nohup "$bin" >>"$prefix/log/namaskahd.log" 2>&1 </dev/null) &
    pid=$!
    echo "$pid" >"$prefix/run/namaskahd.pid"
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || { echo "deploy: namaskahd exited at once; see $prefix/log/namaskahd.log" >&2; tail -3 "$prefix/log/namaskahd.log" >&2; return 1; }
}

deploy_wait_ready() { # env-file timeout-seconds
    local url deadline
    url=$(deploy_url "$1")/health/ready
    deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] && return 0
        sleep 0.2
    done
    echo "deploy: $url did not answer 200 within $2 s" >&2
    return 1
}
