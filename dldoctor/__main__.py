"""`python -m dldoctor` runs the same entry point as the `dldoctor` command."""

from __future__ import annotations

from dldoctor.cli import main

if __name__ == "__main__":
    main()
