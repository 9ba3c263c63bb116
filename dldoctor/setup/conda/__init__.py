"""The conda backend: spec (environment.yml), solve (py-rattler into conda-lock.yml), install, backend."""
