"""`dldoctor setup`: plan -> spec -> lock -> install/build -> verify, behind one Protocol.

The plan (what to build, and why) is shared by every backend; each backend
(conda, venv, docker) turns it into files and an environment.
"""

from __future__ import annotations
