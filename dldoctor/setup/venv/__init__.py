"""The venv backend: wheels (requirements.in and the hashed requirements.lock), backend (uv or pip install)."""
