"""The child side of `sandbox.ProcessSandbox`:
`python -m function_app.jobtypes.reading.sandbox_child`.

It imports the job types (so the parsers are loaded before a call arrives), reads one
pickled call from stdin until EOF, runs it (`sandbox.run_request`), writes the pickled
answer to stdout and exits at once. Nothing else may write to stdout: fd 1 is pointed at
stderr first, so a library's stray print cannot corrupt the answer. An empty stdin (the
worker ended before using this spare) ends it quietly.
"""

import os
import sys

import function_app.jobtypes.registry  # noqa: F401 - loads the parsers ahead of the call
from function_app.jobtypes.reading.sandbox import run_request


def main() -> None:
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    request = sys.stdin.buffer.read()
    if not request:
        return
    answer.write(run_request(request))
    answer.flush()
    # Done: skip the interpreter's teardown of every loaded module (tens of milliseconds).
    os._exit(0)


if __name__ == "__main__":
    main()
