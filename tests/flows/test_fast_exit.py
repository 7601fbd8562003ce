"""The command line's exit: every exit handler runs, the exit code is kept, the teardown is skipped."""

import subprocess
import sys

SCRIPT = """
import atexit, sys
import flows
from flows import fast_exit

class Noisy:
    def __del__(self):
        sys.stderr.write("torn down\\n")

keep = Noisy()
atexit.register(print, "a later handler ran", flush=True)
if sys.argv[1] != "unarmed":
    fast_exit.arm(int(sys.argv[1]))
print("finished", flush=True)
sys.exit(int(sys.argv[1]) if sys.argv[1] != "unarmed" else 0)
"""


def run(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)


def test_armed_the_process_ends_with_its_code_after_every_handler_without_the_teardown():
    for code in (0, 2, 5):
        done = run(str(code))
        assert done.returncode == code
        assert done.stdout.splitlines() == ["finished", "a later handler ran"]
        assert "torn down" not in done.stderr


def test_unarmed_a_library_import_exits_as_python_does():
    done = run("unarmed")
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["finished", "a later handler ran"]
    assert "torn down" in done.stderr  # the interpreter's teardown ran
