# Namaskah — the top-level build.
#
#   make            build the extension (PGXS, extension/) and namaskahd
#   make install    install the extension into the system PostgreSQL 15
#   make run        set up everything and serve on 127.0.0.1:8080 (foreground)
#   make start/stop the same in the background / stop it
#   make test       every test (set-up included); ends with "N passed, N failed"
#   make test-topology  the reference topology's tests (haproxy, namaskahd,
#                   pgbouncer, synchronous standby, failover; docs/deploy.md)
#   make installcheck  pg_regress and isolation against an installed server
#                   (libpq environment; README "make installcheck")
#   make bench      benchmarks; prints figures, exits 0
#   make format     clang-format the C sources (format-check: verify only)
#   make psql       psql on the database in use (ARGS='-c "SELECT 1"')

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
C_SOURCES = $(sort $(wildcard extension/*.c extension/core/*.[ch] frontend/*.[ch] \
	test/unit/*.[ch] test/fuzz/*.c))

.PHONY: all extension frontend install run start stop test test-topology installcheck bench format \
	format-check psql clean bootstrap

all: extension frontend

extension:
	$(MAKE) -C extension PG_CONFIG=$(PG_CONFIG)

frontend:
	$(MAKE) -C frontend

install: extension
	$(SUDO) $(MAKE) -C extension PG_CONFIG=$(PG_CONFIG) install

bootstrap:
	@scripts/bootstrap

run: bootstrap
	@scripts/dev build
	@scripts/dev run

start: bootstrap
	@scripts/dev build
	@scripts/dev start

stop:
	@scripts/dev stop

test: bootstrap
	PG_CONFIG=$(PG_CONFIG) test/run_all

test-topology: bootstrap
	PG_CONFIG=$(PG_CONFIG) test/topology/run

installcheck:
	$(MAKE) -C extension PG_CONFIG=$(PG_CONFIG) installcheck

bench: bootstrap
	$(MAKE) all install
	test/bench/run

format:
	clang-format -i $(C_SOURCES)

format-check:
	clang-format --dry-run --Werror $(C_SOURCES)

psql:
	@scripts/dev psql $(ARGS)

clean:
	$(MAKE) -C extension clean
	-$(MAKE) -C frontend clean
	rm -rf build
