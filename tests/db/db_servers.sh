#!/usr/bin/env bash
# Starts (or stops) private PostgreSQL and MariaDB servers for the database probe tests: loopback,
# ephemeral ports, a temporary folder, TLS with a CA made here. Never touches system instances.
#   db_servers.sh start ENV_FILE   writes the connection facts to ENV_FILE (KEY=VALUE lines)
#   db_servers.sh stop ENV_FILE    stops both servers and removes their folder
set -euo pipefail

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PASSWORD=vigie-secret

# PostgreSQL refuses to run as root, and mariadbd drops to --user only as root: as root the
# servers run as the packages' system users, otherwise as the calling user.
if [ "$(id -u)" -eq 0 ]; then
  PG_USER=postgres
  MYSQL_USER=mysql
  as_postgres() { runuser -u postgres -- "$@"; }
else
  PG_USER=$(id -un)
  MYSQL_USER=$(id -un)
  as_postgres() { "$@"; }
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  local env_file=$1
  [ -f "$env_file" ] || return 0
  local DB_DIR
  DB_DIR=$(sed -n 's/^DB_DIR=//p' "$env_file")
  if [ -n "$DB_DIR" ] && [ -d "$DB_DIR" ]; then
    if [ -f "$DB_DIR/pg/data/postmaster.pid" ]; then
      as_postgres "$PG_BIN/pg_ctl" -D "$DB_DIR/pg/data" -m immediate -w stop \
        >/dev/null 2>&1 || true
    fi
    if [ -f "$DB_DIR/mysql/mariadbd.pid" ]; then
      local pid
      pid=$(cat "$DB_DIR/mysql/mariadbd.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$DB_DIR"
  fi
  rm -f "$env_file"
}

make_tls() {
  local dir=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Vigie DB Test CA" \
    -addext basicConstraints=critical,CA:TRUE -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/server.key" \
    -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/san.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/san.ext" -out "$dir/server.crt" 2>/dev/null
}

start_postgres() {
  local dir=$1 port=$2
  mkdir -p "$dir/pg"
  cp "$dir/tls/server.crt" "$dir/tls/server.key" "$dir/pg/"
  chown -R "$PG_USER": "$dir/pg"
  chmod 600 "$dir/pg/server.key"
  printf '%s\n' "$PASSWORD" >"$dir/pg/pwfile"
  chown "$PG_USER": "$dir/pg/pwfile"
  as_postgres "$PG_BIN/initdb" -D "$dir/pg/data" -U postgres --pwfile="$dir/pg/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/pg/initdb.log" 2>&1
  # bench/db_bench measures per-probe overhead without the SCRAM and TLS crypto as well.
  sed -i '1i host all vigie_trust 127.0.0.1/32 trust' "$dir/pg/data/pg_hba.conf"
  as_postgres "$PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w start -o \
    "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c ssl=on \
     -c ssl_cert_file=$dir/pg/server.crt -c ssl_key_file=$dir/pg/server.key \
     -c fsync=off -c shared_buffers=16MB -c max_connections=60" >/dev/null
  as_postgres "$PG_BIN/psql" -q -h "$dir/pg" -p "$port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -c "CREATE ROLE vigie LOGIN PASSWORD '$PASSWORD';" \
    -c "CREATE DATABASE vigie OWNER vigie;" -c "CREATE ROLE vigie_trust LOGIN;" >/dev/null
}

start_mariadb() {
  local dir=$1 port=$2
  mkdir -p "$dir/mysql"
  cp "$dir/tls/server.crt" "$dir/tls/server.key" "$dir/tls/ca.crt" "$dir/mysql/"
  chown -R "$MYSQL_USER": "$dir/mysql"
  mariadb-install-db --no-defaults --user="$MYSQL_USER" --datadir="$dir/mysql/data" --skip-test-db \
    --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
    >"$dir/mysql/install.log" 2>&1
  mariadbd --no-defaults --user="$MYSQL_USER" --datadir="$dir/mysql/data" --socket="$dir/mysql/sock" \
    --port="$port" --bind-address=127.0.0.1 --pid-file="$dir/mysql/mariadbd.pid" \
    --log-error="$dir/mysql/error.log" --skip-name-resolve --skip-log-bin \
    --innodb-buffer-pool-size=16M --innodb-log-file-size=8M \
    --ssl-ca="$dir/mysql/ca.crt" --ssl-cert="$dir/mysql/server.crt" \
    --ssl-key="$dir/mysql/server.key" </dev/null >/dev/null 2>&1 &
  for _ in $(seq 300); do
    if mariadb-admin --no-defaults --socket="$dir/mysql/sock" -u "$(id -un)" ping >/dev/null 2>&1; then
      break
    fi
    sleep 0.1
  done
  mariadb --no-defaults --socket="$dir/mysql/sock" -u "$(id -un)" -e "
    CREATE DATABASE vigie;
    CREATE USER 'vigie'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
    CREATE USER 'vigie'@'localhost' IDENTIFIED BY '$PASSWORD';
    GRANT ALL ON vigie.* TO 'vigie'@'127.0.0.1';
    GRANT ALL ON vigie.* TO 'vigie'@'localhost';
    GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'vigie'@'127.0.0.1';"
}

start() {
  local env_file=$1
  stop "$env_file"
  local dir
  dir=$(mktemp -d /tmp/vigie-db.XXXXXX)
  chmod 755 "$dir"
  # Written first, so a failed start is still cleaned up by stop.
  mkdir -p "$(dirname "$env_file")"
  printf 'DB_DIR=%s\n' "$dir" >"$env_file"
  trap 'stop "$env_file"' ERR
  mkdir -p "$dir/tls"
  make_tls "$dir/tls"
  local pg_port mysql_port
  pg_port=$(free_port)
  start_postgres "$dir" "$pg_port"
  mysql_port=$(free_port)
  start_mariadb "$dir" "$mysql_port"
  cat >>"$env_file" <<END
PG_PORT=$pg_port
PG_SOCKET_DIR=$dir/pg
PG_ADMIN_USER=$PG_USER
MYSQL_PORT=$mysql_port
MYSQL_SOCKET=$dir/mysql/sock
MYSQL_ADMIN_USER=$(id -un)
DB_USER=vigie
DB_PASSWORD=$PASSWORD
DB_NAME=vigie
TLS_CA_FILE=$dir/tls/ca.crt
END
  trap - ERR
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 start|stop ENV_FILE" >&2; exit 2 ;;
esac
