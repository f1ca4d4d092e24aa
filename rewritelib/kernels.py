"""The Jupyter kernel each papermill run gets: one that talks over IPC sockets.

Over TCP, every kernel picks ports, and kernels started side by side can race for the same
ones (papermill #511); ipykernel also prints "Kernel is running over TCP without encryption"
for each, into the output of the notebook cell that runs a sweep. IPC sockets are files
named after the kernel's own connection file in Jupyter's runtime folder: unique per kernel,
local to the machine (as the kernel is), and never in the working directory. Where that
folder sits on a network file system (a cluster's shared home), point JUPYTER_RUNTIME_DIR at
a local disk: Unix sockets need one.
"""

from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class IPCKernelManager(AsyncKernelManager):
    @default("transport")
    def _transport_default(self):
        return "ipc"
