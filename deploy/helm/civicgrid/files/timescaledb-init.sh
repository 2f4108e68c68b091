#!/bin/bash
# First start of an empty TimescaleDB volume (docker-entrypoint-initdb.d; docker compose and the Helm chart):
# the application role `civicgrid` (no superuser; its password from $CIVICGRID_DB_PASSWORD_FILE), its database,
# and the two extensions the migrations need, created here as superuser (CREATE EXTENSION timescaledb needs it;
# the migrations' own CREATE EXTENSION IF NOT EXISTS then finds them). `civicgrid db migrate` does the rest.
set -eo pipefail   # no -u: the image's entrypoint may source this file
password=$(head -n1 "${CIVICGRID_DB_PASSWORD_FILE:?names the civicgrid role password file}")
[ ${#password} -ge 24 ] || { echo "10-civicgrid.sh: the civicgrid role's password is shorter than 24 characters" >&2; exit 1; }
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v password="$password" <<'SQL'
CREATE ROLE civicgrid LOGIN PASSWORD :'password';
CREATE DATABASE civicgrid OWNER civicgrid;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname civicgrid <<'SQL'
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
echo "10-civicgrid.sh: role and database civicgrid created, with timescaledb and postgis"
