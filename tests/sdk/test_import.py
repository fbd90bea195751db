"""``import corral`` must stay light: agents import it, and the server stack is not theirs."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_sdk_loads_no_server_stack() -> None:
    code = (
        "import sys, corral\n"
        "corral.Client\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'sqlalchemy', 'alembic', 'uvicorn', 'starlette', 'psycopg'} "
        "or m.startswith(('corral.server', 'corral.core', 'corral.db')))\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
