"""dldoctor: diagnose and set up deep-learning machines.

Importing this package must stay cheap: the CLI, the probes and the setup
backends import their heavy dependencies only inside the commands that use them.
"""

from __future__ import annotations

__version__ = "0.1.0"
