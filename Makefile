# The README's two commands: `make demo` and `make test`. CI (.ci/run) runs `make test`.
.PHONY: bootstrap demo test lint bench

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	.venv/bin/kgate demo

lint: bootstrap
	.venv/bin/ruff check kgate tests bench
	.venv/bin/mypy
	.venv/bin/python scripts/check_layers.py

test: bootstrap lint
	KGATE_SLOW=1 .venv/bin/python -m pytest -q

bench: bootstrap
	.venv/bin/python -m bench
