"""The Jupyter kernel each papermill run gets: one that talks over IPC sockets.

Over TCP, every kernel picks ports, and kernels started side by side can race for the same
ones (papermill #511); ipykernel also prints "Kernel is running over TCP without encryption"
for each, into the output of the notebook cell that runs a sweep.

IPC sockets are files, and jupyter_client's default names them ``kernel-ipc-1`` ...
``kernel-ipc-5`` *relative to the working directory*: two kernels started from the same
folder (papermill's ``cwd`` is the notebooks folder for every run) bind the same five files,
and one run's client ends up talking to the other run's kernel ("Invalid Signature", then a
hang). So each kernel here gets its own absolute prefix: a fresh name in Jupyter's runtime
folder, never in the working directory. Where that folder sits on a network file system (a
cluster's shared home), point JUPYTER_RUNTIME_DIR at a local disk: Unix sockets need one.
"""

import os
import uuid

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default


def socket_prefix() -> str:
    """A new, absolute, machine-local name for one kernel's five sockets (<prefix>-1 ... -5)."""
    folder = jupyter_runtime_dir()
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"kernel-{uuid.uuid4().hex[:16]}-ipc")


class IPCKernelManager(AsyncKernelManager):
    @default("transport")
    def _transport_default(self):
        return "ipc"

    @default("ip")
    def _ip_default(self):
        return socket_prefix()

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client interrupts every kernel before asking it to shut down, to stop a
        # cell still running. A papermill run's kernel is idle by then, and its ipykernel logs
        # "KeyboardInterrupt caught in kernel" to the stderr it shares with the sweep: into the
        # output of the notebook cell that ran the sweep. Shut down without the interrupt.
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()
