"""Kernels started side by side from the same folder must not share sockets (papermill #511,
#473): each run's client has to reach its own kernel."""

import json
import signal
import subprocess
import sys
import textwrap

import nbformat
from jupyter_client.utils import run_sync

from rewritelib.kernels import IPCKernelManager

RUN = textwrap.dedent("""
    import sys, papermill as pm
    from rewritelib.kernels import IPCKernelManager
    notebook, out, cwd, value = sys.argv[1:]
    pm.execute_notebook(notebook, out, parameters={"value": int(value)}, cwd=cwd,
                        kernel_name="python3", kernel_manager_class=IPCKernelManager,
                        progress_bar=False, start_timeout=30, execution_timeout=30)
""")


def tiny_notebook(path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    params = nbformat.v4.new_code_cell("value = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("import time; time.sleep(1); print('value', value * 2)")]
    nbformat.write(nb, path)


def test_each_kernel_gets_its_own_absolute_sockets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = IPCKernelManager(), IPCKernelManager()
    assert a.transport == "ipc" and a.ip != b.ip
    assert a.ip.startswith("/") and not a.ip.startswith(str(tmp_path))


def test_two_runs_side_by_side_in_one_folder_each_reach_their_kernel(tmp_path):
    tiny_notebook(tmp_path / "nb.ipynb")
    runs = [subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path / "nb.ipynb"),
                              str(tmp_path / f"out{v}.ipynb"), str(tmp_path), str(v)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for v in (1, 2)]
    logs = [p.communicate(timeout=120)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], logs
    assert "Invalid Signature" not in "".join(logs)
    for v in (1, 2):
        out = json.loads((tmp_path / f"out{v}.ipynb").read_text())
        assert "".join(out["cells"][-1]["outputs"][0]["text"]) == f"value {2 * v}\n"
    # no socket files left in the shared working folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "out1.ipynb", "out2.ipynb"]



def test_a_run_kernel_is_shut_down_without_an_interrupt(monkeypatch):
    """jupyter_client sends SIGINT before every shutdown; an idle run kernel then logs
    "KeyboardInterrupt caught in kernel" into the stderr it shares with the sweep's notebook
    (seen in 2 of 4 runs of notebook 03 at tiny: a race, so the signal itself is checked)."""
    sent = []
    real = IPCKernelManager._async_signal_kernel

    async def recording(self, signum):
        sent.append(signum)
        await real(self, signum)

    monkeypatch.setattr(IPCKernelManager, "_async_signal_kernel", recording)
    km = IPCKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)()
    try:
        assert run_sync(km.is_alive)()
        run_sync(km.interrupt_kernel)()  # an interrupt asked for still goes through
        assert sent == [signal.SIGINT]
    finally:
        run_sync(km.shutdown_kernel)()
    assert sent == [signal.SIGINT] and not run_sync(km.is_alive)()
