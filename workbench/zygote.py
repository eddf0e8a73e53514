"""Kernels forked from one process that has imported the analysis libraries once (Linux, small runs).

A run's two kernels each imported pandas, statsmodels, scipy, matplotlib and the workbench: 1.5 CPU-s each, and
the first kernel imported the models' part again after feature coding, all on a 2-core machine while the stages
ran. Here one process (the *zygote*, ``python -m workbench.zygote``) imports them, step by step as the runner asks,
and forks a kernel whenever asked: the kernel starts with everything already imported (the pages shared, copied on
write) and is ready in a tenth of a second.

The runner talks to it over two pipes, one JSON object per line:

- ``{"op": "import", "modules": [...]}``: import them (an error is reported, not raised: the notebook that needs
  the module meets the same error in its own cell), then ``gc.freeze()``; replies ``{"op": "import", "error": …}``.
- ``{"op": "fork", "argv": [...], "cwd": …, "env": {...}}``: fork a kernel process, which runs
  ``ipykernel_launcher`` with ``argv`` (the kernel spec's command, as jupyter_client formats it) in ``cwd`` with
  ``env``; replies ``{"op": "fork", "pid": …}`` or ``{"op": "fork", "error": …}``. Requests are handled in order, so
  a fork requested after an import is a kernel that has those modules.

Forking is refused (``error``) when the zygote runs any thread besides its main one: a fork copies only the
calling thread, and a lock another thread held would stay locked in the kernel. The zygote reaps its kernels as
they end (the runner sees a gone process as ended; their CPU time counts as the zygote's), and it ends when the
runner closes its request pipe (its kernels, parented to it, then notice their parent is gone and stop).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import traceback


def _reply(out, message: dict) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _become_kernel(req: dict, close_fds: tuple[int, ...]) -> None:
    """In the forked child: become the kernel process jupyter_client would have started. Never returns."""
    code = 1
    try:
        os.setsid()  # its own process group, as jupyter_client starts kernels (signals reach it and its children)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel waits for its own subprocesses
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for fd in close_fds:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # jupyter_client gives a kernel no stdin either (a pipe nobody writes)
        os.close(devnull)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # ipykernel stops when its parent (the zygote) is gone
        argv = list(req["argv"])
        # the kernel spec's command is "python -m ipykernel_launcher -f FILE …": what follows the module is ipykernel's
        args = argv[argv.index("ipykernel_launcher") + 1:] if "ipykernel_launcher" in argv else argv[1:]
        sys.argv = ["ipykernel_launcher", *args]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - the kernel's own last words go where a kernel's stderr goes
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _reap(signum, frame) -> None:
    """Collect every kernel that has ended (its process then no longer exists for the runner's checks)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(requests_fd: int, replies_fd: int) -> None:
    """Answer the runner's requests until it closes the request pipe."""
    requests = os.fdopen(requests_fd, "r", encoding="utf-8")
    replies = os.fdopen(replies_fd, "w", encoding="utf-8")
    signal.signal(signal.SIGCHLD, _reap)  # kernels are reaped as they end (their CPU time counted as ours)
    for line in requests:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        op = req.get("op")
        if op == "import":
            error = ""
            for name in req.get("modules", ()):
                try:
                    __import__(name)
                except Exception as exc:  # noqa: BLE001 - reported; the notebook meets it in its own cell
                    error = error or f"{name}: {type(exc).__name__}: {exc}"
            gc.collect()
            gc.freeze()  # imported objects live as long as the kernels: no collection scans them again
            _reply(replies, {"op": "import", "error": error})
        elif op == "fork":
            others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
            if others:
                _reply(replies, {"op": "fork", "error": f"threads running in the zygote: {others}"})
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _become_kernel(req, (requests.fileno(), replies.fileno()))
            _reply(replies, {"op": "fork", "pid": pid})
        elif op == "quit":
            break


def main() -> None:
    # as ipykernel_launcher does: no module of the current folder shadows a library while they load
    if sys.path and (sys.path[0] == "" or os.path.abspath(sys.path[0]) == os.getcwd()):
        del sys.path[0]
    # the inline backend, as ipykernel sets it, before matplotlib is imported here (it reads MPLBACKEND on import)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    requests_fd = os.dup(0)  # the request pipe moves off stdin: kernels must not inherit it
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    serve(requests_fd, int(sys.argv[1]))
    # nothing to clean up: skip the interpreter's finalization of every imported library (≈ 0.1 s the runner waits)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
